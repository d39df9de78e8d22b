"""Time to serve /iiif/collection (every book as one IIIF Collection, #13) for 300 and 10,000 books, beside /health.

    .venv/bin/python bench/iiif_collection.py [--books 300,10000] [--duration 10]

Builds, once, an index of N small books in bench/out/collection-N: one page each (a
page of the real *Histoire du Pérou* hOCR of tests/data), a label of realistic length
and a first image on a remote IIIF Image service, written with the Store's own
`replace_book` (one commit per book, as `index-manifest` makes them). Then starts the
real server (`iiif-search serve --workers N`) and measures:

- cold: the first request after the start (the worker reads every book's record and
  builds the Collection), and its body size, plain and gzipped;
- warm: wrk at 16 connections sending `Accept-Encoding: gzip`, as browsers and IIIF
  clients do, for `--duration` seconds: p50, p99, requests/s;
- `/health` of the same server with the same wrk, the reference.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PERU_HOCR, REPO, commit, machine
from bench.search_latency import CONNECTIONS, OUT, free_port, run_wrk, wait_for


def build(books: int) -> Path:
    """An index of `books` one-page books; reused when present."""
    from indexer.index.records import BookRecord
    from indexer.index.store import Store
    from indexer.model import Canvas
    from indexer.page_record import page_record
    from ocr.hocr import parse_pages

    data_dir = OUT / f"collection-{books}"
    done = data_dir / "BUILT"
    if done.exists():
        return data_dir
    pages = parse_pages(gzip.decompress(PERU_HOCR.read_bytes()))
    store = Store(data_dir)
    started = time.perf_counter()
    for n in range(books):
        page = pages[n % len(pages)]
        book_id = f"book-{n:05d}"
        canvas = Canvas(f"https://library.example.org/iiif/{book_id}/canvas/1", 0, "1", page.width, page.height, None)
        service = f"https://images.example.org/iiif/3/{book_id}-0001"
        record = BookRecord(
            id=book_id,
            label=f"Histoire du Pérou, volume {n + 1}: des Incas à la conquête espagnole (1840)",
            manifest_id=f"https://library.example.org/iiif/{book_id}/manifest",
            version=3,
            source=f"https://library.example.org/iiif/{book_id}/manifest",
            manifest={"id": f"https://library.example.org/iiif/{book_id}/manifest", "type": "Manifest", "items": []},
            canvas_count=1,
            page_count=1,
            word_count=sum(len(line.words) for line in page.lines),
            first_image={"service": service, "service_version": 3, "service_profile": "level1", "width": 2000},
        )
        store.replace_book(record, [page_record(book_id, canvas, page)])
    seconds = time.perf_counter() - started
    done.write_text(json.dumps({"books": books, "seconds": seconds}))
    print(f"built collection-{books}: {books} one-page books in {seconds:.0f}s")
    return data_dir


def measure(data_dir: Path, duration: int, workers: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, IIIF_SEARCH_DATA_DIR=str(data_dir))
    command = [str(REPO / ".venv/bin/iiif-search"), "serve", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen([*command, "--workers", str(workers)], env=env)
    try:
        wait_for(f"{base}/health")
        started = time.perf_counter()
        with urllib.request.urlopen(f"{base}/iiif/collection", timeout=120) as response:
            body = response.read()
        cold = time.perf_counter() - started
        data = json.loads(body)
        request = urllib.request.Request(f"{base}/iiif/collection", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=120) as response:
            zipped = response.read()
        # Every worker builds its own copy once: warm them all before timing.
        for _ in range(8 * workers):
            urllib.request.urlopen(request, timeout=120).read()
        gzip_header = ("-H", "Accept-Encoding: gzip")
        with tempfile.TemporaryDirectory() as tmp:
            warm = run_wrk(base, ["/iiif/collection"], duration, Path(tmp), extra=gzip_header)
            ref = run_wrk(base, ["/health"], duration, Path(tmp), extra=gzip_header)
        print(
            f"\n{len(data['items']):,} books: cold first request {cold * 1000:.0f} ms; body {len(body) / 1e6:.2f} MB, "
            f"{len(zipped) / 1e3:.0f} kB gzipped ({len(body) // max(1, len(data['items']))} bytes a book)"
        )
        print(
            f"  /iiif/collection warm, gzip: p50 {warm['p50']:.1f} ms, p99 {warm['p99']:.1f} ms, "
            f"{warm['rps']:.0f} req/s, {int(warm['errors'])} errors"
        )
        print(
            f"  /health reference:          p50 {ref['p50']:.1f} ms, p99 {ref['p99']:.1f} ms, "
            f"{ref['rps']:.0f} req/s, {int(ref['errors'])} errors"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", default="300,10000", help="comma-separated collection sizes")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per measurement")
    parser.add_argument("--server-workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}; commit {commit()}; wrk, {CONNECTIONS} connections; {args.server_workers} worker(s)")
    for books in (int(n) for n in args.books.split(",")):
        measure(build(books), args.duration, args.server_workers)


if __name__ == "__main__":
    main()
