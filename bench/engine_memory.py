"""Memory of a warm OCR engine (#21): RSS of the engine process and of the worker holding it, page after page.

    .venv/bin/python bench/engine_memory.py [--pages N] [--lang eng] [--scale S]

Feeds N real pages (the sample books' 28 scans, cycled) to one `ocr.engine.EngineProcess`, as
a worker of `index-manifest` does, and prints the engine process's resident memory (VmRSS) and
high-water mark (VmHWM) after the first page and at every tenth of the run, and this process's
(the worker's side: it only sends bytes and receives hOCR). Growth is the last figure against
the one after the first pages. `--scale 0.5` OCRs the scans at half their size (a quarter of the
CPU, on a busy machine), which keeps every code path and the per-page allocations' count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, commit, machine
from ocr.engine import EngineProcess, engine_settings
from ocr.model import OcrSettings


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--lang", default="eng")
    parser.add_argument("--scale", type=float, default=1.0, help="OCR the scans resized by this factor")
    args = parser.parse_args()
    scans = sorted((REPO / "sample_books").glob("*/*.png"))
    if args.scale != 1.0:
        import tempfile

        import pyvips

        folder = Path(tempfile.mkdtemp(prefix="engine-memory-"))
        for n, scan in enumerate(list(scans)):
            scans[n] = folder / f"{n:03d}.png"
            pyvips.Image.new_from_file(str(scan)).resize(args.scale).pngsave(str(scans[n]))
    settings = OcrSettings(lang=args.lang)
    variables = engine_settings(settings)
    assert variables is not None
    engine = EngineProcess()
    started = time.perf_counter()
    print(
        f"# {machine()}, commit {commit()}, {args.pages} pages of {len(scans)} scans cycled "
        f"(scale {args.scale}), -l {args.lang}"
    )
    print("| pages | engine RSS MiB | engine peak MiB | worker RSS MiB | seconds |")
    print("|---:|---:|---:|---:|---:|")
    marks = {1, 10, *range(args.pages // 10, args.pages + 1, max(1, args.pages // 10))}
    try:
        for n in range(1, args.pages + 1):
            engine.hocr(scans[(n - 1) % len(scans)], settings, variables)
            if n in marks:
                assert engine.pid is not None
                rss, peak = memory(engine.pid)
                mine, _ = memory(os.getpid())
                print(f"| {n} | {rss} | {peak} | {mine} | {time.perf_counter() - started:.0f} |", flush=True)
        assert engine.started == 1, "the engine was restarted during the run"
    finally:
        engine.close()


if __name__ == "__main__":
    main()
