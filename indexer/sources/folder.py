"""A plain folder of page scans -> Book, with a Presentation 3.0 manifest written for it.

One canvas per image file, in natural file-name order. Every URL in the manifest
starts with BASE_URL_MARKER; the server swaps in its public URL when serving it,
and serves the images from `Book.images` through its own Image API endpoint.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
from pathlib import Path
from typing import Any

from indexer.errors import SourceError
from indexer.image_header import UnreadableImage, pixel_size
from indexer.model import BASE_URL_MARKER, Book, Canvas, ImageRef
from indexer.sources.book_ids import slug, validate_book_id
from indexer.sources.json_values import JsonDict, as_list
from ocr.languages import tesseract_lang

__all__ = ["IMAGE_SUFFIXES", "natural_key", "read_folder"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".jp2", ".webp"})
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
# P3 §3.3.1 (rights): the value must be a Creative Commons or RightsStatements.org URI.
_RIGHTS_URI = re.compile(r"^https?://(creativecommons\.org/(licenses|publicdomain)/|rightsstatements\.org/vocab/)\S*$")


def natural_key(name: str) -> list[int | str]:
    """Sort key that orders digits by value: 'page2' before 'page10', '0002' before '0010'."""
    # re.split with a group alternates text and digits, so items at the same
    # position always have the same type and the lists compare cleanly.
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name)]


def read_folder(path: Path, book_id: str | None = None) -> Book:
    """A Book with one canvas per image in `path` (not its subfolders); `book_id` defaults to the folder name.

    `book.json` in the folder, if any, gives the title, language and licence.
    Unreadable images are skipped with a logged warning; SourceError when none is left.
    Example: `read_folder(Path("scans/harper_1908"))` -> Book(id="harper_1908", ...).
    """
    if not path.is_dir():
        raise SourceError(f"{path}: not a folder")
    book = validate_book_id(book_id) if book_id else slug(str(path))
    info = _book_info(path)
    files = sorted(
        (f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")),
        key=lambda f: (natural_key(f.name), f.name),
    )
    files = [f for f in files if f.is_file()]
    if not files:
        raise SourceError(f"folder {path} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")

    base = f"{BASE_URL_MARKER}/iiif"
    canvases: list[Canvas] = []
    items: list[JsonDict] = []
    images: dict[str, str] = {}
    for file in files:
        size = _pixel_size(file)
        if size is None:
            continue
        width, height = size
        number = len(canvases) + 1
        identifier = _identifier(book, file, images)
        images[identifier] = str(file.resolve())
        canvas_id = f"{base}/{book}/canvas/p{number}"
        service = f"{base}/image/3/{identifier}"
        items.append(_canvas_json(canvas_id, number, width, height, service))
        canvases.append(
            Canvas(
                id=canvas_id,
                index=number - 1,
                label=f"p. {number}",
                width=width,
                height=height,
                # The pipeline reads the file itself (a path comes first); the service, as the
                # manifest declares it, is for viewers and the Collection's thumbnails (#13).
                image=ImageRef(
                    path=str(file.resolve()),
                    service=service,
                    service_version=3,
                    service_profile="level1",
                    width=width,
                    height=height,
                    format=mimetypes.guess_type(file.name)[0],
                ),
            )
        )
    if not canvases:
        raise SourceError(f"folder {path} has no readable images (see the warnings)")

    raw_title = info.get("title")
    title = raw_title.strip() if isinstance(raw_title, str) and raw_title.strip() else path.name
    languages = _languages(info.get("language"))
    manifest: JsonDict = {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{base}/{book}/manifest",
        "type": "Manifest",
        # P3 §4.4: the label's language key is a BCP 47 tag, "none" when unknown.
        "label": {languages[0] if languages else "none": [title]},
        **_rights_properties(info),
        "items": items,
    }
    return Book(
        id=book,
        label=title,
        manifest_id=manifest["id"],
        version=3,
        canvases=tuple(canvases),
        source=str(path.resolve()),
        manifest=manifest,
        language=tesseract_lang(languages),
        images=images,
    )


def _canvas_json(canvas_id: str, number: int, width: int, height: int, service: str) -> JsonDict:
    """One P3 canvas with a painting annotation of the image, served as level-1 Image API 3.0."""
    page_id = f"{canvas_id}/painting"
    return {
        "id": canvas_id,
        "type": "Canvas",
        "label": {"none": [f"p. {number}"]},
        # P3 §5.3 / P2.1 §5.3: the image's pixel size is the simplest canvas size.
        "width": width,
        "height": height,
        "items": [
            {
                "id": page_id,
                "type": "AnnotationPage",
                "items": [
                    {
                        "id": f"{page_id}/image",
                        "type": "Annotation",
                        "motivation": "painting",
                        "body": {
                            # Image API 3.0 §4: full/max/0/default.jpg is what level 1 must serve.
                            "id": f"{service}/full/max/0/default.jpg",
                            "type": "Image",
                            "format": "image/jpeg",
                            "width": width,
                            "height": height,
                            "service": [{"id": service, "type": "ImageService3", "profile": "level1"}],
                        },
                        "target": canvas_id,
                    }
                ],
            }
        ],
    }


def _identifier(book: str, file: Path, taken: dict[str, str]) -> str:
    """Image API identifier `{book}~{stem}`: no slashes, unique within the book."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", file.stem).strip("-") or "image"
    identifier = f"{book}~{stem}"
    if identifier in taken:  # 0001.png beside 0001.jpg
        identifier = f"{book}~{re.sub(r'[^A-Za-z0-9._-]+', '-', file.name).strip('-')}"
    suffix = 2
    unique = identifier
    while unique in taken:
        unique = f"{identifier}-{suffix}"
        suffix += 1
    return unique


def _pixel_size(file: Path) -> tuple[int, int] | None:
    """Width and height in pixels from the file header, or None (logged) for a file that is no image."""
    try:
        return pixel_size(file)
    except UnreadableImage as exc:
        log.warning("%s: not a readable image (%s); skipped", file, exc)
        return None


def _book_info(path: Path) -> dict[str, Any]:
    """The folder's book.json (title, language, licence), or {} when there is none."""
    info_file = path / "book.json"
    if not info_file.is_file():
        return {}
    try:
        info = json.loads(info_file.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{info_file}: not readable JSON ({exc})") from exc
    if not isinstance(info, dict):
        raise SourceError(f"{info_file}: expected a JSON object, found a {type(info).__name__}")
    return info


def _languages(value: Any) -> list[str]:
    """BCP 47 tags from book.json's `language`: "en", ["de", "la"] or "deu+lat"."""
    tags: list[str] = []
    for item in as_list(value):
        if isinstance(item, str):
            tags.extend(t for t in re.split(r"[+,;\s]+", item) if _LANGUAGE_TAG.match(t))
    return tags


def _rights_properties(info: dict[str, Any]) -> JsonDict:
    """`requiredStatement` and `rights` (P3 §3.1, §3.3.1 rights) from book.json's attribution and licence."""
    properties: JsonDict = {}
    licence = next((info[k] for k in ("rights", "license", "licence") if isinstance(info.get(k), str)), None)
    attribution = info.get("attribution")
    if isinstance(attribution, str) and attribution.strip():
        properties["requiredStatement"] = {"label": {"en": ["Attribution"]}, "value": {"none": [attribution]}}
    elif licence and licence.strip():
        properties["requiredStatement"] = {"label": {"en": ["License"]}, "value": {"none": [licence]}}
    if licence and _RIGHTS_URI.match(licence.strip()):
        # The registered rights URIs are http://, and the P3 JSON schema checks for that.
        properties["rights"] = "http://" + licence.strip().split("://", 1)[1]
    return properties
