"""The front's light HTTP client for its shards' JSON API (#20), against small asyncio servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from search_service.web.shard_http import BadAnswer, ShardHttp

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def _request(reader: asyncio.StreamReader) -> bytes:
    """One request's head, as the server read it."""
    return await reader.readuntil(b"\r\n\r\n")


@pytest.fixture
async def counted() -> AsyncIterator[tuple[str, list[bytes], list[int]]]:
    """A server answering every request on a connection (kept alive), recording requests and connections."""
    requests: list[bytes] = []
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await _request(reader)
                requests.append(head)
                if b"chunked" in head:
                    writer.write(
                        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'
                    )
                else:
                    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"a":1}')
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server, url = await _serve(handler)
    async with server:
        yield url, requests, connections


async def test_requests_reuse_one_kept_connection_and_send_the_query_and_headers(
    counted: tuple[str, list[bytes], list[int]],
) -> None:
    url, requests, connections = counted
    http = ShardHttp([url], 2.0, 1.0)
    for n in range(3):
        assert await http.get(0, "/shard/hits", {"q": "de la", "start": str(n)}, {"Authorization": "Bearer t"}) == (
            200,
            b'{"a":1}',
        )
    assert len(connections) == 1
    assert requests[2].startswith(b"GET /shard/hits?q=de+la&start=2 HTTP/1.1\r\n")
    assert b"Authorization: Bearer t\r\n" in requests[2] and b"Accept-Encoding: identity\r\n" in requests[2]
    assert await http.get(0, "/chunked", {}, {}) == (200, b'{"a":1}')
    http.close()


async def test_a_kept_connection_the_shard_closed_is_replaced_once() -> None:
    connections: list[int] = []

    async def one_answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await _request(reader)
        # Kept alive by the header, then closed: as a shard past its keep-alive timeout does.
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server, url = await _serve(one_answer_then_close)
    async with server:
        http = ShardHttp([url], 2.0, 1.0)
        assert await http.get(0, "/a", {}, {}) == (404, b"{}")
        await asyncio.sleep(0.05)
        assert await http.get(0, "/b", {}, {}) == (404, b"{}")
        assert len(connections) == 2
        http.close()


async def test_a_silent_shard_times_out_and_a_closed_port_is_an_os_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server, url = await _serve(silent)
    async with server:
        http = ShardHttp([url], 0.3, 0.3)
        with pytest.raises(TimeoutError):
            await http.get(0, "/a", {}, {})
        http.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    http = ShardHttp([f"http://127.0.0.1:{free}"], 1.0, 0.5)
    with pytest.raises(OSError):
        await http.get(0, "/a", {}, {})


async def test_garbage_is_a_bad_answer() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()

    server, url = await _serve(garbage)
    async with server:
        http = ShardHttp([url], 1.0, 1.0)
        with pytest.raises(BadAnswer):
            await http.get(0, "/a", {}, {})
        http.close()
