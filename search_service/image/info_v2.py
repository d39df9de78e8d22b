"""The image information document (info.json) of Image API 2.1, level 1 (2.1 §5).

`@id`, `protocol` and a `profile` list whose first entry is the level 1 URI and
whose second object holds the limits and whatever this server adds to level 1
(2.1 §5.3). Knows nothing of 3.0 (see `info_v3`).
"""

from __future__ import annotations

from typing import Any

from search_service.image.plan import (
    SUPPORTED_FORMATS,
    Limits,
    preferred_sizes,
    scale_factors,
    tile_size,
)

CONTEXT = "http://iiif.io/api/image/2/context.json"
PROFILE_URI = "http://iiif.io/api/image/2/level1.json"
# Features above 2.1 level 1 that plan/render implement (2.1 §5.3 names). Level 1's own
# (baseUriRedirect, cors, jsonldMediaType, regionByPx, sizeByH, sizeByPct, sizeByW,
# sizeByWhListed) are implied by the level URI. `w,h` distorts when asked to, so both
# sizeByWh and sizeByDistortedWh hold.
SUPPORTS = [
    "canonicalLinkHeader",
    "profileLinkHeader",
    "regionByPct",
    "regionSquare",
    "sizeByConfinedWh",
    "sizeByDistortedWh",
    "sizeByWh",
]


def info_v2(service_id: str, width: int, height: int, color: bool, limits: Limits) -> dict[str, Any]:
    """info.json for the image of width x height pixels served at `service_id` (its base URI).

    >>> info_v2("https://example.org/iiif/image/2/b~0001", 1000, 800, True, Limits(4000, 4000, 10**7))["profile"][0]
    'http://iiif.io/api/image/2/level1.json'
    """
    tile = tile_size(limits)
    factors = scale_factors(width, height, tile)
    qualities = ["color", "gray"] if color else ["gray"]
    return {
        "@context": CONTEXT,
        "@id": service_id,
        "protocol": "http://iiif.io/api/image",
        "width": width,
        "height": height,
        "sizes": [{"width": w, "height": h} for w, h in preferred_sizes(width, height, factors, limits)],
        "tiles": [{"width": tile, "height": tile, "scaleFactors": factors}],
        "profile": [
            PROFILE_URI,
            {
                "formats": [f for f in SUPPORTED_FORMATS if f != "jpg"],
                "qualities": qualities,
                "supports": SUPPORTS,
                "maxWidth": limits.max_width,
                "maxHeight": limits.max_height,
                "maxArea": limits.max_area,
            },
        ],
    }
