"""What a source becomes before indexing: Book, Canvas, ImageRef, OcrRef.

Frozen dataclasses built by `indexer/sources/`; the pipeline, the store and the
service read them. Positions here are canvas units unless a name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# Folder sources have no public URL of their own: the manifests written for them
# start every URL with this marker, and the server puts its public URL in its place
# when it serves them, so a book indexed once works behind any host name.
BASE_URL_MARKER = "urn:iiif-search:base"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Where a canvas's painting image comes from, best source first.

    `service` is the IIIF Image API base URI (no trailing /info.json) and
    `service_version` 1, 2 or 3; `url` a plain image URL; `path` a local file
    (folder sources). At least one of the three is set.
    """

    url: str | None = None
    service: str | None = None
    service_version: int | None = None
    service_profile: str | None = None  # e.g. "level1" or ".../level2.json"
    path: str | None = None
    width: int | None = None  # pixels of the full image, when the manifest says
    height: int | None = None
    format: str | None = None
    # The object's width in inches (IIIF Physical Dimensions service), when the manifest says: the
    # size asked for OCR is derived from it (indexer/image_size.py, #21).
    physical_width: float | None = None

    def public_fields(self) -> dict[str, Any]:
        """The fields that are set, without the local `path`: what a server may show of it.

        >>> ImageRef(service="https://img/x", service_version=3, path="/scans/1.png").public_fields()
        {'service': 'https://img/x', 'service_version': 3}
        """
        # Not `physical_width` either: it only sizes OCR, and BookRecord keeps what it kept before #21.
        fields = {name: getattr(self, name) for name in self.__slots__ if name not in ("path", "physical_width")}
        return {name: value for name, value in fields.items() if value is not None}

    def service_fields(self) -> dict[str, Any]:
        """The fields that are set of its Image API service and pixel size: what a region of it needs.

        What a page keeps of its image (#20). Not `url` nor `format`: a folder book's
        canvas reads its file (a PNG) while its manifest declares the served JPEG, and
        these fields are the same either way.

        >>> ImageRef(url="https://img/x.jpg", service="https://img/x", service_version=2, width=9).service_fields()
        {'service': 'https://img/x', 'service_version': 2, 'width': 9}
        """
        fields = {name: getattr(self, name) for name in _SERVICE_FIELDS}
        return {name: value for name, value in fields.items() if value is not None}


#: The ImageRef fields of `service_fields`, in the order they are stored.
_SERVICE_FIELDS = ("service", "service_version", "service_profile", "width", "height")


@dataclass(frozen=True, slots=True)
class OcrRef:
    """hOCR or ALTO that the manifest already links for a canvas."""

    url: str
    format: Literal["hocr", "alto"]


@dataclass(frozen=True, slots=True)
class Canvas:
    """One IIIF Canvas: `index` is its 0-based position in the manifest's order."""

    id: str
    index: int
    label: str
    width: int
    height: int
    image: ImageRef | None
    ocr: OcrRef | None = None


@dataclass(frozen=True, slots=True)
class Book:
    """One manifest, ready to index.

    `id` is the book id used in our URLs (`--id`, or a stable slug of the source);
    `manifest_id` is the manifest's own URI. `manifest` is the JSON as read (for a
    folder, the Presentation 3.0 manifest we wrote), served back with our search
    services added. `images` maps Image API identifiers to local files (folder
    sources) for the embedded image endpoint.
    """

    id: str
    label: str
    manifest_id: str
    version: Literal[2, 3]
    canvases: tuple[Canvas, ...]
    source: str
    manifest: dict[str, Any] = field(repr=False, hash=False, compare=False)
    language: str | None = None  # Tesseract language name(s) from the manifest ("eng", "deu+lat"), if any
    images: dict[str, str] = field(default_factory=dict, repr=False, hash=False, compare=False)
