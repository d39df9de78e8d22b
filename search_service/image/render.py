"""Pixels, with pyvips: read headers, write pyramid TIFFs, cut and encode a planned image.

The only module of `search_service` that imports pyvips (libvips releases the
GIL, so callers run these functions in a thread pool). It decides nothing about
requests: `plan` has already checked the arithmetic, and `derivative` decides
where pyramids live and when they are rebuilt.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import pyvips

from search_service.errors import UnknownImage
from search_service.image.plan import Plan, choose_level, level_box

log = logging.getLogger("search_service.image")

# Encoder settings of responses: JPEG quality 85 is the usual choice of IIIF servers for
# tiles; PNG level 6 trades little size for half the time of level 9.
JPEG_QUALITY = 85
PNG_COMPRESSION = 6
# Quality of the JPEG-compressed tiles inside the pyramid TIFF (issue #4).
PYRAMID_QUALITY = 90


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a file's header says: pixel size, and whether it has colour."""

    width: int
    height: int
    color: bool


def read_header(path: Path) -> SourceInfo:
    """Read width, height and bands from the header only; no pixel is decoded.

    libvips opens images lazily, so a decompression bomb is measured here
    without allocating its pixels. Raises UnknownImage if the file is no image.
    """
    try:
        # Names reaching here end in an image suffix, so libvips' "name[options]" syntax
        # (which needs a trailing "]") cannot be triggered by a file name.
        image = pyvips.Image.new_from_file(str(path), access="sequential")
    except pyvips.Error as exc:
        raise _unreadable(path, exc) from exc
    return SourceInfo(image.width, image.height, _is_color(image))


def write_pyramid(source: Path, dest: Path, tile: int) -> None:
    """Write `source` as a tiled pyramid TIFF (JPEG tiles, Q 90) at `dest`.

    Pixels are normalised on the way: alpha flattened onto white, 16-bit and
    CMYK converted to 8-bit sRGB, one band for grey images. EXIF orientation is
    not applied, so pixel coordinates stay those of the file (and of its OCR).
    """
    try:
        image = pyvips.Image.new_from_file(str(source), access="sequential")
        image = _normalise(image)
        # One pass: libvips shrinks each level as rows stream in, so memory stays small.
        image.tiffsave(
            str(dest),
            tile=True,
            tile_width=tile,
            tile_height=tile,
            pyramid=True,
            compression="jpeg",
            Q=PYRAMID_QUALITY,
            bigtiff=image.width * image.height * image.bands > 3_000_000_000,
        )
    except pyvips.Error as exc:
        raise _unreadable(source, exc) from exc


def render(plan: Plan, pyramid: Path) -> bytes:
    """Cut `plan`'s box from the smallest pyramid level that has enough pixels, scale it, encode it."""
    levels = pyramid_levels(pyramid)
    level = choose_level(plan.w, plan.h, plan.width, plan.height, len(levels))
    level_w, level_h = levels[level]
    left, top, w, h = level_box(plan.x, plan.y, plan.w, plan.h, level, level_w, level_h)
    try:
        image = pyvips.Image.tiffload(str(pyramid), page=level)
        image = image.crop(left, top, w, h)
        image = _scale_to(image, plan.width, plan.height)
        if plan.quality == "gray" and image.bands >= 3:
            image = image.colourspace("b-w")
        if plan.format == "png":
            return bytes(image.pngsave_buffer(compression=PNG_COMPRESSION, strip=True))
        return bytes(image.jpegsave_buffer(Q=JPEG_QUALITY, strip=True))
    except pyvips.Error as exc:
        raise _unreadable(pyramid, exc) from exc


@functools.lru_cache(maxsize=1024)
def pyramid_levels(pyramid: Path) -> tuple[tuple[int, int], ...]:
    """(width, height) of each page of a pyramid TIFF, full size first.

    Cached: a derivative's name changes whenever its source does, so a path
    always names the same pyramid.
    """
    first = pyvips.Image.new_from_file(str(pyramid))
    pages = first.get("n-pages") if "n-pages" in first.get_fields() else 1
    levels = [(first.width, first.height)]
    for page in range(1, pages):
        level = pyvips.Image.tiffload(str(pyramid), page=page)
        levels.append((level.width, level.height))
    return tuple(levels)


def _scale_to(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    """Make `image` exactly width x height: copy edge pixels for a 1-pixel shortfall, else resample."""
    if (image.width, image.height) == (width, height):
        return image
    if 0 <= width - image.width <= 1 and 0 <= height - image.height <= 1:
        # The pyramid levels are rounded down; the client rounded the edge tile up.
        return image.embed(0, 0, width, height, extend="copy")
    image = image.resize(width / image.width, vscale=height / image.height)
    if (image.width, image.height) != (width, height):
        # resize() rounds its output size; trim or pad the last row or column.
        image = image.embed(0, 0, width, height, extend="copy")
    return image


def _normalise(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB or 8-bit grey, no alpha: what JPEG-in-TIFF can hold."""
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if _is_color(image):
        if image.interpretation != "srgb" or image.format != "uchar":
            image = image.colourspace("srgb")
        if image.bands > 3:
            image = image.extract_band(0, n=3)
    elif image.bands > 1 or image.format != "uchar":
        image = image.colourspace("b-w")
        if image.bands > 1:
            image = image.extract_band(0)
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def _is_color(image: pyvips.Image) -> bool:
    interpretation = image.interpretation
    if interpretation in ("b-w", "grey16"):
        return False
    return bool(image.bands >= 3)


def _unreadable(path: Path, exc: pyvips.Error) -> UnknownImage:
    """Log libvips' words (they name server paths) and give the client a short message."""
    log.warning("cannot decode %s: %s", path, str(exc.detail or exc.message).strip())
    return UnknownImage(f"{path.stem} cannot be decoded as an image")
