"""Collection search over HTTP at library scale, the new path against counting every page, in one run (#20).

    .venv/bin/python bench/collection_scale.py DATA_DIR [--duration 20] [--queries 2000] [--workers 2]
        [--before WORKTREE OLD_DATA_DIR]

For a data directory (e.g. a checkpoint of bench/bulk_collection.py), starts
`iiif-search serve --workers N` afresh for each side and drives it with wrk, 16
connections, a distinct query on every request (words across the frequency ranks,
phrases, prefixes: bench/search_latency.py's distinct mix), against
`/iiif/search/2?q=` (the collection's Search 2.0: the hits of the best books first) and
`/api/search?q=` (the book-level answer): first the default (the fast path of #20), then
`&total=exact` (every page of every book counted, the path before #20), each on its own
fresh server so no cache of one side helps the other. Reports p50/p95/p99, requests/s,
errors and the server's CPU seconds per request (its processes' utime + stime, steadier than
latency on a shared machine), with /health as the reference, and writes a JSON line to
bench/out/collection_scale.jsonl.

`--before WORKTREE OLD_DATA_DIR` adds a third side, run between the two: the code of an older
checkout (e.g. 67d0a2b, the last commit before #20) serving the same books as that code wrote
them (bench/bulk_collection_before.py; an index written by today's code does not open there),
the same queries without `total=exact`, which that code did not know: the exhaustive search
the issue measured, as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, commit, machine
from bench.search_latency import free_port, queries, run_wrk, wait_for

OUT = REPO / "bench" / "out"
QUIET = ("--log-level", "warning")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, living and waited for."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(v) for v in fields[11:15]) / ticks  # utime, stime, cutime, cstime
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for kid in children.read_text().split() if children.exists() else []:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a child that just ended
            total += tree_cpu(int(kid))
    return total


def serve(data_dir: Path, workers: int, code: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """A fresh server on `data_dir`; `code`, an older checkout, goes first on its PYTHONPATH."""
    port = free_port()
    env = dict(os.environ, IIIF_SEARCH_DATA_DIR=str(data_dir))
    if code is not None:
        env["PYTHONPATH"] = str(code)
    server = subprocess.Popen(
        [str(REPO / ".venv/bin/iiif-search"), "serve", "--port", str(port), "--workers", str(workers), *QUIET],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/health", timeout=300)
    return server, base


def side(data_dir: Path, workers: int, paths: list[str], duration: int, code: Path | None = None) -> dict[str, Any]:
    server, base = serve(data_dir, workers, code)
    try:
        with contextlib.suppress(urllib.error.HTTPError):  # a query past the time budget is a 400: fine here
            urllib.request.urlopen(base + "/iiif/search/2?q=zzzz", timeout=600).read()  # opens the index, its columns
        with tempfile.TemporaryDirectory() as tmp:
            cpu = tree_cpu(server.pid)
            result = run_wrk(base, paths, duration, Path(tmp))
            result["cpu_ms_per_request"] = (tree_cpu(server.pid) - cpu) * 1000 / max(result["requests"], 1)
            health = run_wrk(base, ["/health"], max(5, duration // 3), Path(tmp))
        result["health_p50"], result["health_p99"] = health["p50"], health["p99"]
        return result
    finally:
        server.terminate()
        server.wait(timeout=60)


#: The collection answers measured: the hits of the best books first, and the book-level answer.
URLS = ("/iiif/search/2", "/api/search")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--url", action="append", choices=URLS, help="measure only this URL (repeatable; default: both)"
    )
    parser.add_argument(
        "--before",
        nargs=2,
        type=Path,
        metavar=("WORKTREE", "OLD_DATA_DIR"),
        help="also an older checkout on the same books as it wrote them (bench/bulk_collection_before.py)",
    )
    args = parser.parse_args()
    mix = queries(args.data_dir, None, args.queries, seed=2)
    from indexer.index.store import Store

    snapshot = Store(args.data_dir).snapshot()
    pages, books = sum(book.page_count for book in snapshot.books()), len(snapshot.books())
    snapshot.close()
    row: dict[str, Any] = {"data_dir": str(args.data_dir), "pages": pages, "books": books}
    row |= {"commit": commit(), "machine": machine()}
    print(
        f"{args.data_dir}: {pages:,} pages in {books:,} books; {len(mix)} distinct queries; {row['commit']}", flush=True
    )
    if args.before:
        row["before"] = f"{args.before[0]} ({commit(args.before[0])}) on {args.before[1]}"
    for url in args.url or URLS:
        sides: list[tuple[str, str, Path, Path | None]] = [("new", "", args.data_dir, None)]
        if args.before:
            sides.append(("before", "", args.before[1], args.before[0]))
        sides.append(("exhaustive", "&total=exact", args.data_dir, None))
        for name, suffix, data_dir, code in sides:
            paths = [f"{url}?q={urllib.parse.quote(q)}{suffix}" for q in mix]
            result = side(data_dir, args.workers, paths, args.duration, code)
            row[f"{url} {name}"] = result
            print(
                f"  {url:15} {name:10}: p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
                f"p99 {result['p99']:.1f} ms, {result['rps']:.1f} req/s, {result['cpu_ms_per_request']:.1f} ms CPU "
                f"a request, {int(result['requests'])} requests, {int(result['errors'])} errors; "
                f"/health p50 {result['health_p50']:.1f} ms",
                flush=True,
            )
        new, old = row[f"{url} new"], row[f"{url} exhaustive"]
        print(
            f"  {url}: p50 new/exhaustive {new['p50'] / old['p50']:.2f}, "
            f"CPU per request new/exhaustive {new['cpu_ms_per_request'] / old['cpu_ms_per_request']:.2f}",
            flush=True,
        )
        if args.before:
            before = row[f"{url} before"]
            print(
                f"  {url}: p50 new/before {new['p50'] / before['p50']:.2f}, "
                f"CPU per request new/before {new['cpu_ms_per_request'] / before['cpu_ms_per_request']:.2f}",
                flush=True,
            )
    OUT.mkdir(exist_ok=True)
    with open(OUT / "collection_scale.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
