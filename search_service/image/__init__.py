"""The embedded IIIF Image API (3.0 and 2.1, level 1): parse, plan, render.

`request` turns a URL path into checked fields (syntax only), `plan` does the
arithmetic against one image and the server's limits, `render` is the only
module that touches pixels (pyvips), `derivative` keeps the tiled pyramid TIFFs
that make tiles cheap, `resolve` maps identifiers to files, and `info_v2` /
`info_v3` shape the image information documents.
"""

from __future__ import annotations

from search_service.image.derivative import build_derivative, derivative_path
from search_service.image.plan import Limits, Plan, plan
from search_service.image.request import ImageRequest, parse_identifier, parse_image_path
from search_service.image.resolve import resolve_image

__all__ = [
    "ImageRequest",
    "Limits",
    "Plan",
    "build_derivative",
    "derivative_path",
    "parse_identifier",
    "parse_image_path",
    "plan",
    "resolve_image",
]
