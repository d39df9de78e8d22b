"""Response helpers shared by the JSON routes: public base URL, JSON-LD negotiation, ETag.

Search 1.0 follows Presentation 2.1 §7.2 and Search 2.0 Presentation 3.0 §6.3:
`application/json` unless the client asks for `application/ld+json`, then that
type with the context URI as `profile`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from indexer.model import BASE_URL_MARKER
from search_service.settings import Settings


def base_url(request: Request, settings: Settings) -> str:
    """The public URL of this server, without a trailing slash."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def resolve_markers(data: Any, base: str) -> Any:
    """Put the public base URL where folder manifests hold BASE_URL_MARKER."""
    text = json.dumps(data, ensure_ascii=False)
    if BASE_URL_MARKER not in text:
        return data
    return json.loads(text.replace(BASE_URL_MARKER, base))


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def gzip_etag(etag: str) -> str:
    """The ETag of a body's gzip form: a different representation gets a different tag (RFC 9110 §8.8.3).

    >>> gzip_etag('"abc"'), gzip_etag('W/"abc"')
    ('"abc-gzip"', 'W/"abc-gzip"')
    """
    return etag[:-1] + '-gzip"'


def not_modified(request: Request, etag: str) -> bool:
    """True when the client's If-None-Match already names this ETag, or its gzip form's.

    If-None-Match compares weakly (RFC 9110 §13.1.2): `W/"x"` names the same version as `"x"`.
    """
    header = request.headers.get("if-none-match", "")
    if header.strip() == "*":
        return True
    ours = _opaque(etag)
    for tag in header.split(","):
        theirs = _opaque(tag.strip())
        if theirs in (ours, ours + "-gzip"):
            return True
    return False


def _opaque(tag: str) -> str:
    """An entity tag without its weakness marker and quotes."""
    if tag[:2] in ("W/", "w/"):
        tag = tag[2:]
    return tag.strip('"')


def wants_json_ld(accept: str) -> bool:
    """Whether an Accept header prefers `application/ld+json` (with a non-zero q) to plain JSON.

    >>> wants_json_ld("application/ld+json"), wants_json_ld("application/ld+json;q=0, application/json")
    (True, False)
    >>> wants_json_ld("application/json;q=0.5, application/ld+json;q=0.9"), wants_json_ld("*/*")
    (True, False)
    """
    best: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (item.strip() for item in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        best[media] = max(best.get(media, 0.0), quality)
    json_ld = best.get("application/ld+json", 0.0)
    plain = max(best.get("application/json", 0.0), best.get("application/*", 0.0), best.get("*/*", 0.0))
    return json_ld > 0 and json_ld >= plain


_MARKER_BYTES = BASE_URL_MARKER.encode()


def encode_json(data: Any, base: str | None = None) -> bytes:
    """Compact UTF-8 JSON; with `base`, BASE_URL_MARKER becomes the public URL.

    orjson gives the bytes of `json.dumps(ensure_ascii=False, separators=(",", ":"))`, ~15 times
    faster. The same as `resolve_markers` without a second serialisation.
    """
    body = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    if base is not None and _MARKER_BYTES in body:
        # The marker is plain ASCII with no JSON escapes, and a URL base once dumped is JSON string content.
        body = body.replace(_MARKER_BYTES, orjson.dumps(base)[1:-1])
    return body


def json_ld_response(
    request: Request,
    data: Any,
    *,
    context: str,
    settings: Settings,
    status_code: int = 200,
    base: str | None = None,
) -> Response:
    """Serialise `data` (see `encode_json`) and answer it with `json_body_response`."""
    return json_body_response(
        request, encode_json(data, base), context=context, settings=settings, status_code=status_code
    )


def json_body_response(
    request: Request,
    body: bytes,
    *,
    context: str | None,
    settings: Settings,
    status_code: int = 200,
    etag: str | None = None,
    gzipped: bool = False,
    vary: str = "Accept",
) -> Response:
    """Answer a serialised JSON body with content negotiation, an ETag, and Cache-Control.

    `context` None: plain JSON that is not JSON-LD (our own /api/search), whatever is asked.
    `gzipped`: `body` is the gzip form of the body `etag` names (see `cacheable_response`).
    """
    if context is not None and wants_json_ld(request.headers.get("accept", "")):
        media_type = f'application/ld+json;profile="{context}"'
    else:
        media_type = "application/json"
    return cacheable_response(
        request,
        etag or etag_for(body),
        body,
        media_type=media_type,
        settings=settings,
        status_code=status_code,
        gzipped=gzipped,
        vary=vary,
    )


def form_etag(etag: str, media_type: str, gzipped: bool = False) -> str:
    """The ETag of one form of a body: its JSON-LD and gzip forms are other representations (RFC 9110 §8.8.3).

    A cache holding the JSON form must not be told by a 304 that it is the JSON-LD form (#23).

    >>> form_etag('"abc"', "application/json"), form_etag('"abc"', 'application/ld+json;profile="p"', gzipped=True)
    ('"abc"', '"abc-ld-gzip"')
    """
    if media_type.startswith("application/ld+json"):
        etag = etag[:-1] + '-ld"'
    return gzip_etag(etag) if gzipped else etag


def cacheable_response(
    request: Request,
    etag: str,
    body: bytes | Callable[[], bytes],
    *,
    media_type: str,
    settings: Settings,
    vary: str | None = "Accept",
    headers: Mapping[str, str] | None = None,
    status_code: int = 200,
    gzipped: bool = False,
) -> Response:
    """The one place a cacheable answer gets its ETag, Cache-Control and Vary, or becomes a 304.

    `body` may be a function, called only when the client's copy is not current (an
    image tile is rendered only then). `etag` names the body's content; the answer's
    ETag also names its form (`form_etag`: JSON-LD, `gzipped`). The 304 carries the
    same headers as the 200, Vary included (RFC 9110 §15.4.5).
    """
    etag = form_etag(etag, media_type, gzipped)
    # Without a configured public URL the answer's URLs come from the request's Host:
    # no shared cache may keep it for other clients (#16), only the browser that asked.
    scope = "public" if settings.public_url else "private"
    all_headers = {"ETag": etag, "Cache-Control": f"{scope}, max-age={settings.cache_max_age}"}
    if vary:
        all_headers["Vary"] = vary
    all_headers.update(headers or {})
    if status_code == 200 and not_modified(request, etag):
        return Response(status_code=304, headers=all_headers)
    content = body() if callable(body) else body
    return Response(content, status_code=status_code, media_type=media_type, headers=all_headers)
