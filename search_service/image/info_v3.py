"""The image information document (info.json) of Image API 3.0, level 1 (§5).

Plain dicts, shaped after the spec's complete response (§5.9); `plan` supplies
the tile and size arithmetic. Knows nothing of 2.1 (see `info_v2`).
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

CONTEXT = "http://iiif.io/api/image/3/context.json"
PROFILE_URI = "http://iiif.io/api/image/3/level1.json"
# Features above level 1 that plan/render implement (§5.7 names); level 1's own
# (baseUriRedirect, cors, jsonldMediaType, regionByPx, regionSquare, sizeByH,
# sizeByW, sizeByWh) are implied by "level1" and not repeated. Each one listed
# is exercised by tests/search_service/image/test_image_routes.py.
EXTRA_FEATURES = ["canonicalLinkHeader", "profileLinkHeader", "regionByPct", "sizeByConfinedWh", "sizeByPct"]


def info_v3(service_id: str, width: int, height: int, color: bool, limits: Limits) -> dict[str, Any]:
    """info.json for the image of width x height pixels served at `service_id` (its base URI).

    >>> info_v3("https://example.org/iiif/image/3/b~0001", 1000, 800, True, Limits(4000, 4000, 10**7))["profile"]
    'level1'
    """
    tile = tile_size(limits)
    factors = scale_factors(width, height, tile)
    # §4.4: extra qualities are listed; `color` only when the image has colour to give.
    qualities = ["color", "gray"] if color else ["gray"]
    return {
        "@context": CONTEXT,
        "id": service_id,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level1",
        "width": width,
        "height": height,
        "maxWidth": limits.max_width,
        "maxHeight": limits.max_height,
        "maxArea": limits.max_area,
        "sizes": [{"width": w, "height": h} for w, h in preferred_sizes(width, height, factors, limits)],
        "tiles": [{"width": tile, "height": tile, "scaleFactors": factors}],
        "extraFormats": [f for f in SUPPORTED_FORMATS if f != "jpg"],
        "extraQualities": qualities,
        "extraFeatures": EXTRA_FEATURES,
    }
