"""Fixtures of the reliability tests (#6): a seeded index behind a live server, and a misbehaving HTTP server.

- `service`: one data directory per session holding the book `seed` (20 pages of the
  *Histoire du Pérou* hOCR of tests/data, indexed with `--ocr existing`), served by a real
  `iiif-search serve` on a free port of 127.0.0.1. `service.check()` is the question
  every bad-input test ends with: does the index still open, is `seed` whole, does the
  server still answer its searches with the same totals as before?
- `bad_http`: a local `http.server` whose paths say how to misbehave: 404, 500 a few
  times then 200, stall longer than the fetcher's timeout, HTML instead of an image,
  a body cut off mid-transfer, a large body streamed in chunks.

Nothing here leaves 127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bench.common import PERU_HOCR, hocr_manifest, split_hocr_pages
from indexer.cli import main as index_manifest
from indexer.index.store import Store

REPO = Path(__file__).resolve().parents[2]
SEED_ID = "seed"
#: Pages of the 347-page hOCR that carry text (the first ones are title pages and blanks).
SEED_PAGES = slice(8, 28)
#: Subprocess form of the two commands, run from this checkout whatever is installed.
INDEX_MANIFEST = [sys.executable, "-c", "from indexer.cli import main; main()"]
IIIF_SEARCH = [sys.executable, "-c", "from search_service.cli import main; main()"]

Pages = list[tuple[Path, int, int]]


def subprocess_env() -> dict[str, str]:
    """The environment for our commands: this checkout first, no IIIF_SEARCH_* from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IIIF_SEARCH_")}
    env["PYTHONPATH"] = str(REPO)
    return env


# -- the seeded index behind a live server ------------------------------------------------------


@pytest.fixture(scope="session")
def peru_pages(tmp_path_factory: pytest.TempPathFactory) -> Pages:
    """Each page of the 347-page hOCR of tests/data as its own file: (path, width, height)."""
    return split_hocr_pages(PERU_HOCR, tmp_path_factory.mktemp("peru-pages"))


def write_manifest(path: Path, pages: Pages, manifest_id: str, **changes: Any) -> Path:
    """A Presentation 3.0 manifest linking each page's hOCR (bench/common.py's shape), with `changes` applied."""
    manifest = hocr_manifest(pages, manifest_id)
    manifest.update(changes)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`iiif-search serve` in a subprocess on a free port of 127.0.0.1 (`wrapper` runs it, e.g. in a mount namespace)."""

    def __init__(
        self,
        data_dir: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        wrapper: Sequence[str] = (),
        startup: float = 30,
        port: int | None = None,
    ) -> None:
        """`extra` are more `serve` options; `env` more IIIF_SEARCH_* settings; `wrapper` a command prefix;
        `startup` the seconds it may take to answer; `port` a given one (a server started again where it was)."""
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # A file, not a pipe: a server that logs a lot must never block on a full pipe.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (open for the server's life; closed in stop())
        self.process = subprocess.Popen(
            [
                *wrapper,
                *IIIF_SEARCH,
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "warning",
                *extra,
            ],
            env={**subprocess_env(), **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + startup
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"iiif-search serve exited with {self.process.returncode}: {self.stop()}")
            try:
                self.get("/health")
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"iiif-search serve did not answer within {startup:g} s")
                time.sleep(0.1)

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        """(status, body) of a GET; error statuses are returned, not raised."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get_json(self, path: str) -> dict[str, Any]:
        status, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        data: dict[str, Any] = json.loads(body)
        return data

    def total(self, book: str, q: str) -> int:
        """Number of hits of `q` in `book`, from Search 1.0's `within.total`."""
        return int(self.get_json(f"/iiif/{book}/search/1?q={urllib.parse.quote(q)}")["within"]["total"])

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stderr(self) -> str:
        """What the server has written to stderr so far (its last 3000 characters)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> str:
        """Stop the server; returns the tail of what it wrote to stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        text = self.stderr()
        self.log.close()
        return text


@dataclass
class Service:
    """The seeded data directory, its live server, and what `seed` answered before any test ran."""

    data_dir: Path
    server: LiveServer
    pages: int
    totals: dict[str, int]
    checks: int = 0
    inputs: list[str] = field(default_factory=list)
    generation: int = -2

    def settle(self) -> None:
        """Wait until the server has looked for a new commit (it does at most every 0.25 s)."""
        time.sleep(0.3)

    def check(self, what: str = "") -> None:
        """Nothing already indexed is lost and the server still answers: the end of every bad-input test."""
        snap = Store(self.data_dir).snapshot()  # the index still opens
        try:
            book = snap.book(SEED_ID)
            assert book is not None and book.page_count == self.pages, f"{SEED_ID} lost pages after {what}"
            generation = snap.generation
        finally:
            snap.close()
        assert self.server.get("/health")[0] == 200
        if generation != self.generation:
            self.settle()  # something was committed: let the server see it before asking
            self.generation = generation
        for q, total in self.totals.items():
            assert self.server.total(SEED_ID, q) == total, f"{q!r} changed after {what}"
        self.checks += 1
        if what:
            self.inputs.append(what)


def seed_queries(data_dir: Path, count: int = 3, book_id: str = SEED_ID) -> list[str]:
    """The `count` most frequent words of five letters or more in a book (`seed`)."""
    snap = Store(data_dir).snapshot()
    try:
        counts: dict[str, int] = {}
        book = snap.book(book_id)
        assert book is not None
        for index in range(book.canvas_count):
            page = snap.page_of(book_id, index)
            for token in page.tokens if page else ():
                if len(token) >= 5 and token.isalpha():
                    counts[token] = counts.get(token, 0) + 1
    finally:
        snap.close()
    return sorted(counts, key=lambda t: (-counts[t], t))[:count]


def seed_index(data_dir: Path, pages: Pages, tmp: Path) -> int:
    """Index `seed` into `data_dir` with the real command; returns its page count."""
    manifest = write_manifest(tmp / "seed.json", pages[SEED_PAGES], "https://example.org/seed")
    result = run_index([str(manifest), "--id", SEED_ID, "--ocr", "existing"], data_dir)
    assert result.exit_code == 0, result.output
    return len(pages[SEED_PAGES])


@pytest.fixture(scope="session")
def bad_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of good and hostile images, served by the session's server as an image root.

    good.png/.jpg: 1100 x 500 pixels of a real page (Tesseract reads it in ~0.4 s);
    truncated.jpg: good.jpg cut at 60 %; html.jpg: an HTML page; empty.jpg: 0 bytes;
    noise.png: random bytes; one.png: 1 x 1; bomb.png: 30000 x 30000 1-bit PNG of
    ~100 kB (900 Mpixel decoded); huge.jpg: 20000 x 20000 white JPEG of ~4.7 MB.
    """
    import random

    import pyvips

    root = tmp_path_factory.mktemp("bad-images")
    page = pyvips.Image.new_from_file(
        str(REPO / "sample_books" / "en_harper_half_hours_with_highwaymen_1908" / "0002.png")
    )
    crop = page.crop(150, 300, 1100, 500)
    crop.write_to_file(str(root / "good.png"))
    crop.write_to_file(str(root / "good.jpg"), Q=90)
    jpeg = (root / "good.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(jpeg[: len(jpeg) * 6 // 10])
    (root / "html.jpg").write_bytes(b"<!DOCTYPE html><html><body><h1>Please sign in</h1></body></html>")
    (root / "empty.jpg").write_bytes(b"")
    (root / "noise.png").write_bytes(random.Random(6).randbytes(4096))
    pyvips.Image.black(1, 1).write_to_file(str(root / "one.png"))
    pyvips.Image.black(30_000, 30_000).write_to_file(str(root / "bomb.png"), bitdepth=1, compression=9)
    pyvips.Image.black(20_000, 20_000).invert().write_to_file(str(root / "huge.jpg"), Q=50)
    return root


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, peru_pages: Pages, bad_images: Path) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("service")
    data_dir = tmp / "data"
    count = seed_index(data_dir, peru_pages, tmp)
    server = LiveServer(data_dir, "--image-root", str(bad_images))
    try:
        totals = {q: server.total(SEED_ID, q) for q in seed_queries(data_dir)}
        assert all(totals.values()), totals
        state = Service(data_dir, server, count, totals)
        yield state
        print(
            f"\nbad input: {len(state.inputs)} inputs and faults tried against the live server; after each, the "
            f"index opened, {SEED_ID} was whole and its {len(totals)} searches answered as before"
        )
    finally:
        log = server.stop()
        # A bad input must never have reached the server's 500 handler.
        assert "unhandled error" not in log and "Traceback" not in log, log


# -- running index-manifest ---------------------------------------------------------------------


def run_index(args: list[str], data_dir: Path, env: dict[str, str] | None = None) -> Result:
    """index-manifest in process (click's runner); fails on a traceback, which is never a clear error."""
    result = CliRunner().invoke(
        index_manifest, [*args, "--data-dir", str(data_dir), "--workers", "1", "--quiet"], env=env
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"index-manifest raised {result.exception!r}:\n{result.output}") from result.exception
    assert "Traceback" not in result.output, result.output
    return result


def summary_of(result: Result) -> dict[str, Any]:
    """The --json summary printed by index-manifest."""
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# -- a misbehaving HTTP server -------------------------------------------------------------------


class BadHttp:
    """What the misbehaving server serves: bodies by name, and counters of requests.

    Paths: `/ok/NAME` the body; `/status/CODE/NAME` that status; `/flaky/N/NAME` 500 for
    the first N requests of that path, then the body; `/stall/NAME` nothing for
    `stall_seconds`; `/cut/NAME` half the body under the full Content-Length, then a
    closed connection; `/big/BYTES` a JSON document of that size sent in chunks without
    a Content-Length; `/html/NAME` an HTML error page with status 200.
    """

    def __init__(self) -> None:
        self.bodies: dict[str, tuple[bytes, str]] = {}
        self.hits: dict[str, int] = {}
        self.stall_seconds = 3.0
        self.lock = threading.Lock()
        self.base = ""

    def add(self, name: str, body: bytes, content_type: str = "application/octet-stream") -> str:
        self.bodies[name] = (body, content_type)
        return name

    def url(self, how: str, name: str) -> str:
        return f"{self.base}/{how}/{name}"

    def count(self, path: str) -> int:
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            return self.hits[path]


def _handler(state: BadHttp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def send_body(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = self.path.lstrip("/").split("/")
            hits = state.count(self.path)
            how, rest = parts[0], parts[1:]
            body, content_type = state.bodies.get(rest[-1] if rest else "", (b"", "text/plain"))
            if how == "ok" and rest and rest[-1] in state.bodies:
                self.send_body(200, body, content_type)
            elif how == "status":
                self.send_body(int(rest[0]), b"<html><body>error</body></html>", "text/html")
            elif how == "flaky":
                if hits <= int(rest[0]):
                    self.send_body(500, b"try again", "text/plain")
                else:
                    self.send_body(200, body, content_type)
            elif how == "stall":
                time.sleep(state.stall_seconds)
                self.send_body(200, body, content_type)
            elif how == "cut":
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif how == "html":
                self.send_body(200, b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>", "text/html")
            elif how == "big":
                size = int(rest[0])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b" " * 65536
                sent = 0
                try:
                    self._chunk(b'{"type": "Manifest", "padding": "')
                    while sent < size:
                        self._chunk(chunk)
                        sent += len(chunk)
                    self._chunk(b'"}')
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading at its cap: what we want
                self.close_connection = True
            else:
                self.send_body(404, b"not found", "text/plain")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (a size cap, a timeout) is what some tests want: no traceback.

        The default prints one to sys.stderr, which click's test runner may have swapped for
        the output of the command under test.
        """


@pytest.fixture(scope="session")
def bad_http() -> Iterator[BadHttp]:
    state = BadHttp()
    server = _QuietServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
