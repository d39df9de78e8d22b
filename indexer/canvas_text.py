"""page_for(canvas) -> the OCR Page of one canvas: linked hOCR/ALTO if any, else Tesseract.

Tesseract's result is cached by a key made of the image's digest and the OCR
settings only, so the OCR of a canvas is a pure function of its inputs: a re-run,
an interrupted run, or another machine sharing the cache never OCRs the same
image twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from indexer.errors import CanvasFailed, FetchError
from indexer.fetch import Fetched, Fetcher
from indexer.image_header import UnreadableImage, pixel_size
from indexer.model import Canvas, ImageRef
from ocr.cache import OcrCache, key_for
from ocr.engine import ocr_page
from ocr.formats import parse_ocr
from ocr.model import OcrSettings, Page

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
    no wider than asked, so we never ask a level-1 server to upscale.
    """
    if image.service:
        if image.width is not None and image.width <= ocr_width:
            size = "max" if image.service_version == 3 else "full"
        else:
            size = f"{ocr_width},"
        # Image API 1.1 names the default quality "native".
        quality = "native" if image.service_version == 1 else "default"
        return f"{image.service}/full/{size}/0/{quality}.jpg"
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
    fetched = _fetch(fetcher, url, MAX_IMAGE_BYTES, remote_only)
    if not looks_like_image(fetched.data):
        kind = fetched.content_type or "unknown content type"
        raise CanvasFailed(f"{url}: not an image ({kind}, {len(fetched.data)} bytes)")
    return fetched.data, url


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
