"""Presentation 2.1 Manifest JSON -> Book: the first sequence's canvases, images and OCR links.

`otherContent` is not fetched: it points to annotation lists (comments or
transcriptions), not to hOCR or ALTO files.
"""

from __future__ import annotations

import logging
from typing import Any

from indexer.errors import SourceError
from indexer.model import Book, Canvas, OcrRef
from indexer.sources.canvases import canvas_size, log_skipped, skipped_error
from indexer.sources.image_services import image_ref
from indexer.sources.json_values import JsonDict, as_list, resource_id, resource_type
from indexer.sources.labels import book_language, label_text
from indexer.sources.ocr_links import ocr_link

__all__ = ["read_manifest_v2"]

log = logging.getLogger(__name__)


def read_manifest_v2(data: JsonDict, location: str, book_id: str) -> Book:
    """A Book from a P2.1 Manifest; canvases without a size are skipped with a logged warning.

    A canvas without an image is kept with `image=None` (the pipeline reports it).
    Raises SourceError when there is no sequence or no canvas is left.
    Example: `read_manifest_v2(json.loads(path.read_bytes()), str(path), "stanford")`.
    """
    manifest_id = resource_id(data) or location
    # P2.1 §5.1: the first sequence is embedded and is the default order; others are references.
    sequences = [s for s in as_list(data.get("sequences")) if isinstance(s, dict)]
    raw_canvases = as_list(sequences[0].get("canvases")) if sequences else []
    if not raw_canvases:
        what = "its first sequence lists none" if sequences else "it has no sequences"
        raise SourceError(f"manifest {location} has no canvases ({what})")
    canvases: list[Canvas] = []
    skipped: list[str] = []
    for position, item in enumerate(raw_canvases):
        where = f"sequences[0].canvases[{position}]"
        canvas_id = resource_id(item)
        if not isinstance(item, dict) or canvas_id is None:
            skipped.append(f"{where} is not a canvas with an @id")
            continue
        annotation, resource = _painted_image(item)
        size = canvas_size(item, resource)
        if size is None:
            skipped.append(f"{where} ({canvas_id}) has no width/height, nor has its image")
            continue
        canvases.append(
            Canvas(
                id=canvas_id,
                index=position,  # the manifest's own position, gaps and all
                label=label_text(item.get("label")) or f"p. {position + 1}",
                width=size[0],
                height=size[1],
                image=image_ref(resource, canvas=item) if resource is not None else None,
                ocr=_ocr(item, annotation, resource),
            )
        )
    log_skipped(log, location, skipped)
    if not canvases:
        raise skipped_error(location, skipped)
    return Book(
        id=book_id,
        label=label_text(data.get("label")) or book_id,
        manifest_id=manifest_id,
        version=2,
        canvases=tuple(canvases),
        source=location,
        manifest=data,
        language=book_language(data),
    )


def _painted_image(canvas: JsonDict) -> tuple[JsonDict | None, JsonDict | None]:
    """(annotation, image resource) of the first painting annotation in the canvas's `images`."""
    for annotation in as_list(canvas.get("images")):
        if not isinstance(annotation, dict):
            continue
        # P2.1 §5.4: image annotations have motivation sc:painting; missing is read as painting.
        motivations = [m for m in as_list(annotation.get("motivation")) if isinstance(m, str)]
        if motivations and "sc:painting" not in motivations and "painting" not in motivations:
            continue
        image = _image_resource(annotation.get("resource"))
        if image is not None:
            return annotation, image
    return None, None


def _image_resource(resource: Any, depth: int = 0) -> JsonDict | None:
    """The image a resource stands for: itself, an oa:Choice's default, an oa:SpecificResource's full."""
    if not isinstance(resource, dict) or depth > 4:
        return None
    kind = resource_type(resource)
    if kind == "oa:Choice":
        # P2.1 §6.3 (choice of alternative resources): `default` is shown first; "rdf:nil" means none.
        for option in [resource.get("default"), *as_list(resource.get("item"))]:
            image = _image_resource(option, depth + 1)
            if image is not None:
                return image
        return None
    if kind == "oa:SpecificResource":
        # P2.1 §6.1 (segments): the image is in `full`, the selector picks a region of it.
        return _image_resource(resource.get("full"), depth + 1)
    media_type = resource.get("format")
    if kind in ("dctypes:Image", "Image") or (kind is None and resource_id(resource) is not None):
        return resource
    if isinstance(media_type, str) and media_type.startswith("image/"):
        return resource
    return None


def _ocr(canvas: JsonDict, annotation: JsonDict | None, resource: JsonDict | None) -> OcrRef | None:
    """hOCR/ALTO that the canvas, its image annotation or image resource links in seeAlso/rendering."""
    # P2.1 §3.4: seeAlso is a machine-readable description; hOCR/ALTO are told apart by format/profile.
    for holder in (canvas, annotation, resource):
        if holder is not None:
            found = ocr_link(holder.get("seeAlso")) or ocr_link(holder.get("rendering"))
            if found is not None:
                return found
    return None
