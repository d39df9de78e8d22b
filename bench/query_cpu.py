"""CPU of collection searches in process: given queries, or the distinct mix, by the default path and `total=exact` (#20).

    .venv/bin/python bench/query_cpu.py DATA_DIR [DATA_DIR ...] -q 'de*' -q '"roi de"' [--repeat 2]
    .venv/bin/python bench/query_cpu.py DATA_DIR --mix 300

For each data directory, the CPU ms of the first page of hits over every book (`hits.search`,
100 hits): with `-q`, each query's best of `--repeat`, each on a fresh snapshot with its
per-snapshot columns read, with its total; with `--mix N`, the first N queries of the HTTP
benchmark's distinct list (bench/search_latency.py), each once on a snapshot of each path
(the default, and `total=exact` on another so neither finds the other's counting cached), as
mean and median by kind. CPU time, so a shared machine disturbs it little. To compare two
commits, run it in a worktree of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale_growth import _fresh_snapshot
from bench.search_latency import queries
from search_service.search.hits import search
from search_service.search.query import parse_query


def one_query(data_dir: Path, query: str, exact: bool, repeat: int) -> tuple[float, int]:
    """(best CPU ms, total) of the query's first page of hits, each try on a fresh snapshot."""
    best, total = float("inf"), 0
    for _ in range(repeat):
        snapshot = _fresh_snapshot(data_dir)
        try:
            started = time.process_time()
            page = search(snapshot, parse_query(query), None, 0, 100, exact_total=exact)
            best = min(best, (time.process_time() - started) * 1000)
            total = page.total
        finally:
            snapshot.close()
    return best, total


def mix(data_dir: Path, count: int) -> dict[str, list[float]]:
    """CPU ms of each of the mix's first `count` queries, by kind and path."""
    found: dict[str, list[float]] = {}
    fast, exact = _fresh_snapshot(data_dir), _fresh_snapshot(data_dir)
    try:
        for n, query in enumerate(queries(data_dir, None, 6000, seed=2)[:count]):
            kind = "phrase" if query.startswith('"') else "prefix" if query.endswith("*") else "word"
            sides = [("default", fast), ("total=exact", exact)]
            # The side run first warms the file pages the second reads: each goes first every other query.
            for path, snapshot in sides if n % 2 == 0 else sides[::-1]:
                started = time.process_time()
                search(snapshot, parse_query(query), None, 0, 100, exact_total=path != "default")
                spent = (time.process_time() - started) * 1000
                found.setdefault(f"{kind}, {path}", []).append(spent)
                found.setdefault(f"all, {path}", []).append(spent)
    finally:
        fast.close()
        exact.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dirs", nargs="+", type=Path)
    parser.add_argument("-q", "--query", action="append", default=[], help="a query (repeat the option)")
    parser.add_argument("--mix", type=int, default=0, help="the first N queries of the distinct mix")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if not args.query and not args.mix:
        parser.error("give queries (-q) or --mix N")
    for data_dir in args.data_dirs:
        for query in args.query:
            fast, total = one_query(data_dir, query, False, args.repeat)
            exact, exact_total = one_query(data_dir, query, True, args.repeat)
            print(
                f"{data_dir.name}\t{query}\tdefault {fast:.1f} ms (total {total})\t"
                f"total=exact {exact:.1f} ms (total {exact_total})",
                flush=True,
            )
        if args.mix:
            for name, values in sorted(mix(data_dir, args.mix).items()):
                print(
                    f"{data_dir.name}\t{name}\tn {len(values)}\tmean {statistics.mean(values):.1f} ms\t"
                    f"median {statistics.median(values):.1f} ms",
                    flush=True,
                )


if __name__ == "__main__":
    main()
