"""The size asked of a IIIF image service for OCR (#21): CPU, bytes fetched and word recall, with and without.

    .venv/bin/python bench/image_sizes.py [--rounds 2] [--pages 4] [--text-height 36] [--json]

The sample books' first pages (Bebel's 3068 px scans of big type, Harper's and Colum's ~1400 px)
are served by this project's own image endpoint (`iiif-search serve --image-root`, a subprocess,
as level-1 Image API 3.0) and each is OCR'd through `indexer.canvas_text.page_for`, as
`index-manifest` OCRs a canvas of a IIIF manifest, three ways, each with a fresh OCR cache:

- `as it comes`: the `--ocr-width` size (2400 px, or the full image where smaller), no first look;
- `--text-height, scaled here`: the same download, then the first look and the scaling in the
  OCR engine (what `--text-height` did before the service was asked: a manifest whose service
  does not say its level still gets this);
- `--text-height, asked of the service`: a thumbnail for the first look, then the chosen width.

For each: the client's CPU seconds (this process and its Tesseract engine, reaped), the server's
(its process's /proc utime+stime: the image endpoint's decoding and encoding), the image bytes
and requests fetched, and the word recall against the pages' ground truth (tests/data/books: the
share of the distinct words of 6+ letters of a page's GT text that its OCR holds). Sides run in
turn, their order rotated each round; medians over the rounds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, TEST_DATA, commit, machine
from indexer import canvas_text
from indexer.fetch import Fetcher
from indexer.model import Canvas, ImageRef
from ocr import engine
from ocr.cache import OcrCache
from ocr.model import OcrSettings

#: Book folder -> Tesseract model (the manifest's language; all three are roman type).
BOOKS = {
    "de_bebel_frau_1879": "deu",
    "en_harper_half_hours_with_highwaymen_1908": "eng",
    "en_colum_boy_apprenticed_enchanter_1920": "eng",
}
SIDES = ("as it comes", "--text-height, scaled here", "--text-height, asked of the service")


@dataclasses.dataclass
class Tally:
    """What one side fetched: requests and bytes of images."""

    requests: int = 0
    bytes: int = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _gt_words(text: str) -> set[str]:
    return {word for word in re.findall(r"[^\W\d_]+", text.lower()) if len(word) >= 6}


def _pages(root: Path, base: str, count: int) -> list[tuple[str, Canvas, set[str]]]:
    """(lang, canvas served at `base`, GT words) of the first `count` pages of each book; images copied to `root`."""
    pages = []
    for book, lang in BOOKS.items():
        for number in range(1, count + 1):
            scan = REPO / "sample_books" / book / f"{number:04d}.png"
            gt = TEST_DATA / "books" / book / f"{number:04d}.txt"
            if not scan.exists() or not gt.exists():
                continue
            identifier = f"{book}-{number:04d}"
            shutil.copyfile(scan, root / f"{identifier}.png")
            with Image.open(scan) as image:
                width, height = image.size
            service = ImageRef(
                service=f"{base}/iiif/image/3/{identifier}",
                service_version=3,
                service_profile="level1",
                width=width,
                height=height,
            )
            canvas = Canvas(f"{base}/canvas/{identifier}", number - 1, identifier, width, height, service)
            pages.append((lang, canvas, _gt_words(gt.read_text(encoding="utf-8"))))
    return pages


def _side(
    name: str, pages: list[tuple[str, Canvas, set[str]]], text_height: int, server_pid: int, work: Path
) -> dict[str, Any]:
    tally = Tally()
    original = canvas_text._fetch

    def counting(fetcher: Fetcher, url: str, max_bytes: int, remote_only: bool) -> Any:
        fetched = original(fetcher, url, max_bytes, remote_only)
        tally.requests += 1
        tally.bytes += len(fetched.data)
        return fetched

    canvas_text._fetch = counting  # type: ignore[assignment]
    cache = OcrCache(Path(tempfile.mkdtemp(dir=work)))
    found = total = 0
    widths = []
    client, server, wall = _client_cpu(), _server_cpu(server_pid), time.monotonic()
    try:
        with Fetcher() as fetcher:
            for lang, canvas, gt in pages:
                if name == "--text-height, scaled here":
                    # A service that does not say its level: downloaded at --ocr-width, scaled in the engine.
                    assert canvas.image is not None
                    canvas = dataclasses.replace(canvas, image=dataclasses.replace(canvas.image, service_profile=None))
                settings = OcrSettings(
                    lang=lang, choice_iterations=2, text_height=text_height if "text" in name else None
                )
                text = canvas_text.page_for(canvas, mode="tesseract", settings=settings, fetcher=fetcher, cache=cache)
                words = {
                    part.lower()
                    for word in text.page.words()
                    for part in re.findall(r"[^\W\d_]+", word.joined or word.text)
                }
                found += len(gt & words)
                total += len(gt)
                widths.append(text.page.width)
        engine.close()  # the engine's CPU is counted once it is reaped
        time.sleep(0.2)
    finally:
        canvas_text._fetch = original  # type: ignore[assignment]
    return {
        "side": name,
        "pages": len(pages),
        "client_cpu_s": round(_client_cpu() - client, 2),
        "server_cpu_s": round(_server_cpu(server_pid) - server, 2),
        "wall_s": round(time.monotonic() - wall, 2),
        "image_requests": tally.requests,
        "image_mb": round(tally.bytes / 1e6, 2),
        "ocr_widths": widths,
        "word_recall": round(found / max(1, total), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pages", type=int, default=4, help="first pages of each sample book (default 4)")
    parser.add_argument("--text-height", type=int, default=36)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="image-sizes-") as tmp:
        work = Path(tmp)
        root, data = work / "images", work / "data"
        root.mkdir()
        data.mkdir()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        pages = _pages(root, base, args.pages)
        serve = ["serve", "--data-dir", str(data), "--image-root", str(root), "--port", str(port)]
        server = subprocess.Popen(
            [sys.executable, "-c", "from search_service.cli import main; main()", *serve, "--log-level", "warning"]
        )
        try:
            _wait_for(base, server.poll)
            runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
            for number in range(args.rounds):
                order = SIDES[number % len(SIDES) :] + SIDES[: number % len(SIDES)]
                for side in order:
                    result = _side(side, pages, args.text_height, server.pid, work)
                    runs[side].append(result)
                    print(json.dumps({"round": number + 1, **result}), file=sys.stderr)
        finally:
            server.terminate()
            server.wait(10)
    summary = {
        side: {
            key: statistics.median(result[key] for result in results)
            for key in ("client_cpu_s", "server_cpu_s", "wall_s", "image_requests", "image_mb", "word_recall")
        }
        for side, results in runs.items()
    }
    if args.json:
        print(json.dumps({"summary": summary, "runs": runs}, indent=2))
        return
    pages_count = len(pages)
    print(
        f"| side ({pages_count} pages) | client CPU s/page | server CPU s/page | image requests | image MB | word recall |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for side, row in summary.items():
        print(
            f"| {side} | {row['client_cpu_s'] / pages_count:.3f} | {row['server_cpu_s'] / pages_count:.3f} "
            f"| {row['image_requests']:g} | {row['image_mb']:.2f} | {row['word_recall']:.4f} |"
        )
    widths = {side: results[0]["ocr_widths"] for side, results in runs.items()}
    print(f"\nOCR widths: {json.dumps(widths)}")
    print(
        f"\nmachine: {machine()}; commit {commit()}; {args.rounds} rounds, medians; "
        f"load average at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, at the end "
        + " ".join(f"{value:.2f}" for value in os.getloadavg())
    )


def _wait_for(base: str, exited: Callable[[], int | None]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if exited() is not None:
            raise SystemExit("the image server exited")
        try:
            if httpx.get(f"{base}/", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the image server did not start")


if __name__ == "__main__":
    main()
