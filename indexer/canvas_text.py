"""page_for(canvas) -> the OCR Page of one canvas: linked hOCR/ALTO if any, else Tesseract.

Tesseract's result is cached by a key made of the image's digest and the OCR
settings only, so the OCR of a canvas is a pure function of its inputs: a re-run,
an interrupted run, or another machine sharing the cache never OCRs the same
image twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from indexer.errors import CanvasFailed, FetchError
from indexer.fetch import Fetched, Fetcher
from indexer.image_header import UnreadableImage, pixel_size
from indexer.image_size import ocr_width_of, size_url
from indexer.model import Canvas, ImageRef
from ocr.cache import OcrCache, key_for
from ocr.engine import line_heights, ocr_page
from ocr.formats import parse_ocr
from ocr.model import OcrSettings, Page
from ocr.resolution import chosen_width, look_size

OcrMode = Literal["auto", "tesseract", "existing"]
Origin = Literal["ocr", "cache", "existing"]

MAX_IMAGE_BYTES = 100 * 1024 * 1024
MAX_OCR_FILE_BYTES = 50 * 1024 * 1024
# Leptonica would try to allocate a decompression bomb whole; refuse it before Tesseract.
MAX_IMAGE_PIXELS = 200_000_000

_IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
    b"\x00\x00\x00\x0cjP  ",  # JPEG 2000
    b"\xff\x4f\xff\x51",  # JPEG 2000 codestream
    b"GIF8",
    b"BM",
)


@dataclass(frozen=True, slots=True)
class CanvasText:
    page: Page
    origin: Origin


def image_url(image: ImageRef, ocr_width: int) -> str | None:
    """The URL to fetch for OCR: a IIIF size near `ocr_width` pixels wide, else the plain URL.

    `w,` is level 1 in both Image API 2.1 and 3.0; `max`/`full` when the image is
    no wider than asked, so we never ask a level-1 server to upscale. Where the
    manifest gives the object's physical size, the width for OCR_PIXELS_PER_INCH
    instead (indexer/image_size.py).
    """
    if image.service:
        return size_url(image, ocr_width_of(image, ocr_width) or ocr_width)
    return image.url


def looks_like_image(data: bytes) -> bool:
    """True for the image formats Tesseract (Leptonica) reads, by magic bytes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return any(data.startswith(magic) for magic in _IMAGE_MAGIC)


def check_pixels(data: bytes, source: str) -> None:
    """Refuse (CanvasFailed) images whose header promises more pixels than MAX_IMAGE_PIXELS."""
    try:
        width, height = pixel_size(data)
    except UnreadableImage as exc:
        raise CanvasFailed(f"{source}: not a readable image ({exc})") from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise CanvasFailed(f"{source}: {width}x{height} pixels is over the {MAX_IMAGE_PIXELS:,} pixel limit")
    if width < 2 or height < 2:
        raise CanvasFailed(f"{source}: {width}x{height} pixels is too small to OCR")


def _fetch(fetcher: Fetcher, url: str, max_bytes: int, remote_only: bool) -> Fetched:
    """Bytes of a URL that a manifest names; from a remote manifest, http(s) only.

    A manifest fetched from the web must not make us read this machine's files
    (`file:///etc/...` as an image or OCR link) and publish their text.
    """
    if remote_only and not url.lower().startswith(("http://", "https://")):
        raise CanvasFailed(f"{url}: a remote manifest may only link http(s) resources")
    try:
        return fetcher.get(url, max_bytes=max_bytes)
    except FetchError as exc:
        raise CanvasFailed(str(exc)) from exc


def read_image(image: ImageRef, fetcher: Fetcher, ocr_width: int, remote_only: bool = False) -> tuple[bytes, str]:
    """The bytes Tesseract is given for an image, and where they came from (a path or URL, for messages)."""
    if image.path:
        path = Path(image.path)
        try:
            return path.read_bytes(), str(path)
        except OSError as exc:
            raise CanvasFailed(f"{path}: {exc.strerror or exc}") from exc
    url = image_url(image, ocr_width)
    if url is None:
        raise CanvasFailed("the canvas has no image URL")
    return _fetch_image(fetcher, url, remote_only), url


def read_looked_image(
    image: ImageRef, fetcher: Fetcher, ocr_width: int, settings: OcrSettings, remote_only: bool = False
) -> tuple[bytes, str] | None:
    """The image at the width a first look chose (`settings.text_height`, #21), both asked of its service.

    A thumbnail of the width the first look takes (ocr/resolution.py `look_size`), its text
    lines measured by Tesseract's layout analysis, then the page at the width that brings them
    to `text_height` pixels: two small downloads instead of the full size scaled here. None
    where the service's sizes are not ours to choose (indexer/image_size.py): read it as before.
    """
    base = ocr_width_of(image, ocr_width)
    if base is None or not settings.text_height:
        return None
    assert image.width is not None and image.height is not None
    look_width, _ = look_size(base, round(image.height * base / image.width))
    look_url = size_url(image, look_width)
    thumbnail = _fetch_image(fetcher, look_url, remote_only)
    check_pixels(thumbnail, look_url)
    width = chosen_width(base, pixel_size(thumbnail)[0], line_heights(thumbnail, settings), settings.text_height)
    if width == look_width:  # a small page: the first look was the page itself
        return thumbnail, look_url
    url = size_url(image, width)
    return _fetch_image(fetcher, url, remote_only), url


def _fetch_image(fetcher: Fetcher, url: str, remote_only: bool) -> bytes:
    fetched = _fetch(fetcher, url, MAX_IMAGE_BYTES, remote_only)
    if not looks_like_image(fetched.data):
        kind = fetched.content_type or "unknown content type"
        raise CanvasFailed(f"{url}: not an image ({kind}, {len(fetched.data)} bytes)")
    return fetched.data


def _existing(canvas: Canvas, fetcher: Fetcher, remote_only: bool = False) -> Page:
    assert canvas.ocr is not None
    fetched = _fetch(fetcher, canvas.ocr.url, MAX_OCR_FILE_BYTES, remote_only)
    return parse_ocr(fetched.data, canvas.ocr.format, source=canvas.ocr.url)


def needs_tesseract(canvas: Canvas, mode: OcrMode) -> bool:
    """Whether `page_for` would OCR this canvas's image (rather than read linked OCR, or fail)."""
    if canvas.ocr is not None and mode in ("auto", "existing"):
        return False
    return mode != "existing" and canvas.image is not None


def text_of_hocr(hocr: bytes, source: str, origin: Origin) -> CanvasText:
    """Tesseract's hOCR of an image (fresh or cached) as the canvas's text."""
    return CanvasText(parse_ocr(hocr, "hocr", source=source), origin)


def page_for(
    canvas: Canvas,
    *,
    mode: OcrMode,
    settings: OcrSettings,
    fetcher: Fetcher,
    cache: OcrCache,
    ocr_width: int = 2400,
    remote_only: bool = False,
) -> CanvasText:
    """The text of a canvas, from linked OCR (mode auto/existing) or Tesseract (auto/tesseract).

    Raises CanvasFailed with a reason fit for the run's summary; OcrError from a
    malformed linked file or a failing Tesseract passes through.
    """
    if canvas.ocr is not None and mode in ("auto", "existing"):
        return CanvasText(_existing(canvas, fetcher, remote_only), "existing")
    if mode == "existing":
        raise CanvasFailed("no linked hOCR or ALTO (--ocr existing)")
    if canvas.image is None:
        raise CanvasFailed("the canvas has no image")
    looked = None if canvas.image.path else read_looked_image(canvas.image, fetcher, ocr_width, settings, remote_only)
    if looked is not None:
        # The service scaled the page: Tesseract reads these pixels as they come, and the cache key
        # names what it was given (these bytes, no text_height), so it stays a function of its inputs.
        settings = dataclasses.replace(settings, text_height=None)
        data, source = looked
    else:
        data, source = read_image(canvas.image, fetcher, ocr_width, remote_only)
    key = key_for(hashlib.sha256(data).hexdigest(), settings)
    hocr = cache.get(key)
    origin: Origin = "cache"
    if hocr is None:
        check_pixels(data, source)
        # A local file goes to Tesseract by path: no re-encoding on our side.
        hocr = ocr_page(canvas.image.path or data, settings)
        cache.put(key, hocr)
        origin = "ocr"
    return text_of_hocr(hocr, source, origin)
