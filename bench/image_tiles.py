"""Tiles per second and p50/p95 latency of our Image API beside the reference implementation (issue #4).

Makes a 6000 x 8000 page image from a real scan (upscaled, saved as JPEG) in a
temporary folder, starts `iiif-search serve --image-root` and zimeon's
`iiif_testserver.py --manipulators pil` on it, and drives both with the same
client: N threads, each with its own keep-alive httpx.Client, requesting the
same fixed set of 512-pixel tile URLs (every tile of the full-resolution level
and of the level at scale factor 4, in a fixed shuffled order). Warm-up requests
(for us: the one that builds the pyramid derivative) are timed apart and not
counted. Each server stops at --requests requests or --seconds seconds.

    .venv/bin/python bench/image_tiles.py                      # 4 clients, <= 1000 requests or 60 s each
    .venv/bin/python bench/image_tiles.py --clients 8 --requests 2000
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyvips

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCAN = REPO / "sample_books" / "en_harper_half_hours_with_highwaymen_1908" / "0001.png"
WIDTH, HEIGHT, TILE = 6000, 8000, 512
IDENTIFIER = "page"
# Untimed first requests of each server; ours builds its pyramid derivative on the first.
WARMUP = 8


@dataclass
class Result:
    """What one server did under load."""

    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    warmup_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: int) -> float:
        """Latency percentile in milliseconds."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


def make_page(folder: Path, color: bool) -> Path:
    """The scan upscaled to WIDTH x HEIGHT and saved as a JPEG (quality 90)."""
    scan = pyvips.Image.new_from_file(str(SCAN))
    page = scan.resize(WIDTH / scan.width, vscale=HEIGHT / scan.height)
    if color:
        page = page.colourspace("srgb")
    if (page.width, page.height) != (WIDTH, HEIGHT):
        page = page.embed(0, 0, WIDTH, HEIGHT, extend="copy")
    path = folder / f"{IDENTIFIER}.jpg"
    page.jpegsave(str(path), Q=90)
    return path


def tile_paths() -> list[str]:
    """Every tile of the full-resolution level and of scale factor 4, as 3.0 tile requests, shuffled."""
    paths = []
    for factor in (1, 4):
        span = TILE * factor
        for y in range(0, HEIGHT, span):
            for x in range(0, WIDTH, span):
                w, h = min(span, WIDTH - x), min(span, HEIGHT - y)
                paths.append(f"{x},{y},{w},{h}/{math.ceil(w / factor)},{math.ceil(h / factor)}/0/default.jpg")
    random.Random(4).shuffle(paths)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"no answer from {url} within {timeout} s")


def load(
    name: str, base: str, paths: list[str], clients: int, max_requests: int, max_seconds: float, warmup: int
) -> Result:
    """Drive `base` with `clients` threads over `paths` until max_requests or max_seconds.

    The first `warmup` paths are requested once, one by one, and timed apart.
    """
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        for path in paths[:warmup]:
            client.get(f"{base}/{path}").raise_for_status()
    warmup_seconds = time.perf_counter() - started

    urls = itertools.cycle(f"{base}/{path}" for path in paths[warmup:] + paths[:warmup])
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        nonlocal errors, issued
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if issued >= max_requests or time.perf_counter() > deadline:
                        return
                    issued += 1
                    url = next(urls)
                begin = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - begin
                ok = response.status_code == 200 and response.headers.get("content-type") == "image/jpeg"
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(name, len(latencies), time.perf_counter() - begin, latencies, errors, warmup_seconds)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    """Run both servers on the same image, print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--requests", type=int, default=1000, help="most timed requests per server (default 1000)")
    parser.add_argument("--seconds", type=float, default=60, help="most timed seconds per server (default 60)")
    parser.add_argument("--grey", action="store_true", help="keep the scan's one grey band (default: 3-band sRGB)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="bench-tiles-") as tmp_name:
        tmp = Path(tmp_name)
        images = tmp / "images"
        images.mkdir()
        make_page(images, color=not args.grey)
        ours_port, ref_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IIIF_SEARCH_")}
        ours = subprocess.Popen(
            [
                str(BIN / "iiif-search"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(ours_port),
                "--data-dir",
                str(tmp / "data"),
                "--image-root",
                str(images),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        reference = subprocess.Popen(
            [
                sys.executable,
                str(BIN / "iiif_testserver.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(ref_port),
                "--image-dir",
                str(images),
                "--api-versions",
                "2.1,3.0",
                "--manipulators",
                "pil",
                "--quiet",
            ],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ours_base = f"http://127.0.0.1:{ours_port}/iiif/image/3/{IDENTIFIER}"
            ref_base = f"http://127.0.0.1:{ref_port}/3.0_pil/{IDENTIFIER}"
            wait_until_up(f"{ours_base}/info.json", ours)
            wait_until_up(f"{ref_base}/info.json", reference)
            paths = tile_paths()
            results = [
                load(
                    "iiif-search (pyvips, pyramid TIFF)",
                    ours_base,
                    paths,
                    args.clients,
                    args.requests,
                    args.seconds,
                    WARMUP,
                ),
                load(
                    "iiif_testserver.py --manipulators pil",
                    ref_base,
                    paths,
                    args.clients,
                    args.requests,
                    args.seconds,
                    WARMUP,
                ),
            ]
        finally:
            for server in (ours, reference):
                server.terminate()
                server.wait(10)

    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; commit {commit()}; "
        f"{os.cpu_count()} CPUs ({cpu_model()}); libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}; "
        f"load average before/after {load_before:.1f}/{os.getloadavg()[0]:.1f}"
    )
    print(
        f"image: {WIDTH}x{HEIGHT} {'grey' if args.grey else 'sRGB'} JPEG from {SCAN.relative_to(REPO.parent)}; "
        f"{len(paths)} tile URLs (512 px, scale factors 1 and 4); {args.clients} clients"
    )
    print()
    print("| server | tiles | seconds | tiles/s | p50 ms | p95 ms | errors | warm-up s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.name} | {r.requests} | {r.seconds:.1f} | {r.rate:.1f} | {r.percentile(50):.1f} | "
            f"{r.percentile(95):.1f} | {r.errors} | {r.warmup_seconds:.2f} |"
        )
    print()
    print(f"throughput ratio (ours / reference): {results[0].rate / results[1].rate:.1f}x")


if __name__ == "__main__":
    main()
