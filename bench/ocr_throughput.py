"""OCR throughput: index-manifest's warm engines against plain `tesseract` on the same pages, same parallelism (#21).

    .venv/bin/python bench/ocr_throughput.py [--workers N] [--rounds R] [--repeat K] [--no-cluster]
        [--text-height H] [--no-plain]

Both sides OCR the same real scans with OMP_THREAD_LIMIT=1 and N processes at once, all with
`-l eng` so they do the same work:

- reference: the `tesseract IMG OUT -l eng hocr` CLI, N at a time (a fresh process per page);
- ours: the whole `index-manifest FOLDER --workers N --lang eng` command with a fresh data
  directory (empty OCR cache): start-up, hashing, OCR through one warm engine per worker,
  parsing, indexing and the commit;
- the same with `--no-alternatives`: the warm engine alone, without the LSTM's choices (#21),
  which cost Tesseract 10-20% more CPU per page;
- the same with `--text-height H` (36 by default): each page scaled so its text lines are about
  H pixels tall, from a first look at a thumbnail (ocr/resolution.py, #21);
- cluster: the same command with `--cluster` on a real loopback Dask cluster of N one-thread
  workers (bench/ocr_cluster.py), started once before the rounds.

Two page sets: the three sample books `--repeat` times over (84 pages by default, copies
re-encoded so the OCR cache cannot answer) and the two English books alone (24 pages), a
book short enough that the command's start-up counts. Every round runs each side on each set,
interleaved, so they share the machine's noise. Prints pages/s and CPU seconds per page (all
processes: Tesseracts, workers, engines, the cluster) per round and the medians, with the
ratios. Targets: ours / CLI >= 1.15 (84 pages) and >= 1.05 (24 pages); cluster / ours >= 0.90.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, commit, machine
from bench.ocr_cluster import RECOMMENDED_CONFIG, adopt_orphans, children_cpu, pages_folder, run
from tests.indexer.loopback_cluster import LoopbackCluster

ENGLISH = ["en_harper_half_hours_with_highwaymen_1908", "en_colum_boy_apprenticed_enchanter_1920"]


def reference(pages: list[Path], out: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the CLI on every page, `workers` at a time."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    out.mkdir()

    def one(page: Path) -> None:
        subprocess.run(
            ["tesseract", str(page), str(out / page.stem), "-l", "eng", "hocr"],
            env=env,
            check=True,
            capture_output=True,
        )

    cpu = children_cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, pages))
    return time.perf_counter() - started, children_cpu() - cpu


def book_folder(folder: Path) -> int:
    folder.mkdir()
    for book in ENGLISH:
        for page in sorted((REPO / "sample_books" / book).glob("*.png")):
            shutil.copy(page, folder / f"{book[:8]}_{page.name}")
    return len(list(folder.glob("*.png")))


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    adopt_orphans()  # index-manifest's forkserver and its workers are counted too
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="the sample books' 28 pages this many times over")
    parser.add_argument("--no-cluster", action="store_true", help="leave out the Dask path")
    parser.add_argument(
        "--text-height", type=int, default=36, help="the scaled side's --text-height (#21; 0 leaves that side out)"
    )
    parser.add_argument(
        "--no-plain", action="store_true", help="leave out the --no-alternatives side (the warm engine alone)"
    )
    args = parser.parse_args()
    os.environ["OMP_THREAD_LIMIT"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sets = {"long": pages_folder(work / "long", args.repeat), "book": book_folder(work / "book")}
        os.environ.update(RECOMMENDED_CONFIG)
        cluster = None if args.no_cluster else LoopbackCluster(work / "dask", args.workers)
        if cluster is not None:
            cluster.__enter__()
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        try:
            for r in range(args.rounds):
                for name, count in sets.items():
                    folder = work / name
                    pages = sorted(folder.glob("*.png"))
                    runs = {"tesseract CLI": reference(pages, work / f"ref-{name}{r}", args.workers)}
                    runs["index-manifest"] = run(folder, work / f"ours-{name}{r}", "--workers", str(args.workers))
                    if args.text_height:
                        runs[f"index-manifest --text-height {args.text_height}"] = run(
                            folder,
                            work / f"scaled-{name}{r}",
                            "--workers",
                            str(args.workers),
                            "--text-height",
                            str(args.text_height),
                        )
                    if not args.no_plain:
                        runs["index-manifest --no-alternatives"] = run(
                            folder, work / f"plain-{name}{r}", "--workers", str(args.workers), "--no-alternatives"
                        )
                    if cluster is not None and name == "long":
                        runs["index-manifest --cluster"] = run(
                            folder, work / f"cluster-{name}{r}", "--cluster", cluster.address, cluster=cluster
                        )
                    for side, (wall, cpu) in runs.items():
                        results.setdefault((name, side), []).append((wall, cpu))
                        print(
                            f"round {r + 1} {count} pages {side}: {count / wall:.2f} pages/s, {cpu / count:.3f} CPU s/page",
                            flush=True,
                        )
        finally:
            if cluster is not None:
                cluster.__exit__(None, None, None)
        print(
            f"\nmachine: {machine()}; commit {commit()}; {args.workers} processes, OMP_THREAD_LIMIT=1, "
            f"{args.rounds} rounds, medians"
        )
        print("| pages | side | pages/s | CPU s/page | pages/s ratio to the CLI |")
        print("|---:|---|---:|---:|---:|")
        for name, count in sets.items():
            cli = count / median(w for w, _ in results[(name, "tesseract CLI")])
            for (set_name, side), runs in results.items():
                if set_name != name:
                    continue
                rate = count / median(w for w, _ in runs)
                cpu = median(c for _, c in runs) / count
                print(f"| {count} | {side} | {rate:.2f} | {cpu:.3f} | {rate / cli:.3f} |")
        if cluster is not None:
            local = median(w for w, _ in results[("long", "index-manifest")])
            remote = median(w for w, _ in results[("long", "index-manifest --cluster")])
            print(f"cluster / local pool pages/s: {local / remote:.3f}")


if __name__ == "__main__":
    main()
