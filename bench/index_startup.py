"""What `index-manifest` costs beyond the OCR itself: the whole command on a few pages, this checkout against another.

    .venv/bin/python bench/index_startup.py [--pages N] [--rounds R] [--workers W] [--against CHECKOUT]

Runs `index-manifest FOLDER --workers W --lang eng` on the first N scans of the Colum sample
book (a fresh data directory each time, so every page is OCR'd), R rounds, and prints the wall
seconds and the CPU seconds of every process the command started: its OCR workers (forked from
a forkserver that the command never waits for, adopted here as a child subreaper), their warm
engines and everything they started. On two pages the OCR is ~2.6 CPU s, so the rest is the
command's start-up: imports, the pool, the engines loading their model, the commit.

With `--against CHECKOUT` (a git worktree of another commit) each round runs both, alternated,
each with its own code on `PYTHONPATH` and this checkout's virtual environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, commit, machine
from bench.ocr_cluster import adopt_orphans, children_cpu, reap_orphans

BOOK = REPO / "sample_books" / "en_colum_boy_apprenticed_enchanter_1920"


def run_once(code: Path, folder: Path, data_dir: Path, workers: int) -> tuple[float, float]:
    """(wall, CPU) of one command run with `code` first on the import path."""
    shutil.rmtree(data_dir, ignore_errors=True)
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONPATH=str(code))
    command = [str(REPO / ".venv/bin/index-manifest"), str(folder), "--data-dir", str(data_dir)]
    cpu, started = children_cpu(), time.perf_counter()
    result = subprocess.run(
        [*command, "--workers", str(workers), "--lang", "eng", "--quiet"], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    reap_orphans(set())
    if result.returncode != 0:
        sys.exit(f"index-manifest failed ({code}): {result.stderr}")
    return wall, children_cpu() - cpu


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    adopt_orphans()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--against", type=Path, help="another checkout, run alternately with this one")
    args = parser.parse_args()
    sides = {"this checkout": REPO}
    if args.against:
        sides[f"{args.against}"] = args.against.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pages"
        folder.mkdir()
        for page in sorted(BOOK.glob("*.png"))[: args.pages]:
            shutil.copy(page, folder / page.name)
        results: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for side in order:
                wall, cpu = run_once(sides[side], folder, Path(tmp) / "data", args.workers)
                results[side].append((wall, cpu))
                print(f"round {r + 1} {side}: {wall:.2f} s wall, {cpu:.2f} CPU s", flush=True)
    print(
        f"\nmachine: {machine()}; commit {commit()}; {args.pages} pages, {args.workers} workers, medians of {args.rounds}"
    )
    print("| code | wall s | CPU s |\n|---|---:|---:|")
    for side, runs in results.items():
        print(f"| {side} | {median(w for w, _ in runs):.2f} | {median(c for _, c in runs):.2f} |")


if __name__ == "__main__":
    main()
