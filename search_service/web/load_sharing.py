"""Evening out keep-alive connections between the worker processes of `search_service.web.workers`.

The kernel spreads new connections over the workers' SO_REUSEPORT sockets by hash, so one
worker can hold 11 of 16 keep-alive clients. Each worker counts its requests in flight in
shared memory, and one carrying more than its share answers with `Connection: close`: that
client reconnects and lands anew. In a single-process server this is a no-op.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: In a worker process of `run`: every worker's requests in flight (shared memory) and
#: this worker's index in it. None in a single-process server.
_shared: tuple[Any, int] | None = None


class ShareLoad:
    """ASGI middleware: in a worker of `run`, sheds keep-alive connections while it carries
    more than its share of the requests in flight (a no-op in a single-process server)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        shared = _shared
        if shared is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counts, me = shared
        counts[me] += 1  # only this worker's event loop writes its slot

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and overloaded(list(counts), me):
                message = dict(message, headers=[*message.get("headers", []), (b"connection", b"close")])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            counts[me] -= 1


def overloaded(counts: list[int], me: int) -> bool:
    """Whether worker `me` has more than one request in flight above the workers' mean.

    >>> overloaded([11, 5], 0), overloaded([9, 7], 0), overloaded([1, 0], 0)
    (True, False, False)
    """
    return counts[me] * len(counts) > sum(counts) + len(counts)


def join(counts: Any, index: int) -> None:
    """Called once in a worker process: the workers' shared counts and this worker's slot in them."""
    global _shared
    _shared = (counts, index)
