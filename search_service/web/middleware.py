"""ASGI middleware every response goes through: the Host check, CORS, nosniff, and HEAD for every GET.

Starlette's CORSMiddleware only answers requests that carry an Origin header;
IIIF asks for `Access-Control-Allow-Origin` on every response (Image API 3.0 §6,
Presentation 3.0 §6.3), so it is added unconditionally here.

Without a configured public URL, every URL in a response is built from the request's
`Host`: a Host that is malformed, oversized or not in `allowed_hosts` gets a 400
here, before any handler (#16: a 1 MB Host made a 407 MB answer, and any Host ended
up in the manifests that caches keep).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: A DNS name (RFC 1123 labels), an IPv4 address or a bracketed IPv6 address, then an optional port.
_HOST = re.compile(
    r"(?P<name>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?"
    r"|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?"
)
#: RFC 1035: a name is at most 253 characters.
MAX_HOST_LENGTH = 253 + len(":65535")


def host_name(value: str) -> str | None:
    """The host part of a well-formed `Host` header value, lower-cased; None when malformed.

    >>> host_name("Example.org:8000"), host_name("[::1]:80"), host_name("evil.example/x"), host_name("a" * 300)
    ('example.org', '[::1]', None, None)
    """
    if len(value) > MAX_HOST_LENGTH:
        return None
    match = _HOST.fullmatch(value)
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    return match["name"].lower().rstrip(".")


def host_allowed(name: str, allowed: Sequence[str]) -> bool:
    """Whether a host name matches the allow-list: exact, `*`, or `.domain` for a domain and its subdomains.

    >>> host_allowed("iiif.example.org", [".example.org"]), host_allowed("example.org.evil", [".example.org"])
    (True, False)
    """
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or name == pattern.rstrip("."):
            return True
        if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
            return True
    return False


_NOTHING_RUNS = [
    (b"content-security-policy", b"default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
]


def _may_show_as_page(headers: list[tuple[bytes, bytes]]) -> bool:
    """True for an answer without a policy of its own that is not a script.

    A script keeps no policy header: a viewer's worker script (UV's PDF.js) would run under
    it, with `default-src 'none'`, and could fetch nothing.
    """
    values = {k.lower(): v for k, v in headers}
    return b"content-security-policy" not in values and b"javascript" not in values.get(b"content-type", b"")


_PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    # `*` does not cover Authorization (Fetch standard): a viewer on another site sends its Auth
    # bearer token to info.json, search and the probe service (#22), so it is named.
    (b"access-control-allow-headers", b"*, Authorization"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


def _gzip_etag(headers: list[tuple[bytes, bytes]], status: int, if_none_match: bytes) -> list[tuple[bytes, bytes]]:
    """Give a gzip-encoded body (GZipMiddleware's) its own ETag, as responses.gzip_etag does.

    A 304 answering a client that holds the gzip form names that form's tag.
    """
    values = dict(headers)
    etag = values.get(b"etag")
    if etag is None or etag.endswith(b'-gzip"'):
        return headers
    gzipped = etag[:-1] + b'-gzip"'
    encoded = values.get(b"content-encoding") == b"gzip"
    if encoded or (status == 304 and gzipped.lstrip(b"W/") in if_none_match):
        return [(k, gzipped if k == b"etag" else v) for k, v in headers]
    return headers


def _one_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """One Vary header, each field named once: ours names Accept-Encoding on every answer of a
    body that has a gzip form, 304s too (#23), and the GZip middleware adds it again to the 200s.

    >>> _one_vary([(b"vary", b"Accept, Accept-Encoding"), (b"etag", b'"x"'), (b"vary", b"accept-encoding")])
    [(b'etag', b'"x"'), (b'vary', b'Accept, Accept-Encoding')]
    """
    values = [v for k, v in headers if k.lower() == b"vary"]
    if len(values) < 2 and (not values or b"," not in values[0]):
        return headers
    fields: dict[bytes, bytes] = {}
    for value in values:
        for field in value.split(b","):
            fields.setdefault(field.strip().lower(), field.strip())
    others = [(k, v) for k, v in headers if k.lower() != b"vary"]
    return [*others, (b"vary", b", ".join(fields.values()))]


class IiifHttpMiddleware:
    """Checks the Host, adds CORS and nosniff headers, answers preflight OPTIONS, serves HEAD as GET.

    `allowed_hosts` is None when the public URL is configured: then the Host changes
    nothing in a response and is not checked.
    """

    def __init__(self, app: ASGIApp, allow_origin: str = "*", allowed_hosts: Sequence[str] | None = None) -> None:
        self.app = app
        self.allow_origin = allow_origin.encode()
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allowed_hosts is not None:
            problem = self._host_problem(scope)
            if problem is not None:
                await self._refuse(send, problem)
                return
        method = scope["method"]
        if method == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [(b"access-control-allow-origin", self.allow_origin), *_PREFLIGHT_HEADERS],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        is_head = method == "HEAD"
        if is_head:
            scope = dict(scope, method="GET")
        if_none_match = next((value for name, value in scope["headers"] if name == b"if-none-match"), b"")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"access-control-allow-origin", b"x-content-type-options")
                ]
                headers.append((b"access-control-allow-origin", self.allow_origin))
                # Error texts echo what the client sent: never let a browser sniff them as HTML.
                headers.append((b"x-content-type-options", b"nosniff"))
                if _may_show_as_page(headers):
                    # Any answer a browser could show as a page, ours or an error, runs nothing and
                    # cannot be framed unless its route says otherwise (pages.py, #23).
                    headers.extend(_NOTHING_RUNS)
                headers = _one_vary(_gzip_etag(headers, message["status"], if_none_match))
                message = dict(message, headers=headers)
            elif is_head and message["type"] == "http.response.body":
                message = dict(message, body=b"")
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _host_problem(self, scope: Scope) -> str | None:
        assert self.allowed_hosts is not None
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        if len(hosts) != 1:
            return "the request needs exactly one Host header"
        value = hosts[0].decode("latin-1")
        name = host_name(value)
        if name is None:
            return f"the Host header is not a host name or address ({len(value)} characters)"
        if not host_allowed(name, self.allowed_hosts):
            return (
                f"host {name!r} is not served here: set the server's public URL (IIIF_SEARCH_PUBLIC_URL, "
                "--public-url) or add the name to IIIF_SEARCH_ALLOWED_HOSTS"
            )
        return None

    async def _refuse(self, send: Send, message: str) -> None:
        body = json.dumps({"error": message, "status": 400, "parameter": "Host"}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"access-control-allow-origin", self.allow_origin),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
