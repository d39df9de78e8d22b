"""URLs of pictures of a book's pages on the image's own IIIF Image service: thumbnails and line regions.

A book's images are wherever its manifest says: our embedded Image API for folder books
and `--image-root` images, the institution's image server for everyone else's manifests.
These build Image API requests from what the manifest declared (`indexer.model.ImageRef`
fields, as `BookRecord.first_image` keeps them): `!w,h` sizes ("the largest that fits",
Image API 3.0 §4.2 and 2.1 §4.2; our server returns a smaller region at its own size),
regions in the image's pixels, scaled from canvas units when image and canvas differ
(Presentation 3.0 §5.3 lets them).

>>> image = {"service": "https://img.example.org/iiif/p1", "service_version": 3, "width": 2000, "height": 3000}
>>> thumbnail_url(image)
'https://img.example.org/iiif/p1/full/!200,200/0/default.jpg'
>>> region_url(image, (1000, 1500), (100, 200, 300, 20), (600, 60))
'https://img.example.org/iiif/p1/200,400,600,40/!600,60/0/default.jpg'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ocr.model import Box

#: Thumbnails of a Collection's books fit this box (pixels).
THUMBNAIL_BOX = (200, 200)


def _quality(image: Mapping[str, Any]) -> str:
    # Image API 1.x called the default quality `native`; 2.0 and 3.0 `default`.
    return "native" if image.get("service_version") == 1 else "default"


def thumbnail_url(image: Mapping[str, Any], box: tuple[int, int] = THUMBNAIL_BOX) -> str | None:
    """A small picture of the whole image: its service's `full/!w,h`, else the image itself, else None."""
    service = image.get("service")
    if isinstance(service, str) and service:
        return f"{service}/full/!{box[0]},{box[1]}/0/{_quality(image)}.jpg"
    url = image.get("url")
    return url if isinstance(url, str) and url else None


def thumbnail(image: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """The Presentation 3.0 `thumbnail` value for an image (§3.2.3: an Image content resource), or None."""
    url = thumbnail_url(image) if image else None
    if url is None:
        return None
    return [{"id": url, "type": "Image", "format": "image/jpeg"}]


def image_scale(image: Mapping[str, Any], canvas_size: tuple[int, int]) -> tuple[float, float]:
    """Image pixels per canvas unit, across and down (1, 1 when the image's size is not known)."""
    width, height = image.get("width"), image.get("height")
    if isinstance(width, int) and isinstance(height, int) and canvas_size[0] > 0 and canvas_size[1] > 0:
        return width / canvas_size[0], height / canvas_size[1]
    return 1.0, 1.0


def region_url(
    image: Mapping[str, Any],
    canvas_size: tuple[int, int],
    region: tuple[int, int, int, int],
    box: tuple[int, int],
) -> str | None:
    """The picture of `region` (x, y, w, h in canvas units) fitted into `box` pixels, or None without a service.

    A plain image URL cannot be cut: only an Image API service gives regions.
    """
    service = image.get("service")
    if not isinstance(service, str) or not service:
        return None
    sx, sy = image_scale(image, canvas_size)
    x, y, w, h = region
    left, top = max(0, round(x * sx)), max(0, round(y * sy))
    width, height = max(1, round(w * sx)), max(1, round(h * sy))
    return f"{service}/{left},{top},{width},{height}/!{box[0]},{box[1]}/0/{_quality(image)}.jpg"


def fitted_size(
    region: tuple[int, int, int, int], canvas_size: tuple[int, int], image: Mapping[str, Any], box: tuple[int, int]
) -> tuple[int, int]:
    """The pixel size `region_url` returns: the region's own size, or scaled down to fit `box` (`!w,h`).

    >>> fitted_size((0, 0, 1200, 40), (1000, 1000), {}, (600, 60))
    (600, 20)
    """
    sx, sy = image_scale(image, canvas_size)
    width, height = max(1, round(region[2] * sx)), max(1, round(region[3] * sy))
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def padded(box: Box, canvas_size: tuple[int, int], padding: float) -> tuple[int, int, int, int]:
    """`box` grown by `padding` times its height on every side, kept inside the canvas.

    >>> padded(Box(10, 100, 200, 20), (1000, 1000), 0.25)
    (5, 95, 210, 30)
    """
    grow = round(box.h * padding)
    x0, y0 = max(0, box.x - grow), max(0, box.y - grow)
    x1, y1 = min(canvas_size[0], box.x + box.w + grow), min(canvas_size[1], box.y + box.h + grow)
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)
