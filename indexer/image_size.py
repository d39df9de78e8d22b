"""The width of a canvas's image to ask its IIIF Image service for, for OCR (#21).

Without more to go on, OCR asks a fixed width (`--ocr-width`, 2400 px), or the full image where
that is smaller. Where the service serves any width (`w,`: Image API level 1 or more) and the
manifest gives the image's size, two things choose better:

- the object's physical size (the Physical Dimensions service, `ImageRef.physical_width`): the
  width that gives OCR_PIXELS_PER_INCH across it, never more than the image's full width;
- with `--text-height` (indexer/canvas_text.py): a first look at a thumbnail asked of the service,
  then the width that brings the text lines to `text_height` pixels (ocr/resolution.py), asked of
  the service too, instead of downloading the full size and scaling it here.

Without such a service (a plain image, level 0, an unknown size, a folder of scans) the image
comes as before.
"""

from __future__ import annotations

import math
import re

from indexer.model import ImageRef

#: Pixels per inch of the object that OCR asks where the manifest gives its physical size. Tesseract
#: is tuned for scans of about 300 dpi (its documentation asks at least that): book type of 9-12 pt
#: then has lines of ~40-50 px, the size it reads best, and more pixels only cost CPU.
OCR_PIXELS_PER_INCH = 300
#: The least width a physical size may ask (or the full image, if narrower). A Physical Dimensions
#: service in the wrong unit (`mm` for `cm`, a scale for the wrong image size) says a page is a
#: tenth of its size, and 300 ppi of that leaves lines of 4 px that OCR reads as nothing; a truly
#: small object asked at this width only costs a little more CPU.
MIN_PHYSICAL_WIDTH_PIXELS = 1000

# The compliance level in a profile: "level1" (3.0), ".../image/2/level2.json", "...compliance.html#level1" (1.1).
_LEVEL = re.compile(r"level([0-2])")


def service_level(profile: str | None) -> int | None:
    """The Image API compliance level a service's profile names, or None.

    >>> service_level("level1"), service_level("http://iiif.io/api/image/2/level2.json"), service_level(None)
    (1, 2, None)
    """
    found = _LEVEL.search(profile or "")
    return int(found.group(1)) if found else None


def serves_any_width(image: ImageRef) -> bool:
    """Whether its service answers any width we ask (level 1 or more) and the full image's size is known.

    Level 0 serves only the sizes its info.json lists, which the manifest rarely embeds.

    >>> serves_any_width(ImageRef(service="https://img/x", service_version=3, service_profile="level1", width=9, height=9))
    True
    >>> serves_any_width(ImageRef(service="https://img/x", service_version=3, service_profile="level0", width=9, height=9))
    False
    """
    level = service_level(image.service_profile)
    return bool(image.service and level is not None and level >= 1 and image.width and image.height)


def physical_width_pixels(image: ImageRef) -> int | None:
    """The width giving OCR_PIXELS_PER_INCH across the object, at most the full image's; None without a physical size.

    Never less than MIN_PHYSICAL_WIDTH_PIXELS (or the full width, where that is less).

    >>> physical_width_pixels(ImageRef(service="s", width=4000, height=6000, physical_width=6.0))
    1800
    >>> physical_width_pixels(ImageRef(service="s", width=1200, height=1800, physical_width=6.0))
    1200
    >>> physical_width_pixels(ImageRef(service="s", width=4000, height=6000, physical_width=0.6))  # mm taken for cm
    1000
    """
    if image.physical_width is None or not image.width:
        return None
    wanted = max(MIN_PHYSICAL_WIDTH_PIXELS, math.ceil(image.physical_width * OCR_PIXELS_PER_INCH))
    return max(1, min(image.width, wanted))


def ocr_width_of(image: ImageRef, ocr_width: int) -> int | None:
    """The width OCR asks of the service before any first look: the physical size's, else `ocr_width`, at most the full width.

    None where the service's sizes are not ours to choose (then `indexer.canvas_text.image_url` asks as before).
    """
    if not serves_any_width(image):
        return None
    assert image.width is not None
    return physical_width_pixels(image) or min(ocr_width, image.width)


def size_url(image: ImageRef, width: int) -> str:
    """The URL of the whole image `width` pixels wide: `max` (3.0) or `full` (1.x, 2.1) at its full width.

    >>> size_url(ImageRef(service="https://img/x", service_version=3, width=3000), 1500)
    'https://img/x/full/1500,/0/default.jpg'
    >>> size_url(ImageRef(service="https://img/x", service_version=2, width=3000), 3000)
    'https://img/x/full/full/0/default.jpg'
    """
    assert image.service is not None
    if image.width is not None and width >= image.width:
        size = "max" if image.service_version == 3 else "full"  # never an upscale of a level-1 server
    else:
        size = f"{width},"
    # Image API 1.1 names the default quality "native".
    quality = "native" if image.service_version == 1 else "default"
    return f"{image.service}/full/{size}/0/{quality}.jpg"
