"""Server processes: `serve --workers N` (a SO_REUSEPORT socket each, keep-alive connections
shared out) and the garbage collector threshold each process sets.

A real server in a subprocess; which worker holds which connection is read from
/proc (the server-side sockets of the port, by process).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from search_service.settings import Settings
from search_service.web import load_sharing, workers
from search_service.web.app import create_app
from tests.conftest import TEST_HOSTS
from tests.reliability.conftest import LiveServer

pytestmark = pytest.mark.skipif(not workers.supported(), reason="the platform has no SO_REUSEPORT")


def _sockets(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets bound to local `port` in `state` (01 established, 0A listening)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _connections_by_pid(port: int) -> Counter[int]:
    """Established server-side TCP connections on `port`, counted by the process holding them."""
    inodes = _sockets(port, "01")
    counts: Counter[int] = Counter()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except OSError:
            continue
        held = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)
        if held:
            counts[int(fd_dir.parent.name)] += held
    return counts


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def test_keep_alive_connections_reach_every_worker(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, "--workers", "2")
    connections = []
    try:
        # The first worker up answers /health; wait for the second one's socket too.
        deadline = time.monotonic() + 30
        while len(_sockets(server.port, "0A")) < 2:
            assert time.monotonic() < deadline, "the second worker never listened"
            time.sleep(0.1)
        for _ in range(16):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/health")
            response = conn.getresponse()
            assert response.status == 200
            response.read()
            connections.append(conn)
        held = _connections_by_pid(server.port)
        assert sum(held.values()) == 16
        # Two workers, both children of the server, both holding some of the 16 connections
        # (one shared socket gave 13 and 3; all 16 on one worker by hash is 1 in 32,768).
        assert len(held) == 2 and set(held) <= _children(server.process.pid), held
    finally:
        for conn in connections:
            conn.close()
        server.stop()


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, "--workers", "2")
    try:
        before = _children(server.process.pid)
        victim = max(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _children(server.process.pid)
            if victim not in now and len(now - before) >= 1:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no worker replaced {victim}: {server.stderr()}")
        for _ in range(20):  # the new worker accepts too: every request is answered
            assert server.get("/health")[0] == 200
    finally:
        log = server.stop()
    assert f"worker {victim} exited" in log
    assert server.process.returncode == 0  # SIGTERM stops the workers and then the server


def test_a_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    import subprocess

    from tests.reliability.conftest import IIIF_SEARCH, subprocess_env

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*IIIF_SEARCH, "serve", "--workers", "2", "--port", str(port), "--data-dir", str(tmp_path)],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize(
    ("counts", "me", "expected"),
    [([11, 5], 0, True), ([5, 11], 0, False), ([9, 7], 0, False), ([1, 0], 0, False), ([3, 0, 0], 0, True)],
)
def test_overloaded_means_more_than_one_above_the_mean(counts: list[int], me: int, expected: bool) -> None:
    assert load_sharing.overloaded(counts, me) is expected


async def test_an_overloaded_worker_asks_its_client_to_reconnect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = [0, 0]  # requests in flight per worker, as the shared array holds them
    monkeypatch.setattr(load_sharing, "_shared", (counts, 0))
    app = create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.get("/health")
        assert response.status_code == 200 and "connection" not in response.headers
        assert counts == [0, 0]  # counted while in flight, then given back
        counts[0] = 5  # five more requests in flight here, none in the other worker
        response = await client.get("/health")
        assert response.status_code == 200 and response.headers["connection"] == "close"
        assert counts == [5, 0]


def test_the_app_sets_the_garbage_collector_threshold(tmp_path: Path) -> None:
    import gc

    before = gc.get_threshold()
    try:
        create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=tmp_path, gc_threshold=12_345))
        assert gc.get_threshold() == (12_345, *before[1:])
        gc.set_threshold(*before)
        create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=tmp_path, gc_threshold=0))  # 0: left as it is
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*before)
