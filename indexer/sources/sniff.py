"""Whether JSON is a IIIF Manifest or Collection, and of which Presentation version."""

from __future__ import annotations

import re
from typing import Any, Literal

from indexer.errors import SourceError
from indexer.sources.json_values import as_list

Kind = Literal["manifest", "collection"]
_PRESENTATION_CONTEXT = re.compile(r"iiif\.io/api/presentation/(\d+)")


def sniff(data: Any, location: str) -> tuple[Kind, Literal[2, 3]]:
    """Whether JSON is a Manifest or a Collection, and of which Presentation version.

    Raises SourceError that says what was found instead.
    """
    if not isinstance(data, dict):
        raise SourceError(f"{location}: JSON but not a IIIF Manifest or Collection: a {type(data).__name__}")
    contexts = " ".join(c for c in as_list(data.get("@context")) if isinstance(c, str))
    # A context naming only another Presentation version (1, or a future 4) is not read as
    # 3.0 by default: its shape may differ in ways that would index the wrong things.
    versions = {int(v) for v in _PRESENTATION_CONTEXT.findall(contexts)}
    if versions and not versions & {2, 3}:
        raise SourceError(
            f"{location}: IIIF Presentation {', '.join(map(str, sorted(versions)))} is not supported "
            "(only 2.x and 3.0, by their @context)"
        )
    if "type" in data:
        key, found = "type", data["type"]
    else:
        key, found = "@type", data.get("@type")
    if found in ("sc:Manifest", "sc:Collection") or (
        found in ("Manifest", "Collection") and "presentation/2" in contexts
    ):
        return ("manifest" if found.endswith("Manifest") else "collection"), 2
    if found in ("Manifest", "Collection"):
        return ("manifest" if found == "Manifest" else "collection"), 3
    what = f"{key} {found!r}" if found is not None else "no type or @type"
    raise SourceError(f"{location}: JSON but not a IIIF Manifest or Collection: {what}")
