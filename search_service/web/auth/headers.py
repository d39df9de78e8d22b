"""Caching headers of a server holding books not everyone may read (#22).

Two rules, on every answer, so no route can forget them:
- once any book is not public, every answer says `Vary: Cookie, Authorization`: a shared
  cache must not give an anonymous reader what it kept for a logged-in one (a
  collection answer counting restricted books), nor the reverse;
- an answer to a reader holding a token is `Cache-Control: private, no-cache`: no shared
  cache keeps it, and the browser asks again (a 304 costs nothing) after a logout.
Refusals are `no-store` already (error_handlers.py), and a book's gate runs before any
ETag is compared, so a 304 never answers a reader the 200 would have refused.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.index.library import Library
from search_service.web.auth.reader import SCOPE_KEY, Reader


def _vary(headers: MutableHeaders, names: tuple[str, ...]) -> None:
    present = [part.strip() for part in headers.get("vary", "").split(",") if part.strip()]
    lower = {part.lower() for part in present}
    wanted = present + [name for name in names if name.lower() not in lower]
    if wanted != present:
        headers["Vary"] = ", ".join(wanted)


class AccessHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope["app"].state
                library: Library = state.library
                # A shard front cannot tell cheaply whether its shards guard books: it always says so.
                vary = getattr(state, "shards", None) is not None or library.guarded()
                reader = scope.get(SCOPE_KEY)
                private = isinstance(reader, Reader) and not reader.anonymous
                if vary or private:  # else (public books, anonymous readers) nothing to touch
                    headers = MutableHeaders(scope=message)
                    if vary:
                        _vary(headers, ("Cookie", "Authorization"))
                    if private and "no-store" not in headers.get("cache-control", ""):
                        headers["Cache-Control"] = "private, no-cache"
            await send(message)

        await self.app(scope, receive, send_with_headers)
