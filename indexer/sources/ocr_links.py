"""The hOCR or ALTO file a canvas links (`seeAlso`, `rendering`), judged by format and profile."""

from __future__ import annotations

import re
from typing import Any

from indexer.model import OcrRef
from indexer.sources.json_values import as_list, resource_id

_XML_FORMATS = ("application/xml", "text/xml", "application/alto+xml")
_ALTO_PROFILE = re.compile(r"(?<![a-z])alto(?![a-z])")


def ocr_link(value: Any) -> OcrRef | None:
    """The first hOCR or ALTO file among `seeAlso`/`rendering` entries, judged by format and profile.

    >>> ocr_link([{"id": "https://x/alto/1", "format": "text/xml",
    ...            "profile": "http://www.loc.gov/standards/alto/v3/alto.xsd"}])
    OcrRef(url='https://x/alto/1', format='alto')
    """
    for link in as_list(value):
        url = resource_id(link)
        if url is None or not isinstance(link, dict):
            continue
        raw_format = link.get("format", link.get("@format"))  # e-codices writes "@format"
        media_type = raw_format.split(";")[0].strip().lower() if isinstance(raw_format, str) else None
        profiles = " ".join(p for p in as_list(link.get("profile")) if isinstance(p, str)).lower()
        if media_type == "text/vnd.hocr+html" or "hocr" in profiles:
            return OcrRef(url=url, format="hocr")
        if media_type == "application/alto+xml" or (
            _ALTO_PROFILE.search(profiles) and (media_type is None or media_type in _XML_FORMATS)
        ):
            return OcrRef(url=url, format="alto")
    return None
