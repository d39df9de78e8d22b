"""OCR through a Dask cluster against the local process pool: the same pages, the same number of Tesseracts.

    .venv/bin/python bench/ocr_cluster.py [--workers N] [--rounds R] [--repeat K] [--shared-files]

Both sides run the whole `index-manifest` command on the same folder of real scans (the
three sample books, 28 pages, `--repeat` times over as re-encoded copies so the OCR cache
cannot answer) into a fresh data directory:

- local: `index-manifest FOLDER --workers N` (N Tesseract processes);
- cluster: `index-manifest FOLDER --cluster ADDRESS` with a real `dask scheduler` and N
  `dask worker --nthreads 1` on 127.0.0.1 (tests/indexer/loopback_cluster.py), started once
  before the rounds, as a cluster is; the command's connection and checks are timed. The
  folder's files go to the workers as bytes (`--shared-files`: the workers read them).

Rounds alternate the two to share the machine's noise. Prints pages/s of each, per round
and the medians, and the ratio cluster / local. Goal: the cluster path loses at most 10%
(ratio >= 0.90). On one machine the cluster gains nothing; this measures what the tasks,
the scheduler and the bytes sent cost, which is what spreading the work over machines pays.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyvips

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, commit, machine
from tests.indexer.loopback_cluster import LoopbackCluster

BOOKS = ["en_harper_half_hours_with_highwaymen_1908", "en_colum_boy_apprenticed_enchanter_1920", "de_bebel_frau_1879"]


def pages_folder(folder: Path, repeat: int) -> int:
    """The sample books' pages `repeat` times over in one folder; copies re-encoded (same pixels, other bytes)."""
    folder.mkdir()
    for copy in range(repeat):
        for book in BOOKS:
            for page in sorted((REPO / "sample_books" / book).glob("*.png")):
                target = folder / f"{copy}_{book[:8]}_{page.name}"
                if copy == 0:
                    shutil.copy(page, target)
                else:
                    pyvips.Image.new_from_file(str(page)).pngsave(str(target), compression=copy % 10)
    return len(list(folder.glob("*.png")))


def run(folder: Path, data_dir: Path, *how: str) -> float:
    started = time.perf_counter()
    command = [str(REPO / ".venv/bin/index-manifest"), str(folder), "--data-dir", str(data_dir), "--lang", "eng"]
    result = subprocess.run(
        [*command, "--json", "--quiet", *how],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"index-manifest {' '.join(how)} failed: {result.stderr}{result.stdout}")
    summary = json.loads(result.stdout)
    assert summary["ocr"] == summary["canvases"], summary  # every page really OCR'd
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Tesseract processes on each side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="the 28 pages this many times over")
    parser.add_argument("--shared-files", action="store_true", help="cluster workers read the files themselves")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pages = pages_folder(work / "pages", args.repeat)
        started = time.perf_counter()
        with LoopbackCluster(work / "dask", args.workers) as cluster:
            print(
                f"cluster: scheduler {cluster.address}, {args.workers} workers x 1 thread, up in {time.perf_counter() - started:.1f}s"
            )
            cluster_args = ["--cluster", cluster.address, *(["--shared-files"] if args.shared_files else [])]
            local_times, cluster_times = [], []
            for r in range(args.rounds):
                local_times.append(run(work / "pages", work / f"local{r}", "--workers", str(args.workers)))
                cluster_times.append(run(work / "pages", work / f"cluster{r}", *cluster_args))
                print(
                    f"round {r + 1}: local pool {pages / local_times[-1]:.2f} pages/s, "
                    f"cluster {pages / cluster_times[-1]:.2f} pages/s"
                )
        local = pages / sorted(local_times)[len(local_times) // 2]
        remote = pages / sorted(cluster_times)[len(cluster_times) // 2]
        how = "files read by the workers" if args.shared_files else "files sent as bytes"
        print(
            f"\nmachine: {machine()}; commit {commit()}; {pages} pages ({args.repeat}x), "
            f"{args.workers} Tesseracts on each side, {how}"
        )
        print(f"median: local pool {local:.2f} pages/s, cluster {remote:.2f} pages/s, ratio {remote / local:.3f}")


if __name__ == "__main__":
    main()
