"""Tell hOCR from ALTO and parse either into `Page`s: the one table of OCR formats.

A new format (PAGE XML, MiniOCR) is one module with `parse` and `parse_pages`, one
entry in `FORMATS` and one marker list in `_MARKERS`; nothing else changes.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import NamedTuple

from ocr import alto, hocr
from ocr.errors import UnknownOcrFormat
from ocr.model import Page

#: How many leading bytes `detect_format` needs; more is fine, it looks at these only.
SNIFF_BYTES = 16384


class OcrFormat(NamedTuple):
    """The two entry points of one format's parser."""

    parse: Callable[[bytes, str], Page]
    parse_pages: Callable[[bytes, str], list[Page]]


FORMATS: dict[str, OcrFormat] = {
    "hocr": OcrFormat(hocr.parse, hocr.parse_pages),
    "alto": OcrFormat(alto.parse, alto.parse_pages),
}

# Like solr-ocrhighlighting's `OcrFormat.hasFormat`: a format is recognised by a marker in the
# file's head. ALTO is asked first; its markers never occur in hOCR, while an ALTO file could
# quote hOCR class names in free-text metadata.
_MARKERS: dict[str, tuple[str, ...]] = {
    "alto": ("<alto", ":alto", "<TextBlock", ":TextBlock", "<TextLine", ":TextLine"),
    "hocr": ("ocr_page", "ocrx_word", "ocr_line", "ocrx_line", "ocr_carea", "ocrx_block", "ocr_par"),
}


def detect_format(head: bytes) -> str:
    """'hocr' or 'alto', from the first bytes of a file; raises `UnknownOcrFormat` otherwise.

    >>> detect_format(b'<?xml version="1.0"?><alto xmlns="http://www.loc.gov/standards/alto/ns-v3#">')
    'alto'
    >>> detect_format(b"<div class='ocr_page' title='bbox 0 0 10 10'>")
    'hocr'
    """
    text = _decode_head(head[:SNIFF_BYTES])
    for name, markers in _MARKERS.items():
        if any(marker in text for marker in markers):
            return name
    raise UnknownOcrFormat()


def _decode_head(head: bytes) -> str:
    """The head as text: UTF-16 when it starts with that BOM, else UTF-8 (markers are ASCII)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace")


def _format_for(data: bytes, format: str | None, source: str) -> OcrFormat:
    """The parser pair for a named format, or the sniffed one when `format` is None."""
    name = format.lower() if format is not None else None
    if name is None:
        try:
            name = detect_format(data[:SNIFF_BYTES])
        except UnknownOcrFormat:
            raise UnknownOcrFormat(source) from None
    parser = FORMATS.get(name)
    if parser is None:
        raise UnknownOcrFormat(source, format)
    return parser


def parse_ocr(data: bytes, format: str | None = None, source: str = "") -> Page:
    """The first page of an hOCR or ALTO file, its format sniffed unless given.

    `source` names the file in error messages. Raises `UnknownOcrFormat` or `MalformedOcr`.

    >>> page = parse_ocr(b"<span class='ocr_line' title='bbox 0 0 50 10'>Hello world</span>")
    >>> [word.text for word in page.words()], page.format
    (['Hello', 'world'], 'hocr')
    """
    return _format_for(data, format, source).parse(data, source)


def parse_ocr_pages(data: bytes, format: str | None = None, source: str = "") -> list[Page]:
    """Every page of an hOCR or ALTO file, in order; a book in one hOCR file gives one per page."""
    return _format_for(data, format, source).parse_pages(data, source)
