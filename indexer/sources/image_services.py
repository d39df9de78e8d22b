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
            best = ImageService(base, version, profile, width, height)
    return best


def image_ref(body: JsonDict, services: Iterable[Any] = ()) -> ImageRef | None:
    """ImageRef for a painted image resource (P3 body, P2.1 resource), or None if it names nothing.

    `width`/`height` are the full image's when the service says, else the body's
    (a body is often a smaller derivative of the service's image). A body whose id
    is just the service URI (P3 §5.7 forbids it; Bodleian does it) gets no `url`.
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
    return ImageRef(
        url=url,
        service=service.base if service else None,
        service_version=service.version if service else None,
        service_profile=service.profile if service else None,
        width=width,
        height=height,
        format=media_type if isinstance(media_type, str) else None,
    )
