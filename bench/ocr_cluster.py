"""OCR through a Dask cluster against the local process pool: the same pages, the same number of Tesseracts.

    .venv/bin/python bench/ocr_cluster.py [--workers N] [--rounds R] [--repeat K] [--shared-files]

Both sides run the whole `index-manifest` command on the same folder of real scans (the
three sample books, 28 pages, `--repeat` times over as re-encoded copies so the OCR cache
cannot answer) into a fresh data directory:

- local: `index-manifest FOLDER --workers N` (N Tesseract processes);
- cluster: `index-manifest FOLDER --cluster ADDRESS` with a real `dask scheduler` and N
  `dask worker --nthreads 1` on 127.0.0.1 (tests/indexer/loopback_cluster.py), started once
  before the rounds, as a cluster is, and configured as docs/scale.md recommends (Dask's
  profiler off and its timers slower: they cost CPU per second, not per page); the
  command's connection and checks are timed. The folder's files go to the workers as bytes (`--shared-files`:
  the workers read them).

Rounds alternate the two to share the machine's noise. Prints pages/s of each, per round
and the medians, and the ratio cluster / local. Goal: the cluster path loses at most 10%
(ratio >= 0.90). Also the CPU seconds each side spent per page, all processes counted
(index-manifest and its pool or Tesseracts; the scheduler, nannies, workers and their
Tesseracts): on a busy machine, where pages/s mostly measure the neighbours, the CPU
ratio says what the cluster path costs, and on a quiet one pages/s follow it. On one machine the cluster gains nothing; this measures what the tasks,
the scheduler and the bytes sent cost, which is what spreading the work over machines pays.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyvips

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, commit, machine
from tests.indexer.loopback_cluster import LoopbackCluster

#: docs/scale.md's settings for an OCR cluster, as environment variables (Dask reads DASK_* into its config).
RECOMMENDED_CONFIG = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "2s",
}
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


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes and all their descendants, live or reaped (Tesseracts included)."""
    total = 0.0
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            # Children are listed per thread that started them (a nanny starts its worker from another thread).
            children = [
                c for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()
            ]
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 11-14 after the ")".
        total += sum(int(v) for v in fields[11:15]) / TICK
        todo += [int(c) for c in children]
    return total


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def adopt_orphans() -> None:
    """Become the reaper of this process's orphaned descendants (Linux's PR_SET_CHILD_SUBREAPER).

    `index-manifest --workers N` forks its OCR workers from a forkserver process that it never
    waits for; it and its workers would be re-parented to init at the command's exit and their
    CPU would escape RUSAGE_CHILDREN. Adopted here, they are waited for by `reap_orphans`.
    """
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        sys.exit(f"cannot become a child subreaper: errno {ctypes.get_errno()}")


def children() -> set[int]:
    """This process's living children (adopted orphans included)."""
    return {int(c) for task in Path("/proc/self/task").iterdir() for c in (task / "children").read_text().split()}


def reap_orphans(keep: set[int], timeout: float = 30.0) -> None:
    """Wait for every child of this process but `keep` (adopted orphans), so their CPU is counted."""
    deadline = time.monotonic() + timeout
    while True:
        pids = children() - keep
        if not pids:
            return
        if time.monotonic() > deadline:
            sys.exit(f"processes left by the command did not exit: {sorted(pids)}")
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def run(folder: Path, data_dir: Path, *how: str, cluster: LoopbackCluster | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one index-manifest command, the cluster's processes' CPU included."""
    cluster_pids = [p.pid for p in ([cluster.scheduler, *cluster.nannies] if cluster else []) if p is not None]
    cpu_before = children_cpu() + tree_cpu(cluster_pids)
    # What was running before the command (a cluster that this run does not use) is not waited for.
    keep = children() | set(cluster_pids)
    started = time.perf_counter()
    command = [str(REPO / ".venv/bin/index-manifest"), str(folder), "--data-dir", str(data_dir), "--lang", "eng"]
    result = subprocess.run(
        [*command, "--json", "--quiet", *how],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    reap_orphans(keep)
    if result.returncode != 0:
        sys.exit(f"index-manifest {' '.join(how)} failed: {result.stderr}{result.stdout}")
    summary = json.loads(result.stdout)
    assert summary["ocr"] == summary["canvases"], summary  # every page really OCR'd
    return seconds, children_cpu() + tree_cpu(cluster_pids) - cpu_before


def main() -> None:
    # `kill` (SIGTERM) then unwinds like Ctrl-C: the cluster and the running command are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    adopt_orphans()  # index-manifest's forkserver and its workers are counted too
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
        os.environ.update(RECOMMENDED_CONFIG)  # the scheduler, the workers and index-manifest's client
        with LoopbackCluster(work / "dask", args.workers) as cluster:
            print(
                f"cluster: scheduler {cluster.address}, {args.workers} workers x 1 thread, up in {time.perf_counter() - started:.1f}s"
            )
            cluster_args = ["--cluster", cluster.address, *(["--shared-files"] if args.shared_files else [])]
            # What the idle cluster burns (event-loop ticks, heartbeats, monitors): a cost per second, not per page.
            pids = [p.pid for p in (cluster.scheduler, *cluster.nannies) if p is not None]
            idle_from, idle_cpu = time.perf_counter(), tree_cpu(pids)
            time.sleep(15)
            idle_rate = (tree_cpu(pids) - idle_cpu) / (time.perf_counter() - idle_from)
            print(f"idle cluster: {idle_rate:.3f} CPU seconds per second", flush=True)
            local_runs, cluster_runs = [], []
            for r in range(args.rounds):
                local_runs.append(run(work / "pages", work / f"local{r}", "--workers", str(args.workers)))
                cluster_runs.append(run(work / "pages", work / f"cluster{r}", *cluster_args, cluster=cluster))
                (lw, lc), (cw, cc) = local_runs[-1], cluster_runs[-1]
                print(
                    f"round {r + 1}: local pool {pages / lw:.2f} pages/s ({lc / pages:.3f} CPU s/page), "
                    f"cluster {pages / cw:.2f} pages/s ({cc / pages:.3f} CPU s/page)",
                    flush=True,
                )
        local = pages / sorted(w for w, _ in local_runs)[len(local_runs) // 2]
        remote = pages / sorted(w for w, _ in cluster_runs)[len(cluster_runs) // 2]
        local_cpu = sorted(c for _, c in local_runs)[len(local_runs) // 2] / pages
        remote_cpu = sorted(c for _, c in cluster_runs)[len(cluster_runs) // 2] / pages
        how = "files read by the workers" if args.shared_files else "files sent as bytes"
        print(
            f"\nmachine: {machine()}; commit {commit()}; {pages} pages ({args.repeat}x), "
            f"{args.workers} Tesseracts on each side, {how}"
        )
        print(f"median: local pool {local:.2f} pages/s, cluster {remote:.2f} pages/s, ratio {remote / local:.3f}")
        print(
            f"median CPU per page: local pool {local_cpu:.3f} s, cluster {remote_cpu:.3f} s; "
            f"pages per CPU second, cluster / local: {local_cpu / remote_cpu:.3f}"
        )
        busy = sorted((c - idle_rate * w) / pages for w, c in cluster_runs)[len(cluster_runs) // 2]
        print(
            f"cluster CPU per page without the idle cluster's {idle_rate:.3f} CPU s/s: {busy:.3f} s "
            f"(local / that: {local_cpu / busy:.3f})"
        )


if __name__ == "__main__":
    main()
