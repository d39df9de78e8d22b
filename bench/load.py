"""Load (#6): wrk against search, autocomplete and Image API tiles at once-realistic variety; errors, p50/p99, server RSS.

    .venv/bin/python bench/load.py                                   # 64 connections, 60 s per endpoint
    .venv/bin/python bench/load.py --duration 5 --connections 16     # the short form CI runs (tests/reliability/test_load.py)

Builds, once, in --data-dir (default bench/out/load): the 347-page *Histoire du Pérou*
hOCR of tests/data as one book (`index-manifest --ocr existing`), and an image
root with the 10 page scans of *Half-Hours with the Highwaymen* (1433 x 2313 each).
Starts the real server (`iiif-search serve`, --server-workers uvicorn workers, default
1 as `serve` itself), warms it up (every pyramid derivative built, every kind of request
asked once), then drives it with `wrk` (one thread, --connections connections, 10 s
timeout) for --duration seconds per endpoint, each over a fixed, varied set of URLs
cycled from a random start per connection:

- search: 2,000 Search 1.0 queries in the book (words across the frequency ranks, two-word
  phrases, prefixes: bench/search_latency.py's `queries`), more than the server's
  per-snapshot result cache holds, so most answers are computed;
- autocomplete: every 2-, 3- and 4-letter prefix of the book's words (Search 2.0 TermPage);
- tiles: every 512-pixel tile of every scale factor that info.json lists, of every page.

Prints, per endpoint: requests, errors (socket errors, timeouts and non-2xx), requests/s,
p50/p99, and the server's RSS (all its processes) before, at half time and after (the JSON
has a sample every 2 s); `--json FILE` writes the same as JSON. Exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.search_latency as latency
from bench.common import PERU_HOCR, REPO, commit, hocr_manifest, machine, split_hocr_pages, write_json

OUT = REPO / "bench" / "out" / "load"
SCANS = REPO / "sample_books" / "en_harper_half_hours_with_highwaymen_1908"
BOOK = "peru"


def build(data_dir: Path) -> tuple[Path, Path]:
    """(data dir with the book indexed, image root), built once and reused."""
    images = data_dir / "images"
    if not (data_dir / "BUILT").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        images.mkdir(exist_ok=True)
        for scan in sorted(SCANS.glob("*.png")):
            (images / scan.name).write_bytes(scan.read_bytes())
        with tempfile.TemporaryDirectory() as tmp:
            pages = split_hocr_pages(PERU_HOCR, Path(tmp) / "pages")
            manifest = write_json(Path(tmp) / "peru.json", hocr_manifest(pages, "https://example.org/peru"))
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from indexer.cli import main; main()",
                    str(manifest),
                    "--id",
                    BOOK,
                    "--ocr",
                    "existing",
                    "--data-dir",
                    str(data_dir),
                    "--quiet",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                env=dict(os.environ, PYTHONPATH=str(REPO)),
            )
        (data_dir / "BUILT").write_text("ok")
    return data_dir, images


def search_paths(data_dir: Path) -> list[str]:
    return [f"/iiif/{BOOK}/search/1?q={urllib.request.quote(q)}" for q in latency.queries(data_dir, BOOK, 2000)]


def autocomplete_paths(data_dir: Path) -> list[str]:
    from indexer.index.store import Store

    snap = Store(data_dir).snapshot()
    words = {t for i in range(347) if (page := snap.page_of(BOOK, i)) for t in page.tokens if t.isalpha()}
    snap.close()
    prefixes = sorted({w[:n] for w in words for n in (2, 3, 4) if len(w) > n})
    return [f"/iiif/{BOOK}/autocomplete/2?q={urllib.request.quote(p)}" for p in prefixes]


def tile_paths(base: str, images: Path) -> list[str]:
    """Every tile of every scale factor of every page, as a viewer asks for them (Image API 3.0)."""
    paths = []
    for scan in sorted(images.glob("*.png")):
        info = json.loads(urllib.request.urlopen(f"{base}/iiif/image/3/{scan.stem}/info.json", timeout=60).read())
        width, height = info["width"], info["height"]
        for tiles in info["tiles"]:
            for factor in tiles["scaleFactors"]:
                span = tiles["width"] * factor
                for y in range(0, height, span):
                    for x in range(0, width, span):
                        w, h = min(span, width - x), min(span, height - y)
                        paths.append(
                            f"/iiif/image/3/{scan.stem}/{x},{y},{w},{h}/{math.ceil(w / factor)},/0/default.jpg"
                        )
    return paths


@contextmanager
def server(data_dir: Path, images: Path, workers: int) -> Iterator[tuple[str, int]]:
    port = latency.free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from search_service.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--image-root",
            str(images),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("IIIF_SEARCH_")}, "PYTHONPATH": str(REPO)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        latency.wait_for(f"{base}/health")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(base: str, paths: list[str], duration: int, connections: int) -> dict[str, float]:
    """bench/search_latency.py's wrk run, at `connections` connections."""
    saved = latency.CONNECTIONS
    latency.CONNECTIONS = connections  # run_wrk reads it at call time
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return latency.run_wrk(base, paths, duration, Path(tmp))
    finally:
        latency.CONNECTIONS = saved


@contextmanager
def sampling(pid: int, every: float = 2.0) -> Iterator[list[float]]:
    """The server's RSS (MB, all its processes) every `every` seconds while the block runs."""
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            samples.append(latency.tree_rss_mb(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


def warm_up(base: str, paths: list[str]) -> None:
    """Ask every tile's pyramid and a sample of the rest once, untimed; any failure stops the bench."""
    for path in paths:
        with urllib.request.urlopen(base + path, timeout=120) as response:
            response.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of wrk per endpoint")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--data-dir", type=Path, default=OUT, help="where the book and images are built (reused)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--only",
        choices=["search", "autocomplete", "tiles"],
        action="append",
        help="measure only this endpoint (repeatable); default: all three",
    )
    args = parser.parse_args(argv)
    data_dir, images = build(args.data_dir)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"{started}; machine: {machine()}; commit {commit()}; wrk -t1 -c{args.connections} -d{args.duration}s; "
        f"{args.server_workers} server worker(s)"
    )
    results: dict[str, Any] = {
        "date": started,
        "machine": machine(),
        "commit": commit(),
        "connections": args.connections,
        "duration": args.duration,
        "server_workers": args.server_workers,
        "endpoints": {},
    }
    with server(data_dir, images, args.server_workers) as (base, pid):
        makers = {
            "search": lambda: search_paths(data_dir),
            "autocomplete": lambda: autocomplete_paths(data_dir),
            "tiles": lambda: tile_paths(base, images),
        }
        endpoints = {name: make() for name, make in makers.items() if not args.only or name in args.only}
        rng = random.Random(6)
        for name, paths in endpoints.items():
            # Tiles: each one once (pyramids are built on the first request); the others: a sample.
            warm_up(base, paths if name == "tiles" else rng.sample(paths, min(50, len(paths))))
        rss_first = latency.tree_rss_mb(pid)
        for name, paths in endpoints.items():
            rss_start = latency.tree_rss_mb(pid)
            with sampling(pid) as samples:
                figures = wrk(base, paths, args.duration, args.connections)
            rss_end = latency.tree_rss_mb(pid)
            half = samples[len(samples) // 2] if samples else rss_start
            row = {
                **figures,
                "urls": len(paths),
                "rss_start_mb": round(rss_start, 1),
                "rss_end_mb": round(rss_end, 1),
                "rss_half_time_mb": round(half, 1),
                "rss_samples_mb": [round(v, 1) for v in samples],
            }
            results["endpoints"][name] = row
            print(
                f"  {name:<12} {len(paths):>5} URLs: {int(figures['requests']):>8} requests, {int(figures['errors'])} errors, "
                f"{figures['rps']:.0f} req/s, p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms; "
                f"server RSS {rss_start:.0f} -> {half:.0f} (half-time) -> {rss_end:.0f} MB"
            )
        results["rss_first_mb"] = round(rss_first, 1)
        results["rss_last_mb"] = round(latency.tree_rss_mb(pid), 1)
        time.sleep(0.1)
    errors = sum(int(r["errors"]) for r in results["endpoints"].values())
    results["errors"] = errors
    results["requests"] = sum(int(r["requests"]) for r in results["endpoints"].values())
    print(
        f"total: {results['requests']} requests, {errors} errors; server RSS {results['rss_first_mb']:.0f} MB after "
        f"warm-up, {results['rss_last_mb']:.0f} MB at the end"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
