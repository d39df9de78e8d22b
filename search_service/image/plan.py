"""The arithmetic of an image request against one image: crop box, output size, limits.

Pure functions, no pixels and no files (zimeon's `region_to_apply` and
`size_to_apply`): `plan(request, width, height, limits)` answers what to cut and
how large to make it, or raises the error the spec asks for. This is where the
server's size limits live, and where features above level 1 that this server
does not implement are refused. The tile and pyramid-level arithmetic shared by
`render` and the info documents is here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from search_service.errors import ImageRequestError, NotImplementedFeature, SizeAboveLimits
from search_service.image.request import ApiVersion, ImageRequest, Region, Size

# What `render` can produce; the info documents list the extras from these.
SUPPORTED_QUALITIES = ("default", "color", "gray")
SUPPORTED_FORMATS = ("jpg", "png")
# Tiles of the info documents, and of the pyramid TIFF derivatives, so a tile request is one tile read.
TILE_SIZE = 512


@dataclass(frozen=True, slots=True)
class Limits:
    """The server's maxWidth, maxHeight and maxArea (Image API 3.0 §5.2), in output pixels."""

    max_width: int
    max_height: int
    max_area: int


@dataclass(frozen=True, slots=True)
class Plan:
    """What to render: a crop box in pixels of the full image, then an output size in pixels.

    `canonical` is the request in the spec's canonical form (3.0 §4.8, 2.1 §4.7),
    without the identifier: `"0,0,512,512/512,512/0/default.jpg"`.
    """

    x: int
    y: int
    w: int
    h: int
    width: int
    height: int
    quality: str
    format: str
    canonical: str


def plan(request: ImageRequest, width: int, height: int, limits: Limits, *, color: bool = True) -> Plan:
    """Apply region, size, rotation, quality and format (3.0 §4.6's order) to a width x height image.

    `color` says whether the image has colour: info.json offers `color` only then
    (§5.3 extraQualities), so a request for it on a gray or 1-bit image is refused.

    >>> from search_service.image.request import parse_image_path
    >>> p = plan(parse_image_path("i/125,15,200,200/max/0/default.jpg", "3.0"), 300, 200, Limits(1000, 1000, 10**6))
    >>> (p.x, p.y, p.w, p.h, p.width, p.height)
    (125, 15, 175, 185, 175, 185)
    """
    x, y, w, h = region_box(request.region, width, height)
    out_w, out_h = output_size(request.size, w, h, limits, request.version)
    _check_rotation(request)
    if request.quality not in SUPPORTED_QUALITIES:
        # 3.0 §4.4: "A request for an image with an unsupported quality value SHOULD return a 400".
        raise ImageRequestError(
            f"quality: {request.quality!r} is not supported here; use one of {', '.join(SUPPORTED_QUALITIES)}",
            "quality",
        )
    if request.quality == "color" and not color:
        raise ImageRequestError(
            "quality: 'color' is not offered for this image, which has no colour; use default or gray", "quality"
        )
    if request.format not in SUPPORTED_FORMATS:
        # 3.0 §4.5: "A format value that is unsupported SHOULD result in a 400".
        raise ImageRequestError(
            f"format: {request.format!r} is not supported here; use one of {', '.join(SUPPORTED_FORMATS)}",
            "format",
        )
    region_text = "full" if (x, y, w, h) == (0, 0, width, height) else f"{x},{y},{w},{h}"
    size_text = _canonical_size(request.version, w, h, out_w, out_h, limits)
    canonical = f"{region_text}/{size_text}/0/{request.quality}.{request.format}"
    return Plan(x, y, w, h, out_w, out_h, request.quality, request.format, canonical)


def region_box(region: Region, width: int, height: int) -> tuple[int, int, int, int]:
    """The crop box (x, y, w, h) in pixels, cut at the image's edge (§4.1)."""
    if region.kind == "full":
        return 0, 0, width, height
    if region.kind == "square":
        # §4.1: "centered is often a reasonable default" for the position in the longer dimension.
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    if region.w <= 0 or region.h <= 0:
        # §4.1: "If the requested region's height or width is zero ... 400".
        raise ImageRequestError("region: width and height must be above zero", "region")
    if region.kind == "percent":
        x0, y0 = _round(region.x * width / 100), _round(region.y * height / 100)
        x1 = _round((region.x + region.w) * width / 100)
        y1 = _round((region.y + region.h) * height / 100)
    else:
        x0, y0 = int(region.x), int(region.y)
        x1, y1 = x0 + int(region.w), y0 + int(region.h)
    if x0 >= width or y0 >= height:
        # §4.1: a region "entirely outside the bounds of the reported dimensions" is a 400.
        raise ImageRequestError(f"region: starts at {x0},{y0}, outside the {width}x{height} image", "region")
    # §4.1: a region beyond the edge is cut at the edge, not padded.
    x1, y1 = min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        raise ImageRequestError("region: rounds to zero pixels", "region")
    return x0, y0, x1 - x0, y1 - y0


def output_size(size: Size, w: int, h: int, limits: Limits, version: ApiVersion) -> tuple[int, int]:
    """The output size in pixels of a w x h region (3.0 §4.2, 2.1 §4.2), checked against limits."""
    if size.kind == "max":
        capped = max_size(w, h, limits)
        if size.upscale and _limit_scale(w, h, limits) > 1:
            # `^max` scales up to the limits (§4.2); this server does not upscale.
            _refuse_upscaling(size, version)
        return capped
    if size.kind == "full":
        out_w, out_h = w, h
    elif size.kind == "width":
        assert size.width is not None
        out_w, out_h = size.width, _round(h * size.width / w)
    elif size.kind == "height":
        assert size.height is not None
        out_w, out_h = _round(w * size.height / h), size.height
    elif size.kind == "exact":
        assert size.width is not None and size.height is not None
        out_w, out_h = size.width, size.height
    elif size.kind == "percent":
        assert size.percent is not None
        out_w, out_h = _round(w * size.percent / 100), _round(h * size.percent / 100)
    else:
        out_w, out_h = _confined(size, w, h, limits)
    if out_w < 1 or out_h < 1:
        # 3.0 §4.2: "the pixel dimensions of the scaled region MUST NOT be less than 1 pixel".
        raise ImageRequestError(f"size: the result would be {out_w}x{out_h} pixels", "size")
    if out_w > w or out_h > h:
        _refuse_upscaling(size, version)
    if out_w > limits.max_width or out_h > limits.max_height or out_w * out_h > limits.max_area:
        # 3.0 §7.3 lists "the requested size is greater than the limits specified" under 404.
        raise SizeAboveLimits(
            f"size: {out_w}x{out_h} is above this server's limits (maxWidth {limits.max_width}, "
            f"maxHeight {limits.max_height}, maxArea {limits.max_area}); see info.json",
            "size",
        )
    return out_w, out_h


def _confined(size: Size, w: int, h: int, limits: Limits) -> tuple[int, int]:
    """The output size of `!w,h` (and `^!w,h`) for a w x h region.

    3.0 §4.2: `!w,h` "MUST be as large as possible but not larger than the extracted
    region, w or h, or server-imposed limits", so a region smaller than w,h comes back
    at its own size, never as an error (Clover asks `!100,60` of a 40x25 word, #12);
    2.1 §4.2's best fit is the same without `sizeAboveFull`. `^!w,h` may scale up to
    w,h, which is left for the caller to refuse (501).
    """
    assert size.width is not None and size.height is not None
    scale = min(size.width / w, size.height / h)
    if scale >= 1 and not size.upscale:
        out_w, out_h = w, h
    else:
        out_w, out_h = min(size.width, _round(w * scale)), min(size.height, _round(h * scale))
    if out_w > limits.max_width or out_h > limits.max_height or out_w * out_h > limits.max_area:
        return max_size(out_w, out_h, limits)
    return out_w, out_h


def max_size(w: int, h: int, limits: Limits) -> tuple[int, int]:
    """The `max` size of a w x h region: itself, or the largest same-shape size within the limits."""
    scale = _limit_scale(w, h, limits)
    if scale >= 1:
        return w, h
    # Rounding down keeps the result inside every limit.
    return max(1, math.floor(w * scale)), max(1, math.floor(h * scale))


def tile_size(limits: Limits) -> int:
    """The tile width and height to advertise: TILE_SIZE, or less where the limits are smaller.

    3.0 §5.2: "Servers MUST ensure that sizes specified by any sizes or tiles properties
    are within any size limits expressed."
    """
    return max(1, min(TILE_SIZE, limits.max_width, limits.max_height, math.isqrt(limits.max_area)))


def scale_factors(width: int, height: int, tile: int) -> list[int]:
    """Powers of two from 1 up to the first at which the whole image fits in one tile (3.0 §5.4)."""
    factors = [1]
    while math.ceil(width / factors[-1]) > tile or math.ceil(height / factors[-1]) > tile:
        factors.append(factors[-1] * 2)
    return factors


def preferred_sizes(width: int, height: int, factors: list[int], limits: Limits) -> list[tuple[int, int]]:
    """The full image at each scale factor, smallest first, within the limits (3.0 §5.3).

    Sizes are rounded down like the pyramid levels of the derivative, so each is
    served from one level without resampling.
    """
    sizes = []
    for factor in reversed(factors):
        w, h = max(1, width // factor), max(1, height // factor)
        if w <= limits.max_width and h <= limits.max_height and w * h <= limits.max_area:
            sizes.append((w, h))
    return sizes


def choose_level(w: int, h: int, out_w: int, out_h: int, levels: int) -> int:
    """The smallest pyramid level (level k is 1/2**k of the full size) that still has out_w x out_h pixels for a w x h region.

    Counting the region's pixels at a level rounded up lets an edge tile (whose
    output is rounded up by the client) come from its own level.
    """
    level = 0
    while level + 1 < levels:
        factor = 2 ** (level + 1)
        if -(-w // factor) < out_w or -(-h // factor) < out_h:
            break
        level += 1
    return level


def level_box(x: int, y: int, w: int, h: int, level: int, level_w: int, level_h: int) -> tuple[int, int, int, int]:
    """The crop box (x, y, w, h) in pixels of pyramid level `level` (level_w x level_h) covering a full-size box."""
    factor = 2**level
    left, top = min(x // factor, level_w - 1), min(y // factor, level_h - 1)
    right, bottom = min(level_w, -(-(x + w) // factor)), min(level_h, -(-(y + h) // factor))
    return left, top, max(1, right - left), max(1, bottom - top)


def _canonical_size(version: ApiVersion, w: int, h: int, out_w: int, out_h: int, limits: Limits) -> str:
    if version == "3.0":
        # 3.0 §4.8: `max` for the maximum size without upscaling, otherwise `w,h`.
        return "max" if (out_w, out_h) == max_size(w, h, limits) else f"{out_w},{out_h}"
    # 2.1 §4.7: `full` for the region's own size, `w,` when the aspect ratio is kept, else `w,h`.
    if (out_w, out_h) == (w, h):
        return "full"
    return f"{out_w}," if out_h == _round(h * out_w / w) else f"{out_w},{out_h}"


def _check_rotation(request: ImageRequest) -> None:
    rotation = request.rotation
    if rotation.degrees != 0 or rotation.mirror:
        # 3.0 §4.3: "A rotation value that is out of range or unsupported SHOULD result in a 400".
        shown = ("!" if rotation.mirror else "") + f"{rotation.degrees:g}"
        raise ImageRequestError(
            f"rotation: {shown} is not supported here (level 1: rotation 0 only, no mirroring)", "rotation"
        )


def _refuse_upscaling(size: Size, version: ApiVersion) -> None:
    if size.upscale:
        # 3.0 §4.2: `^` sizes that need upscaling "SHOULD result in a 501 ... if the server does not support upscaling".
        raise NotImplementedFeature("size: upscaling (^) is not implemented by this server", "size")
    if version == "3.0":
        # 3.0 §4.2: without `^`, a result larger than the region "SHOULD result in a 400".
        raise ImageRequestError("size: larger than the region; 3.0 needs '^' to upscale", "size")
    # 2.1: a valid request for the optional `sizeAboveFull` feature, which this server lacks.
    raise NotImplementedFeature("size: sizes above the region's size (sizeAboveFull) are not implemented", "size")


def _limit_scale(w: int, h: int, limits: Limits) -> float:
    return min(limits.max_width / w, limits.max_height / h, math.sqrt(limits.max_area / (w * h)))


def _round(value: float) -> int:
    """Round half up (Python's round() goes to even, which makes 2.5 px a 2 and 3.5 px a 4)."""
    return math.floor(value + 0.5)
