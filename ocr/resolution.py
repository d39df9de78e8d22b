"""The resolution a page is OCR'd at, chosen from the height of its text on a first look (#21).

Tesseract reads a line as well at ~36 px from ascender to descender (hOCR's `x_size`; an
x-height of ~16-20 px) as at 70 px, and costs more the more pixels it binarises and segments:
a 3068 px scan of big type takes twice the CPU of the same page at half size, for the same
words (docs/benchmarks.md). So, with `OcrSettings.text_height` set, a page is first looked at
as a thumbnail (Tesseract's layout analysis, no recognition: ~0.05 CPU s), its median line
height measured, and the page scaled down so that its lines are about `text_height` pixels
tall. Pages are never scaled up (a small scan has no more detail to give), nor scaled by less
than `KEEP_ABOVE` (a resample costs more than it saves). The hOCR's boxes are then in pixels of
the scaled image; `indexer/coords.py` maps them to the canvas by the hOCR page's size.

The choice depends only on the image, the settings and Tesseract, so `text_height` is part of
`OcrSettings.key()` and the OCR cache key stays a pure function of its inputs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

#: Lines' height (ascender to descender, pixels) pages are scaled to by default: see docs/search-quality.md.
DEFAULT_TEXT_HEIGHT = 36
#: The thumbnail of the first look: this fraction of the page, but at least LOOK_MIN_WIDTH pixels wide.
LOOK_SCALE = 0.25
LOOK_MIN_WIDTH = 600
#: A scale this close to 1 is not worth a resample: the page is OCR'd as it is.
KEEP_ABOVE = 0.9
#: Never shrink a page more than this, whatever the first look says (a misread layout).
MIN_SCALE = 0.25
#: Fewer text lines than this on the thumbnail: no verdict, the page is OCR'd as it is.
MIN_LINES = 3

# A line's box in Tesseract's hOCR: `<span class='ocr_line' ... title='bbox 36 92 582 120; ...`.
_LINE_BOX = re.compile(rb"class='ocr_(?:line|caption|textfloat|header)'[^>]*title=[\"']bbox (\d+) (\d+) (\d+) (\d+)")


def scale_for(line_heights: Iterable[float], text_height: int) -> float:
    """The factor (at most 1) a page whose lines are `line_heights` pixels tall is scaled by.

    >>> scale_for([72, 70, 74, 72], 36)  # Bebel's 3068 px scans: half size
    0.5
    >>> scale_for([38, 40, 39], 36), scale_for([20, 21, 22], 36), scale_for([72, 70], 36)  # close, small, too few
    (1.0, 1.0, 1.0)
    >>> scale_for([400, 410, 420], 36)  # a misread layout is never followed below MIN_SCALE
    0.25
    """
    heights = [height for height in line_heights if height > 0]
    if len(heights) < MIN_LINES or text_height <= 0:
        return 1.0
    scale = text_height / median(heights)
    if scale >= KEEP_ABOVE:
        return 1.0
    return max(MIN_SCALE, round(scale, 3))


def chosen_width(width: int, look_width: int, look_line_heights: Iterable[float], text_height: int) -> int:
    """The width a `width` px page is OCR'd at, from its lines' heights on a first look `look_width` px wide.

    What `scaled_page` decides, as a width to ask an image service for (indexer/canvas_text.py).

    >>> chosen_width(3068, 767, [18, 17.5, 18.5, 18], 36)  # Bebel: lines of ~72 px at full size
    1534
    >>> chosen_width(1400, 600, [20, 21, 20], 36), chosen_width(1400, 600, [16, 16, 17], 36)
    (1079, 1400)
    """
    ratio = width / max(1, look_width)
    scale = scale_for((height * ratio for height in look_line_heights), text_height)
    return width if scale >= 1.0 else max(1, round(width * scale))


def look_size(width: int, height: int) -> tuple[int, int]:
    """The thumbnail's size for a first look at a `width` x `height` page.

    >>> look_size(3068, 4660), look_size(1400, 2067)
    ((767, 1165), (600, 886))
    """
    scale = min(1.0, max(LOOK_SCALE, LOOK_MIN_WIDTH / max(1, width)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def open_image(image: str | Path | bytes) -> Image.Image:
    """The page as a grey image (Tesseract reads grey; a resample of one channel costs a third)."""
    from PIL import Image

    source = io.BytesIO(image) if isinstance(image, bytes | bytearray | memoryview) else image
    with Image.open(source) as opened:
        opened.load()
        return opened.convert("L")


def scaled_page(
    page: Image.Image, text_height: int, line_heights_of: Callable[[Image.Image], list[int]]
) -> Image.Image | None:
    """`page` scaled so its lines are about `text_height` px tall, or None to OCR it as it is.

    `line_heights_of(thumbnail)` gives the thumbnail's text line heights, in its pixels: the
    warm engine's layout analysis, or the command's hOCR (`line_heights_of_hocr`).
    """
    from PIL import Image

    width, height = look_size(page.width, page.height)
    thumbnail = page.resize((width, height), Image.Resampling.BOX)
    ratio = page.width / width
    scale = scale_for((h * ratio for h in line_heights_of(thumbnail)), text_height)
    if scale >= 1.0:
        return None
    size = (max(1, round(page.width * scale)), max(1, round(page.height * scale)))
    return page.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def line_heights_of_hocr(hocr: bytes) -> list[int]:
    """The height of every text line of an hOCR document, in its pixels.

    >>> line_heights_of_hocr(b"<span class='ocr_line' id='line_1_1' title='bbox 36 92 582 120; x_size 28'>")
    [28]
    """
    return [int(bottom) - int(top) for _, top, _, bottom in _LINE_BOX.findall(hocr)]


def encoded(page: Image.Image) -> bytes:
    """A scaled page as bytes the command reads (PNG at the fastest compression: written once, read once)."""
    out = io.BytesIO()
    page.save(out, "PNG", compress_level=1)
    return out.getvalue()
