"""Parse an Image API request path into checked fields: syntax only.

Like zimeon's `iiif/request.py`, this module knows the URL grammar of Image API
3.0 (§2.1, §4) and 2.1 and nothing about images or about what this server
implements: `90` is a valid rotation here even though `plan` refuses it. Every
error is an `ImageRequestError` naming the URL parameter at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from search_service.errors import ImageRequestError

ApiVersion = Literal["2.1", "3.0"]

RegionKind = Literal["full", "square", "pixels", "percent"]
SizeKind = Literal["max", "full", "width", "height", "exact", "confined", "percent"]

# §4.4: the four qualities of the spec (2.1 §4.4 has the same four).
QUALITIES = frozenset({"default", "color", "gray", "bitonal"})
# §4.5: the formats of the spec's table; anything else is not Image API syntax.
FORMATS = frozenset({"jpg", "tif", "png", "gif", "jp2", "pdf", "webp"})

# §4: pixel values are non-negative integers; §4.7: floats are digits and "." only
# (no sign, no exponent). Twelve digits is far beyond any image and keeps the
# arithmetic in `plan` exact in floats.
_INT = r"\d{1,12}"
_FLOAT = r"(?:\d{1,12}(?:\.\d{0,12})?|\.\d{1,12})"
_XYWH_PIXELS = re.compile(rf"({_INT}),({_INT}),({_INT}),({_INT})")
_XYWH_PERCENT = re.compile(rf"pct:({_FLOAT}),({_FLOAT}),({_FLOAT}),({_FLOAT})")
_W_H = re.compile(rf"({_INT})?,({_INT})?")
_CONFINED = re.compile(rf"!({_INT}),({_INT})")
_PERCENT = re.compile(rf"pct:({_FLOAT})")
_ROTATION = re.compile(rf"(!)?({_FLOAT})")


@dataclass(frozen=True, slots=True)
class Region:
    """The region parameter (§4.1); x, y, w, h in pixels or in percent of the full image."""

    kind: RegionKind
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0


@dataclass(frozen=True, slots=True)
class Size:
    """The size parameter (§4.2); `upscale` is the 3.0 `^` prefix."""

    kind: SizeKind
    width: int | None = None
    height: int | None = None
    percent: float | None = None
    upscale: bool = False


@dataclass(frozen=True, slots=True)
class Rotation:
    """The rotation parameter (§4.3): clockwise degrees, after an optional mirroring."""

    degrees: float = 0.0
    mirror: bool = False


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """One image request, parsed: `parse_image_path("id/full/max/0/default.jpg", "3.0")`."""

    version: ApiVersion
    identifier: str
    region: Region
    size: Size
    rotation: Rotation
    quality: str
    format: str


def parse_identifier(segment: str) -> str:
    """Percent-decode one identifier path segment (§3, §9).

    The segment is taken from the raw request path, so an encoded slash (`%2F`)
    stays inside the identifier instead of splitting the path.

    >>> parse_identifier("ark:%2F12025%2F654xz321")
    'ark:/12025/654xz321'
    """
    try:
        identifier = unquote(segment, errors="strict")
    except UnicodeDecodeError as exc:
        raise ImageRequestError("identifier: percent-encoding is not UTF-8", "identifier") from exc
    if not identifier:
        raise ImageRequestError("identifier: empty", "identifier")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in identifier):
        raise ImageRequestError("identifier: control characters are not allowed", "identifier")
    return identifier


def parse_image_path(path: str, version: ApiVersion) -> ImageRequest:
    """Parse `{identifier}/{region}/{size}/{rotation}/{quality}.{format}` (§2.1).

    `path` is the raw (still percent-encoded) part after the service prefix.

    >>> r = parse_image_path("id1/0,10,100,200/pct:50/90/default.png", "3.0")
    >>> (r.region.kind, r.size.percent, r.rotation.degrees, r.format)
    ('pixels', 50.0, 90.0, 'png')
    """
    segments = path.split("/")
    if len(segments) != 5:
        raise ImageRequestError("path: expected {identifier}/{region}/{size}/{rotation}/{quality}.{format}", "path")
    identifier_seg, region_seg, size_seg, rotation_seg, quality_seg = segments
    # §9: only the identifier needs encoding, but decoding the others is harmless.
    quality, fmt = parse_quality_format(unquote(quality_seg))
    return ImageRequest(
        version=version,
        identifier=parse_identifier(identifier_seg),
        region=parse_region(unquote(region_seg)),
        size=parse_size(unquote(size_seg), version),
        rotation=parse_rotation(unquote(rotation_seg)),
        quality=quality,
        format=fmt,
    )


def parse_region(text: str) -> Region:
    """Parse the region parameter: `full`, `square`, `x,y,w,h` or `pct:x,y,w,h` (§4.1).

    `square` is 3.0 and 2.1 syntax alike (2.1 added it as `regionSquare`).
    """
    if text == "full":
        return Region("full")
    if text == "square":
        return Region("square")
    if match := _XYWH_PIXELS.fullmatch(text):
        x, y, w, h = (int(v) for v in match.groups())
        return Region("pixels", x, y, w, h)
    if match := _XYWH_PERCENT.fullmatch(text):
        px, py, pw, ph = (float(v) for v in match.groups())
        return Region("percent", px, py, pw, ph)
    raise ImageRequestError(f"region: {text!r} is not full, square, x,y,w,h or pct:x,y,w,h", "region")


def parse_size(text: str, version: ApiVersion) -> Size:
    """Parse the size parameter (3.0 §4.2 with `^`; 2.1 §4.2 with `full`, without `^`)."""
    upscale = False
    body = text
    if body.startswith("^"):
        if version == "2.1":
            raise ImageRequestError("size: '^' (upscaling) is Image API 3.0 syntax, not 2.1", "size")
        upscale = True
        body = body[1:]
    if body == "max":
        return Size("max", upscale=upscale)
    if body == "full":
        if version == "3.0":
            # 3.0 §4.2 replaced 2.1's `full` with `max`.
            raise ImageRequestError("size: 'full' is not Image API 3.0 syntax; use 'max'", "size")
        return Size("full")
    if match := _PERCENT.fullmatch(body):
        return Size("percent", percent=float(match.group(1)), upscale=upscale)
    if match := _CONFINED.fullmatch(body):
        return Size("confined", int(match.group(1)), int(match.group(2)), upscale=upscale)
    if match := _W_H.fullmatch(body):
        w_text, h_text = match.groups()
        if w_text is not None and h_text is not None:
            return Size("exact", int(w_text), int(h_text), upscale=upscale)
        if w_text is not None:
            return Size("width", width=int(w_text), upscale=upscale)
        if h_text is not None:
            return Size("height", height=int(h_text), upscale=upscale)
    forms = (
        "max, w,, ,h, w,h, !w,h or pct:n, each optionally after ^"
        if version == "3.0"
        else "full, max, w,, ,h, w,h, !w,h or pct:n"
    )
    raise ImageRequestError(f"size: {text!r} is not one of {forms}", "size")


def parse_rotation(text: str) -> Rotation:
    """Parse the rotation parameter: `n` or `!n`, 0 <= n <= 360 (§4.3)."""
    match = _ROTATION.fullmatch(text)
    if match is None:
        raise ImageRequestError(f"rotation: {text!r} is not n or !n with n a number from 0 to 360", "rotation")
    degrees = float(match.group(2))
    if degrees > 360:
        raise ImageRequestError(f"rotation: {text!r} is above 360", "rotation")
    # §4.3: "any floating point number from 0 to 360"; 360 is the same turn as 0.
    return Rotation(0.0 if degrees == 360 else degrees, mirror=match.group(1) is not None)


def parse_quality_format(text: str) -> tuple[str, str]:
    """Parse `{quality}.{format}` (§4.4, §4.5)."""
    quality, dot, fmt = text.rpartition(".")
    if not dot:
        raise ImageRequestError(f"format: {text!r} has no .{{format}} suffix", "format")
    if quality not in QUALITIES:
        raise ImageRequestError(f"quality: {quality!r} is not one of {', '.join(sorted(QUALITIES))}", "quality")
    if fmt not in FORMATS:
        raise ImageRequestError(f"format: {fmt!r} is not one of {', '.join(sorted(FORMATS))}", "format")
    return quality, fmt
