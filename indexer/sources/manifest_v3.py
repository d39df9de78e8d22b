"""Presentation 3.0 Manifest JSON -> Book: canvases, their painted image and linked OCR.

Only reads the JSON it is given; referenced Annotation Pages are not fetched
(painting pages are embedded in practice, and OCR annotation pages are text,
which the pipeline does not take from here).
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

__all__ = ["read_manifest_v3"]

log = logging.getLogger(__name__)


def read_manifest_v3(data: JsonDict, location: str, book_id: str) -> Book:
    """A Book from a P3 Manifest; canvases without a size are skipped with a logged warning.

    A canvas without an image is kept with `image=None` (the pipeline reports it).
    Raises SourceError when no canvas is left.
    Example: `read_manifest_v3(json.loads(path.read_bytes()), str(path), "fish")`.
    """
    manifest_id = resource_id(data) or location
    services = as_list(data.get("services"))  # P3 §3.3.1 services, shared service descriptions
    items = as_list(data.get("items"))
    if not items:
        raise SourceError(f"manifest {location} has no canvases (its items are empty)")
    canvases: list[Canvas] = []
    skipped: list[str] = []
    for position, item in enumerate(items):
        where = f"items[{position}]"
        canvas_id = resource_id(item)
        if not isinstance(item, dict) or resource_type(item) != "Canvas" or canvas_id is None:
            skipped.append(f"{where} is not a Canvas with an id")
            continue
        annotation, body = _painted_image(item)
        size = canvas_size(item, body)
        if size is None:
            skipped.append(f"{where} ({canvas_id}) has no width/height, nor has its image")
            continue
        canvases.append(
            Canvas(
                id=canvas_id,
                # The manifest's own position, so it matches what a viewer shows even after skips.
                index=position,
                label=label_text(item.get("label")) or f"p. {position + 1}",
                width=size[0],
                height=size[1],
                image=image_ref(body, services, item) if body is not None else None,
                ocr=_ocr(item, annotation, body),
            )
        )
    log_skipped(log, location, skipped)
    if not canvases:
        raise skipped_error(location, skipped)
    return Book(
        id=book_id,
        label=label_text(data.get("label")) or book_id,
        manifest_id=manifest_id,
        version=3,
        canvases=tuple(canvases),
        source=location,
        manifest=data,
        language=book_language(data),
    )


def _motivations(annotation: JsonDict) -> list[str]:
    return [m for m in as_list(annotation.get("motivation")) if isinstance(m, str)]


def _painted_image(canvas: JsonDict) -> tuple[JsonDict | None, JsonDict | None]:
    """(annotation, image body) of the first painting annotation that paints an image."""
    # P3 §5.3: painting annotations live in AnnotationPages in the canvas's items.
    for page in as_list(canvas.get("items")):
        if not isinstance(page, dict):
            continue
        for annotation in as_list(page.get("items")):
            if not isinstance(annotation, dict):
                continue
            motivations = _motivations(annotation)
            # Only painting belongs in items (P3 §5.3); a missing motivation is read as painting.
            if motivations and "painting" not in motivations:
                continue
            for body in as_list(annotation.get("body")):
                image = _image_body(body)
                if image is not None:
                    return annotation, image
    return None, None


def _image_body(body: Any, depth: int = 0) -> JsonDict | None:
    """The Image a body stands for: itself, a Choice's first image, a SpecificResource's source."""
    if not isinstance(body, dict) or depth > 4:
        return None
    kind = resource_type(body)
    if kind == "Choice":
        # P3 §5.6 / Web Annotation §3.2.7: the first item of a Choice is the default.
        for item in as_list(body.get("items")):
            image = _image_body(item, depth + 1)
            if image is not None:
                return image
        return None
    if kind == "SpecificResource":
        source = body.get("source")
        if isinstance(source, str):
            # A bare source URI: the SpecificResource carries what we know of it.
            source = {"id": source, "type": "Image", **{k: v for k, v in body.items() if k in _CARRIED}}
        return _image_body(source, depth + 1)
    media_type = body.get("format")
    if kind == "Image" or (kind is None and isinstance(media_type, str) and media_type.startswith("image/")):
        return body
    return None


_CARRIED = ("service", "width", "height", "format")


def _ocr(canvas: JsonDict, annotation: JsonDict | None, body: JsonDict | None) -> OcrRef | None:
    """hOCR/ALTO linked from the canvas, its painting annotation or image, or an OCR supplementing annotation."""
    # Wellcome puts ALTO in the canvas's seeAlso, cookbook 0068 in its rendering (P3 §3.3.1).
    for holder in (canvas, annotation, body):
        if holder is None:
            continue
        found = ocr_link(holder.get("seeAlso")) or ocr_link(holder.get("rendering"))
        if found is not None:
            return found
    # P3 §5.3: text derived from the canvas can also be a supplementing annotation
    # whose body is the hOCR/ALTO file; only embedded pages are looked at.
    for page in as_list(canvas.get("annotations")):
        if not isinstance(page, dict):
            continue
        for item in as_list(page.get("items")):
            if isinstance(item, dict) and "supplementing" in _motivations(item):
                found = ocr_link(item.get("body"))
                if found is not None:
                    return found
    return None
