"""The HTTP connection layer: uvicorn's httptools protocol with bounds on what a client may hold.

uvicorn reads a request head of any size and waits for it forever: one client sending
20 MB of unfinished header per connection, or thousands of connections that never finish
a request, could fill a worker's memory or its open files (docs/reliability.md, #16).
`GuardedHttpProtocol` refuses, per connection:

- a request head (request line and headers) larger than `max_head_bytes`: 431;
- a request line longer than `max_url_bytes`: 414;
- a head not complete `head_timeout` seconds after its first byte, or after the
  connection opened: 408, then the connection is closed;
- a connection beyond `max_connections` open in this worker: 503 at once.

After such an answer the connection half-closes and reads and drops what the client still sends
(up to `LINGER_BYTES`, for at most `LINGER_SECONDS`) before it closes, as nginx's
`lingering_close` does: closing a socket with unread bytes sends a reset, which can destroy the
answer in the client's buffer before it is read (a 414 was lost that way in CI).

Idle keep-alive connections are closed by uvicorn after `timeout_keep_alive`.
`uvicorn_options(settings)` gives the options every server process runs with.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from search_service.settings import Settings

_REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}
_REASONS[503] = b"Service Unavailable"
#: After a refusal, how long and how much of the rest of a request is read and dropped.
LINGER_SECONDS = 2.0
LINGER_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection may hold before it is refused (see the module docstring)."""

    max_head_bytes: int
    max_url_bytes: int
    head_timeout: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            max_head_bytes=settings.max_request_head_bytes,
            max_url_bytes=settings.max_url_bytes,
            head_timeout=settings.header_timeout,
            max_connections=settings.max_connections,
        )


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds of `ConnectionLimits` (set per subclass)."""

    limits: ConnectionLimits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._line_bytes: int | None = 0  # bytes of the request line so far; None once it ended
        self._reading_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._lingering: int | None = None  # bytes dropped since a refusal; None before one
        self._linger_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, "this server has too many open connections; try again shortly")
            return
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            self._lingering += len(data)
            if self._lingering > LINGER_BYTES:
                self.transport.close()
            return
        if self._reading_head:
            # Counted before the parser sees it: httptools buffers a header line whole,
            # so a limit checked in its callbacks would come after the memory is spent.
            self._head_bytes += len(data)
            if self._line_bytes is not None:
                end = data.find(b"\n")
                self._line_bytes += len(data) if end < 0 else end
                if self._line_bytes > self.limits.max_url_bytes:
                    self._refuse(414, f"the request line is longer than {self.limits.max_url_bytes} bytes")
                    return
                if end >= 0:
                    self._line_bytes = None
            if self._head_bytes > self.limits.max_head_bytes:
                self._refuse(431, f"the request head is larger than {self.limits.max_head_bytes} bytes")
                return
            if self._head_timer is None:
                self._start_head_timer()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A pipelined request starts while the previous one is answered: count its head too.
        self._reading_head = True

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        self._line_bytes = 0  # for the next request on this connection
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._reading_head = True  # the next request's head, when it comes

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            if self._head_bytes:
                self._refuse(408, f"the request head did not arrive within {self.limits.head_timeout:g} s")
            else:
                self.transport.close()  # a connection that never sent anything gets no answer

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with a plain-text `message` and close the connection."""
        self._stop_head_timer()
        self._reading_head = False
        if self.transport.is_closing():
            return
        body = message.encode() + b"\n"
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
            b"content-type: text/plain; charset=utf-8\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"access-control-allow-origin: *\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self._linger()

    def _linger(self) -> None:
        """Half-close after the answer and drop what still comes, so that closing sends no reset."""
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        # The client reads the answer, then its end; once it is done sending, uvicorn's
        # eof_received (returning None) lets asyncio close the transport.
        self.transport.write_eof()
        self._lingering = 0
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def protocol_for(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """A protocol class bound to `limits` (uvicorn instantiates the class it is given)."""
    return type("BoundedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})


def uvicorn_options(settings: Settings, log_level: str = "info") -> dict[str, Any]:
    """The uvicorn.Config options of every server process, from the settings."""
    return {
        "http": protocol_for(ConnectionLimits.from_settings(settings)),
        "log_level": log_level,
        "timeout_keep_alive": settings.keep_alive_timeout,
        # X-Forwarded-For/-Proto are believed only from these addresses (a proxy we run).
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
    }
