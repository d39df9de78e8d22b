"""IIIF Image API services and painted image resources in a manifest -> ImageService, ImageRef.

Image API 1.x, 2.1 and 3.0 services are told apart by type, @context or profile; the best
(newest) one of a resource is kept, with the full image size when the manifest embeds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from indexer.model import ImageRef
from indexer.sources.json_values import JsonDict, as_list, positive_int, resource_id, resource_type


@dataclass(frozen=True, slots=True)
class ImageService:
    """A IIIF Image API service: base URI (no trailing slash or /info.json), version 1-3, profile.

    `width`/`height` are the full image's pixels when the manifest embeds them
    from info.json (Image API 3.0 §5.1), else None.
    """

    base: str
    version: int
    profile: str | None
    width: int | None = None
    height: int | None = None
    # Inches of the object per pixel of the full image, from a Physical Dimensions service in the
    # service's own `service` list (as info.json carries it), else None.
    inches_per_pixel: float | None = None


def _service_version(service: JsonDict, profile: str | None) -> int | None:
    """Image API version of a service object, or None when it is not an image service."""
    kind = resource_type(service) or ""
    # P3 §3.3.1: ImageService1/2/3 types; older services say it with @context or profile.
    for version in (3, 2, 1):
        if kind == f"ImageService{version}":
            return version
    contexts = " ".join(c for c in as_list(service.get("@context")) if isinstance(c, str))
    for version in (3, 2, 1):
        if f"iiif.io/api/image/{version}/" in contexts:
            return version
    if "library.stanford.edu/iiif/image-api" in contexts:  # Image API 1.0/1.1 context
        return 1
    if profile:
        for version in (3, 2, 1):
            if f"iiif.io/api/image/{version}/" in profile:
                return version
        if "library.stanford.edu/iiif/image-api" in profile:
            return 1
        if profile in ("level0", "level1", "level2"):  # Image API 3.0 §5.3 short names
            return 3
    return None


def _profile(service: JsonDict) -> str | None:
    # Image API 2.1 §5.1: profile is a compliance URI, or a list starting with one.
    for candidate in as_list(service.get("profile")):
        if isinstance(candidate, str):
            return candidate
    return None


def image_service(value: Any, services: Iterable[Any] = ()) -> ImageService | None:
    """The best IIIF Image service among a `service` value (highest Image API version).

    `services` is the manifest's top-level `services` list: P3 §3.3.1 lets a
    `service` entry be only id and type, with the full description there.
    >>> image_service([{"@id": "https://x/iiif/p1/", "@type": "ImageService2",
    ...                 "profile": "http://iiif.io/api/image/2/level1.json"}]).base
    'https://x/iiif/p1'
    """
    expanded = {resource_id(s): s for s in services if isinstance(s, dict) and resource_id(s)}
    best: ImageService | None = None
    for service in as_list(value):
        if not isinstance(service, dict):
            continue
        base = resource_id(service)
        if base is None:
            continue
        if base in expanded:
            service = {**expanded[base], **service}
        profile = _profile(service)
        version = _service_version(service, profile)
        if version is None:
            continue
        # P2.1 §5.4: the base URI has no trailing slash; some put /info.json on it.
        base = base.removesuffix("/info.json").rstrip("/")
        if best is None or version > best.version:
            width, height = positive_int(service.get("width")), positive_int(service.get("height"))
            if width is None or height is None:
                width = height = None
            best = ImageService(base, version, profile, width, height, inches_per_unit(service.get("service")))
    return best


#: Inches in one of the Physical Dimensions service's `physicalUnits`: the annex names these three.
_INCHES_PER = {"in": 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4}


def inches_per_unit(value: Any) -> float | None:
    """Inches of the object per canvas unit (or image pixel) from a Physical Dimensions service among `value`.

    The annex's service (http://iiif.io/api/annex/services/physdim): the object's physical width
    is the canvas's width x `physicalScale`, in `physicalUnits`. Recognised by its profile or
    its context, in a P2.1 or P3 `service` list; None without one, or with units it does not name.

    >>> inches_per_unit([{"@context": "http://iiif.io/api/annex/services/physdim/1/context.json",
    ...                   "profile": "http://iiif.io/api/annex/services/physdim",
    ...                   "physicalScale": 0.0025, "physicalUnits": "in"}])
    0.0025
    >>> round(inches_per_unit({"profile": "http://iiif.io/api/annex/services/physdim",
    ...                        "physicalScale": 0.0254, "physicalUnits": "cm"}), 6)
    0.01
    """
    for service in as_list(value):
        if not isinstance(service, dict):
            continue
        named = [v for key in ("profile", "@context", "type", "@type") for v in as_list(service.get(key))]
        if not any(isinstance(v, str) and "annex/services/physdim" in v for v in named):
            continue
        scale, units = service.get("physicalScale"), service.get("physicalUnits")
        if isinstance(scale, int | float) and not isinstance(scale, bool) and scale > 0 and units in _INCHES_PER:
            return float(scale) * _INCHES_PER[units]
    return None


def image_ref(body: JsonDict, services: Iterable[Any] = (), canvas: JsonDict | None = None) -> ImageRef | None:
    """ImageRef for a painted image resource (P3 body, P2.1 resource), or None if it names nothing.

    `width`/`height` are the full image's when the service says, else the body's
    (a body is often a smaller derivative of the service's image). A body whose id
    is just the service URI (P3 §5.7 forbids it; Bodleian does it) gets no `url`.
    `physical_width` is the object's width in inches, from a Physical Dimensions service on the
    image service (x the image's width) or else on the `canvas` (x the canvas's width).
    """
    service = image_service(body.get("service"), services)
    url = resource_id(body)
    if service is not None and url is not None and url.rstrip("/") == service.base:
        url = None
    if service is None and url is None:
        return None
    width, height = positive_int(body.get("width")), positive_int(body.get("height"))
    if service is not None and service.width is not None:
        width, height = service.width, service.height
    if width is None or height is None:
        width = height = None
    media_type = body.get("format")
    physical_width = None
    if service is not None and service.inches_per_pixel is not None and width is not None:
        physical_width = service.inches_per_pixel * width
    elif canvas is not None and (per_unit := inches_per_unit(canvas.get("service"))) is not None:
        # The image is painted over the whole canvas: the canvas's width is the image's.
        canvas_width = positive_int(canvas.get("width")) or width
        physical_width = per_unit * canvas_width if canvas_width is not None else None
    return ImageRef(
        url=url,
        service=service.base if service else None,
        service_version=service.version if service else None,
        service_profile=service.profile if service else None,
        width=width,
        height=height,
        format=media_type if isinstance(media_type, str) else None,
        physical_width=physical_width,
    )
