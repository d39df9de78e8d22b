"""Hostile clients against the live server (#16): each finding of the attack, and that it now fails.

Every test talks raw bytes to a real `iiif-search serve` on 127.0.0.1, the seeded data
directory of conftest.py's `service`, and ends with `service.check()`. Sizes and counts
are the attack's, scaled to run in seconds; `bench/hostile.py` runs the long forms and
docs/reliability.md has their figures. Nothing here asserts a duration.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.reliability.conftest import SEED_ID, LiveServer, Service

SEARCH = f"/iiif/{SEED_ID}/search/2?q=de".encode()


@contextlib.contextmanager
def live(service: Service, *extra: str, **env: str) -> Iterator[LiveServer]:
    """Another server over the seeded data directory, with these options and IIIF_SEARCH_* settings."""
    server = LiveServer(service.data_dir, *extra, env={f"IIIF_SEARCH_{k.upper()}": v for k, v in env.items()})
    try:
        yield server
    finally:
        log = server.stop()
        assert "Traceback" not in log, log


def exchange(port: int, request: bytes, timeout: float = 20) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer (the server closes, or Connection: close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may close before all is sent
            sock.sendall(request)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def get(path: bytes, host: bytes = b"127.0.0.1", extra: bytes = b"") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + extra + b"Connection: close\r\n\r\n"


# -- 1. Host header amplification -----------------------------------------------------------------


def test_a_one_megabyte_host_is_refused_before_any_work(service: Service) -> None:
    """Was: a 1 MB Host made a 407 MB answer and +1.5 GB of RSS. Now: 431, a few bytes, no growth."""
    rss = service.server.rss_mb()
    status, headers, body = exchange(service.server.port, get(SEARCH, host=b"h" * 1_000_000))
    assert status == 431 and len(body) < 200 and headers["connection"] == "close"
    # Under the head limit but no host name: refused as such, still a few bytes.
    status, headers, body = exchange(service.server.port, get(SEARCH, host=b"a" * 2000 + b".example"))
    assert status == 400 and len(body) < 300 and json.loads(body)["parameter"] == "Host"
    assert service.server.rss_mb() - rss < 20
    service.check("a 1 MB Host header")


# -- 2. the response cache, bounded by what it keeps ----------------------------------------------


def test_cache_busting_requests_do_not_grow_memory(service: Service) -> None:
    """Was: every new query string a new cache entry, counted by its body only (+1.2 GB for 20,000)."""
    padding = "a" * 7000  # under the request-line limit, like the attack's unknown parameters
    connection = http.client.HTTPConnection("127.0.0.1", service.server.port, timeout=30)

    def bust(first: int, count: int) -> None:
        for n in range(first, first + count):
            connection.request("GET", f"/iiif/{SEED_ID}/autocomplete/2?q=zq&u={n}&j={padding}")
            response = connection.getresponse()
            response.read()
            assert response.status == 200

    bust(0, 200)  # warm up: the first answers and the server's own allocations
    before = service.server.rss_mb()
    bust(200, 5000)
    connection.close()
    grown = service.server.rss_mb() - before
    print(f"\ncache busting: 5,000 requests with unknown parameters, RSS {before:.0f} -> {before + grown:.0f} MB")
    assert grown < 20
    service.check("5,000 cache-busting requests")


# -- 4. slow and unfinished requests ---------------------------------------------------------------


def test_an_overlong_request_line_and_an_oversized_head_are_refused(service: Service) -> None:
    status, _, body = exchange(service.server.port, get(b"/iiif/search/2?q=" + b"a" * 10_000))
    assert status == 414 and b"request line" in body
    many = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"b" * 1000) for i in range(30))
    status, headers, body = exchange(service.server.port, get(SEARCH, extra=many))
    assert status == 431 and headers["connection"] == "close"
    service.check("an over-long request line and a 30 KB head")


def test_a_client_still_sending_after_a_refusal_is_read_not_reset(service: Service) -> None:
    """A 414 comes while the rest of a long request line is on its way. Closing with those bytes
    unread sends a reset, which can destroy the answer before the client reads it (CI saw
    ConnectionResetError once in test_bad_requests); the server half-closes and drops the rest."""
    with socket.create_connection(("127.0.0.1", service.server.port), timeout=20) as sock:
        sock.sendall(b"GET /iiif/search/2?q=inca&user=" + b"%C3%A9" * 1_500)  # over the 8 KB limit
        time.sleep(0.3)  # answered by now
        for _ in range(5):  # the rest of the line: a closed socket would answer with a reset
            sock.sendall(b"%C3%A9" * 2_000)
            time.sleep(0.1)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    assert b"".join(chunks).startswith(b"HTTP/1.1 414 ")
    service.check("a 414 while the client still sends")


def test_an_endless_header_is_cut_off_without_filling_memory(service: Service) -> None:
    """Was: 50 connections sending 20 MB of one unfinished header each: +1 GB of RSS."""
    rss = service.server.rss_mb()
    socks = []
    refused = 0
    for _ in range(10):
        sock = socket.create_connection(("127.0.0.1", service.server.port), timeout=20)
        socks.append(sock)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
    for sock in socks:
        try:
            for _ in range(2000):  # up to 20 MB each, 10 KB at a time; the server cuts it off early
                sock.sendall(b"c" * 10_000)
        except OSError:
            refused += 1
            continue
        finally:
            sock.close()
    assert refused == len(socks)
    assert service.server.rss_mb() - rss < 20
    service.check("10 connections sending an endless header")


def test_unfinished_and_idle_connections_are_closed(service: Service) -> None:
    with live(service, header_timeout="1") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 408 ") and sock.recv(65536) == b""
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            assert sock.recv(65536) == b""  # sent nothing: closed without a word


def test_connections_beyond_the_limit_are_refused_and_the_server_recovers(service: Service) -> None:
    """Was: 19,980 idle unfinished requests took every open file, and /health stopped connecting."""
    with live(service, max_connections="10", header_timeout="2") as server:
        socks = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(15)]
        try:
            time.sleep(0.5)
            refused = 0
            for sock in socks:
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    if sock.recv(65536).startswith(b"HTTP/1.1 503 "):
                        refused += 1
            assert refused >= 5
        finally:
            for sock in socks:
                sock.close()
        deadline = time.monotonic() + 30  # the idle ones are closed by the header timeout
        while server.get("/health")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)


# -- 5. URLs that a client rewrites, and caches keep ------------------------------------------------


def test_with_a_public_url_no_request_header_reaches_a_response(service: Service) -> None:
    public = "https://search.example.org"
    with live(service, "--public-url", public) as server:
        poison = b"X-Forwarded-Proto: gopher\r\nX-Forwarded-Host: evil.example\r\nForwarded: host=evil.example\r\n"
        for path in (f"/iiif/{SEED_ID}/manifest".encode(), SEARCH, b"/iiif/search/1?q=de"):
            status, headers, body = exchange(server.port, get(path, host=b"evil.example", extra=poison))
            assert status == 200 and b"evil.example" not in body and b"gopher" not in body
            assert f"{public}/iiif/".encode() in body
            assert headers["cache-control"].startswith("public, ")
        status, headers, _ = exchange(server.port, get(b"/iiif/image/3/anything", host=b"evil.example"))
        assert "evil.example" not in headers.get("location", "")


def test_without_a_public_url_a_foreign_host_is_refused_and_nothing_is_shared(service: Service) -> None:
    status, headers, body = exchange(service.server.port, get(f"/iiif/{SEED_ID}/manifest".encode(), b"evil.example"))
    assert status == 400 and b"evil.example" in body and b"IIIF_SEARCH_PUBLIC_URL" in body
    assert headers["cache-control"] == "no-store"
    status, headers, _ = exchange(service.server.port, get(SEARCH))
    assert status == 200 and headers["cache-control"].startswith("private, ")  # URLs from the request: not shared


@pytest.mark.parametrize(("trusted", "scheme"), [("127.0.0.1", b"https"), ("10.9.9.9", b"http")])
def test_forwarded_headers_are_believed_only_from_the_proxy(service: Service, trusted: str, scheme: bytes) -> None:
    """X-Forwarded-Proto changes the URLs only when it comes from an address in forwarded_allow_ips."""
    with live(service, forwarded_allow_ips=trusted) as server:
        status, _, body = exchange(
            server.port, get(f"/iiif/{SEED_ID}/manifest".encode(), extra=b"X-Forwarded-Proto: https\r\n")
        )
        assert status == 200 and scheme + b"://127.0.0.1/iiif/" in body
