"""A library for the admin API tests (#22): manifests and hOCR on loopback, a data directory with a book, a client.

- `Library`: an http.server on 127.0.0.1 serving manifests whose canvases link hOCR pages
  of the *Histoire du Pérou* (tests/data) by http URL, each hOCR answered after `delay`
  seconds so that a job's progress can be watched; plus JSON that is not IIIF, HTML, and
  a manifest of images without OCR (which needs Tesseract).
- `seeded_data_dir`: a data directory holding the book `seed`, indexed by the pipeline.
- `Api`: real HTTP calls with an API key, a cookie or nothing.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import PERU_HOCR, hocr_manifest, split_hocr_pages
from indexer.pipeline import IndexOptions, index

#: Pages of the hOCR with text on them (the first are title pages and blanks).
TEXT_PAGES = slice(8, 40)
SEED = "seed"


class Library:
    """Manifests and hOCR on a loopback http.server; `delay` seconds before each hOCR page."""

    def __init__(self, pages: list[tuple[Path, int, int]], delay: float = 0.0) -> None:
        self.pages = pages
        self.delay = delay
        self.files: dict[str, tuple[bytes, str]] = {}
        library = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                found = library.files.get(self.path)
                if found is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body, kind = found
                if self.path.endswith(".hocr") and library.delay:
                    time.sleep(library.delay)
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # The fetcher stops reading what it refuses (HTML for JSON).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.files["/not-iiif.json"] = (b'{"hello": "world"}', "application/json")
        self.files["/page.html"] = (b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")

    def book(self, name: str, first: int, count: int) -> str:
        """Serve a manifest of `count` hOCR pages from page `first` of the text pages; returns its URL."""
        chosen = self.pages[TEXT_PAGES][first : first + count]
        manifest_id = f"{self.base}/{name}/manifest"
        manifest = hocr_manifest(chosen, manifest_id)
        for n, (canvas, (path, _, _)) in enumerate(zip(manifest["items"], chosen, strict=True)):
            url = f"/{name}/p{n + 1}.hocr"
            self.files[url] = (path.read_bytes(), "text/vnd.hocr+html")
            canvas["seeAlso"][0]["id"] = self.base + url
        self.files[f"/{name}/manifest"] = (json.dumps(manifest).encode(), "application/json")
        return manifest_id

    def image_book(self, name: str) -> str:
        """A manifest whose one canvas is an image without linked OCR: only Tesseract can read it."""
        manifest = hocr_manifest(self.pages[TEXT_PAGES][:1], f"{self.base}/{name}/manifest")
        del manifest["items"][0]["seeAlso"]
        self.files[f"/{name}/manifest"] = (json.dumps(manifest).encode(), "application/json")
        return str(manifest["id"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def peru_pages(folder: Path) -> list[tuple[Path, int, int]]:
    return split_hocr_pages(PERU_HOCR, folder)


def seeded_data_dir(data_dir: Path, pages: list[tuple[Path, int, int]], tmp: Path) -> Path:
    """`data_dir` with the book `seed` (10 hOCR pages, from a manifest file), as index-manifest writes it."""
    manifest = tmp / "seed.json"
    manifest.write_text(json.dumps(hocr_manifest(pages[TEXT_PAGES][:10], "https://example.org/seed")))
    (report,) = index([str(manifest)], IndexOptions(data_dir=data_dir, workers=1, book_id=SEED, ocr="existing"))
    assert report.ok, report.to_json()
    return data_dir


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Api:
    """HTTP calls to a live server, with `key` as bearer or `cookie` as the access cookie."""

    base: str
    key: str | None = None
    cookie: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None, **headers: str) -> Answer:
        sent = {**self.headers, **headers}
        if self.key is not None:
            sent["Authorization"] = f"Bearer {self.key}"
        if self.cookie is not None:
            sent["Cookie"] = self.cookie
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)
        try:
            with _NO_REDIRECTS.open(request, timeout=30) as response:
                return Answer(response.status, _lower(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, _lower(error.headers), error.read())

    def wait_for(self, job_url: str, timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Poll a job until it ends: (its last view, every view seen while it ran)."""
        path = job_url.split("//", 1)[1].split("/", 1)[1]
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.call("GET", "/" + path)
            assert answer.status == 200, answer.body
            view = answer.json()
            if view["state"] not in ("queued", "running"):
                return view, seen
            seen.append(view)
            time.sleep(0.05)
        raise AssertionError(f"job {job_url} did not end within {timeout} s: {seen[-1:]}")


def _lower(headers: Any) -> dict[str, str]:
    """Header names in lower case (as HTTP compares them)."""
    return {name.lower(): value for name, value in headers.items()}


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 303 is the answer under test, not something to follow


_NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)
