"""The front's GET requests to its shards' JSON API (#20): HTTP/1.1 over kept-alive asyncio streams.

httpx cost the front 1.9 ms of CPU per request to a shard, against 0.14 ms for the same
request written and read here (measured on loopback, docs/benchmarks.md#shards), and a
collection answer asks every shard: the front spent more on its client than on the
answer. What a shard's JSON API needs is small: a GET, a status, a body of known length
(or chunked), kept-alive connections. Anything else (forwarding a reader's request, with
its streaming and headers) stays with httpx (shard_client.py).

A connection kept from an earlier request may have been closed by the shard meanwhile
(its keep-alive timeout): a request that fails on such a connection before any answer
came is sent once more on a new one (a GET is safe to repeat). Refused connections are
tried once more too, as httpx's `retries=1` did. Time limits cover the whole request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

#: Connections kept open to each shard between requests (more are closed after use).
KEEP_IDLE = 32


class BadAnswer(ValueError):
    """The shard's bytes were not an HTTP/1.1 answer this client reads."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.answered = False  # whether any byte of an answer came on it

    def close(self) -> None:
        self.writer.close()

    async def get(self, target: str, head: bytes) -> tuple[int, bytes, bool]:
        """(status, body, whether the connection may be used again) of GET `target`."""
        self.writer.write(b"GET " + target.encode("ascii") + b" HTTP/1.1\r\n" + head)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        self.answered = True
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise BadAnswer(f"not an HTTP answer: {status_line[:60]!r}")
        keep = parts[0] == b"HTTP/1.1"
        length: int | None = None
        chunked = False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.endswith(b"chunked")
            elif name == b"connection":
                keep = keep and value != b"close"
        if chunked:
            body = await self._chunks()
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:  # the body runs to the end of the connection
            body, keep = await self.reader.read(), False
        return int(parts[1]), body, keep

    async def _chunks(self) -> bytes:
        body = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while await self.reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return bytes(body)
            body += await self.reader.readexactly(size)
            await self.reader.readexactly(2)


class ShardHttp:
    """GETs to the shards' base URLs by position, each within `timeout` seconds, on kept-alive connections."""

    def __init__(self, urls: list[str], timeout: float, connect_timeout: float) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._places = [urlsplit(url) for url in urls]
        self._idle: list[deque[_Connection]] = [deque() for _ in urls]
        self._tls: ssl.SSLContext | None = None

    async def get(
        self, position: int, path: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        """(status, body) of GET `path` on the shard at `position`.

        Raises TimeoutError past the time limit, OSError when the shard cannot be reached or
        drops the connection, BadAnswer when what it sent is not HTTP.
        """
        place = self._places[position]
        target = (place.path.rstrip("/") + path) + (f"?{urlencode(params)}" if params else "")
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head_bytes = f"Host: {place.netloc}\r\nAccept-Encoding: identity\r\n{head}\r\n".encode("latin-1")
        async with asyncio.timeout(self.timeout):
            for attempt in (1, 2):
                connection, reused = await self._connection(position)
                try:
                    status, body, keep = await connection.get(target, head_bytes)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    connection.close()
                    if attempt == 1 and reused and not connection.answered:
                        continue  # the shard had closed this kept connection: once more on a new one
                    raise ConnectionError(f"the connection was lost ({type(exc).__name__})") from exc
                except BaseException:
                    connection.close()  # mid-answer (a time limit, a bad answer): never used again
                    raise
                idle = self._idle[position]
                if keep and len(idle) < KEEP_IDLE:
                    idle.append(connection)
                else:
                    connection.close()
                return status, body
        raise AssertionError("unreachable")

    async def _connection(self, position: int) -> tuple[_Connection, bool]:
        idle = self._idle[position]
        while idle:
            connection = idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection, True
            connection.close()
        place = self._places[position]
        secure = place.scheme == "https"
        if secure and self._tls is None:
            self._tls = ssl.create_default_context()
        host, port = place.hostname or "127.0.0.1", place.port or (443 if secure else 80)
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(host, port, ssl=self._tls if secure else None)
                return _Connection(reader, writer), False
            except OSError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        for idle in self._idle:
            while idle:
                idle.pop().close()
