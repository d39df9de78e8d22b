"""ASGI middleware every response goes through: CORS on everything, and HEAD for every GET.

Starlette's CORSMiddleware only answers requests that carry an Origin header;
IIIF asks for `Access-Control-Allow-Origin` on every response (Image API 3.0 §6,
Presentation 3.0 §6.3), so it is added unconditionally here.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"*"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


class IiifHttpMiddleware:
    """Adds CORS headers, answers preflight OPTIONS, and serves HEAD as GET without a body."""

    def __init__(self, app: ASGIApp, allow_origin: str = "*") -> None:
        self.app = app
        self.allow_origin = allow_origin.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"access-control-allow-origin"]
                headers.append((b"access-control-allow-origin", self.allow_origin))
                message = dict(message, headers=headers)
            elif is_head and message["type"] == "http.response.body":
                message = dict(message, body=b"")
            await send(message)

        await self.app(scope, receive, send_wrapper)
