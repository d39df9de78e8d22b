"""Fixtures for the indexer tests: a local HTTP server and fetchers that never leave the machine."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.fetch import Fetcher


@pytest.fixture(scope="session")
def manifests_dir(test_data: Path) -> Path:
    """The real v2 and v3 manifests and collections (`test_data` is tests/conftest.py's)."""
    return test_data / "iiif" / "manifests"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


ServeDirectory = Callable[[Path], str]


@pytest.fixture
def http_server() -> Iterator[ServeDirectory]:
    """serve(directory) -> base URL of an http.server on 127.0.0.1 serving it, stopped after the test."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def serve(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """A real Fetcher (for local files and the local HTTP server) that does not sleep between retries."""
    with Fetcher(retries=1, sleep=lambda seconds: None) as real:
        yield real


class LocalIiif:
    """A MockTransport that answers each manifest's own `id` URL with the local copy, 404 otherwise.

    `aliases` adds URL -> local file answers; `requested` lists every URL asked for.
    """

    def __init__(self, manifests_dir: Path) -> None:
        self.files: dict[str, Path] = {}
        for path in sorted(manifests_dir.rglob("*.json")):
            data = json.loads(path.read_bytes())
            if isinstance(data, dict):
                own_id = data.get("id", data.get("@id"))
                if isinstance(own_id, str):
                    self.files.setdefault(own_id, path)
        self.requested: list[str] = []

    def alias(self, url: str, path: Path) -> None:
        """Answer `url` with the file at `path` (for members we have no copy of)."""
        self.files[url] = path

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requested.append(url)
        path = self.files.get(url)
        if path is None:
            return httpx.Response(404, text="not here")
        return httpx.Response(200, content=path.read_bytes(), headers={"Content-Type": "application/json"})

    def fetcher(self) -> Fetcher:
        return Fetcher(transport=httpx.MockTransport(self.handle), retries=0, sleep=lambda seconds: None)


@pytest.fixture
def local_iiif(manifests_dir: Path) -> LocalIiif:
    """Remote manifest URLs answered from the copies in tests/data, so nothing reaches the internet."""
    return LocalIiif(manifests_dir)
