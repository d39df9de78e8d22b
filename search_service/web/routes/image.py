"""Thin handlers of the embedded Image API: 3.0 under /iiif/image/3/, 2.1 under /iiif/image/2/.

Each request is split on the raw (still percent-encoded) path, so `%2F` stays
inside an identifier (Image API 3.0 §9); then parse, resolve, plan and render
run in the thread pool (pyvips releases the GIL) and the answer gets an ETag,
Cache-Control and the profile (and canonical) Link header. Errors are raised
and become plain-text responses in `search_service/errors.py`; CORS and HEAD
come from the middleware.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from search_service.errors import AccessDenied, ImageRequestError, NotFound
from search_service.image import info_v2, info_v3
from search_service.image.derivative import build_derivative, derivative_path, source_info
from search_service.image.plan import Limits, plan
from search_service.image.render import render
from search_service.image.request import ApiVersion, parse_identifier, parse_image_path
from search_service.image.resolve import resolve_image
from search_service.settings import Settings
from search_service.web.auth.gate import denied_message, image_access, library_of
from search_service.web.auth.reader import reader_of
from search_service.web.auth.services import auth_services
from search_service.web.deps import BaseUrlDep, SettingsDep
from search_service.web.responses import cacheable_response, encode_json, etag_for, wants_json_ld

router = APIRouter(tags=["image"])

_MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png"}
_PROFILES = {"3.0": info_v3.PROFILE_URI, "2.1": info_v2.PROFILE_URI}
_CONTEXTS = {"3.0": info_v3.CONTEXT, "2.1": info_v2.CONTEXT}


@router.api_route("/iiif/image/3/{path:path}", methods=["GET"], summary="IIIF Image API 3.0 (level 1)")
async def image_service_v3(request: Request, path: str, settings: SettingsDep, base: BaseUrlDep) -> Response:
    """info.json, image requests and base-URI redirects of Image API 3.0."""
    return await _serve(request, "3.0", settings, base)


@router.api_route("/iiif/image/2/{path:path}", methods=["GET"], summary="IIIF Image API 2.1 (level 1)")
async def image_service_v2(request: Request, path: str, settings: SettingsDep, base: BaseUrlDep) -> Response:
    """info.json, image requests and base-URI redirects of Image API 2.1."""
    return await _serve(request, "2.1", settings, base)


async def _serve(request: Request, version: ApiVersion, settings: Settings, base: str) -> Response:
    segments = _service_path(request, version).split("/")
    if not segments[0]:
        raise NotFound("no identifier: expected /iiif/image/{3|2}/{identifier}/info.json")
    if len(segments) == 1 or segments[1:] == [""]:
        identifier = parse_identifier(segments[0])
        _resolve(request, identifier, settings)
        # 3.0 §2: dereferencing the base URI is "RECOMMENDED [to] be a 303 status redirection".
        return RedirectResponse(f"{_service_id(base, version, identifier)}/info.json", status_code=303)
    if len(segments) == 2 and segments[1] == "info.json":
        identifier = parse_identifier(segments[0])
        return await run_in_threadpool(_info, request, version, identifier, settings, base)
    if len(segments) == 5:
        return await run_in_threadpool(_image, request, version, "/".join(segments), settings, base)
    # 3.0 §2: paths of other shapes are outside the spec; an unencoded slash in an identifier lands here.
    raise NotFound(
        "not an Image API path: expected {identifier}/info.json or "
        "{identifier}/{region}/{size}/{rotation}/{quality}.{format}"
    )


def _resolve(request: Request, identifier: str, settings: Settings) -> tuple[Path, str, str | None, bool]:
    """The image's file, its access level and guarded book, and whether the reader may see it (#22).

    Resolved among every level's images, then the file's level is asked: whichever
    identifier or image root leads to a restricted book's file, the answer is a 401.
    """
    source = resolve_image(identifier, library_of(request).images(), settings.image_roots)
    access, book = image_access(request, source)
    return source, access, book, reader_of(request).may_read(access)


def _info(request: Request, version: ApiVersion, identifier: str, settings: Settings, base: str) -> Response:
    source, access, book, allowed = _resolve(request, identifier, settings)
    info = source_info(source, settings.max_source_pixels)
    service_id = _service_id(base, version, identifier)
    shape = info_v3.info_v3 if version == "3.0" else info_v2.info_v2
    doc = shape(service_id, info.width, info.height, info.color, _limits(settings))
    if book is not None:
        doc["service"] = auth_services(base, book, access)  # the login (and logout) the viewer offers
        if not allowed:
            # Auth 1.0 §3.1 and 2.0: the viewer reads the services from the 401's body; it
            # gets what it needs to show the login and the canvas's shape, no sizes or tiles.
            kept = ("@context", "@id", "id", "type", "protocol", "profile", "width", "height", "service")
            raise AccessDenied(denied_message(access), document={k: v for k, v in doc.items() if k in kept})
    return _json_response(request, version, doc, settings)


def _image(request: Request, version: ApiVersion, path: str, settings: Settings, base: str) -> Response:
    image_request = parse_image_path(path, version)
    source, access, _, allowed = _resolve(request, image_request.identifier, settings)
    if not allowed:
        raise AccessDenied(denied_message(access))
    info = source_info(source, settings.max_source_pixels)
    image_plan = plan(image_request, info.width, info.height, _limits(settings), color=info.color)
    pyramid = derivative_path(source, settings.data_dir)
    # The ETag names the source's state and the canonical request, so equivalent URLs share it
    # and a revalidation costs a stat, not a render.
    etag = '"' + hashlib.blake2b(f"{pyramid.name}/{image_plan.canonical}".encode(), digest_size=12).hexdigest() + '"'
    service_id = _service_id(base, version, image_request.identifier)
    # 3.0 §4.8 canonical link and §6 profile link (canonicalLinkHeader, profileLinkHeader).
    link = f'<{service_id}/{image_plan.canonical}>;rel="canonical", <{_PROFILES[version]}>;rel="profile"'

    def rendered() -> bytes:
        pyramid = build_derivative(source, settings.data_dir, max_pixels=settings.max_source_pixels)
        return render(image_plan, pyramid)

    return cacheable_response(
        request,
        etag,
        rendered,
        media_type=_MEDIA_TYPES[image_plan.format],
        settings=settings,
        vary=None,
        headers={"Link": link},
    )


def _json_response(request: Request, version: ApiVersion, doc: dict[str, Any], settings: Settings) -> Response:
    body = encode_json(doc)
    return cacheable_response(
        request,
        etag_for(body),
        body,
        media_type=_json_media_type(request, version),
        settings=settings,
        headers={"Link": f'<{_PROFILES[version]}>;rel="profile"'},
    )


def _json_media_type(request: Request, version: ApiVersion) -> str:
    """Content negotiation of info.json (3.0 §5.1; 2.1 §5.1)."""
    accept = request.headers.get("accept", "")
    json_ld = f'application/ld+json;profile="{_CONTEXTS[version]}"'
    if wants_json_ld(accept):
        return json_ld
    if version == "2.1":
        # 2.1 §5.1: JSON-LD only when the Accept header asks for it, else application/json.
        return "application/json"
    # 3.0 §5.1: without an Accept header the type SHOULD be application/ld+json with the
    # context as profile; a client that names application/json (and not JSON-LD) gets that.
    return "application/json" if "application/json" in accept else json_ld


def _service_path(request: Request, version: ApiVersion) -> str:
    """The raw path after `/iiif/image/{3|2}/`, percent-encoding intact."""
    prefix = f"/iiif/image/{version[0]}/"
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImageRequestError("path: not UTF-8", "path") from exc
        start = text.find(prefix)
        if start >= 0:
            return text[start + len(prefix) :]
    # No raw path from the server: the decoded one, re-encoded (an encoded slash is lost).
    return quote(str(request.path_params.get("path", "")), safe="/:,!^~$&'()*+;=@")


def _service_id(base: str, version: ApiVersion, identifier: str) -> str:
    """The base URI of an image service (3.0 §2), with the identifier encoded as §9 asks."""
    return f"{base}/iiif/image/{version[0]}/{quote(identifier, safe=_IDENTIFIER_SAFE)}"


# §9 encodes "/ ? # [ ] @ %" and non-ASCII; other sub-delims and ':' may stay as they are.
_IDENTIFIER_SAFE = "!$&'()*+,;=:~"


def _limits(settings: Settings) -> Limits:
    return Limits(settings.max_image_width, settings.max_image_height, settings.max_image_area)
