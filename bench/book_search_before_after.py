"""One book's search, the code of another checkout against this one's, on the same index (#20).

    .venv/bin/python bench/book_search_before_after.py --before DIR [--also DIR] [--copies 20] [--duration 15] [--rounds 2]

DIR is a checkout of the code before (e.g. `git worktree add /tmp/wt-before a4570fe~1`)
with its own `.venv/bin/{index-manifest,iiif-search,python}`. The data directory is
written by the code before, since this code reads its indexes and not the other way
round: `--copies` books of the 347-page hOCR *Histoire du Pérou* of tests/data (each its
own id) and every other hOCR file of tests/data as a book of its own, kept in
bench/out/book-before-after/ for later runs. `--also`: a third checkout measured
between the two in each round (e.g. main before a fix on this branch).

Over HTTP: for each route (a book's Search 2.0 and 1.0, what Clover, Mirador and UV
send), `--rounds` times before then after, each on a fresh `iiif-search serve
--workers 2`, wrk with 16 connections cycling distinct queries of one Pérou book
(bench/search_latency.py's distinct mix: words across the frequency ranks, phrases,
prefixes), so no answer comes from a cache. Reports p50/p99, requests/s and the
server's CPU per request (its processes' utime + stime over the wrk run). In process:
each side's `search_service.search.hits.search` over 1,000 of the same queries, CPU per
query, alternated the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.collection_scale import tree_cpu
from bench.common import PERU_HOCR, REPO, TEST_DATA, commit, hocr_manifest, machine, split_hocr_pages, write_json
from bench.search_latency import free_port, queries, run_wrk, wait_for

OUT = REPO / "bench" / "out"
ROUTES = {"2.0": "/iiif/{book}/search/2", "1.0": "/iiif/{book}/search/1"}

# Run by each side's own Python: the CPU of its hits search for each query of a list (ms).
IN_PROCESS = """
import json, sys, time
from indexer.index.store import Store
from search_service.search.hits import search
from search_service.search.query import parse_query
data_dir, book, warm, measured = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
snapshot = Store(data_dir).snapshot()
for q in warm:
    search(snapshot, parse_query(q), book, 0, 100)
cpu = []
for q in measured:
    started = time.process_time()
    search(snapshot, parse_query(q), book, 0, 100)
    cpu.append((time.process_time() - started) * 1000)
print(json.dumps(cpu))
"""


def build(data_dir: Path, index_manifest: Path, copies: int) -> None:
    """The collection, written by `index-manifest --ocr existing` of the code given; kept when built."""
    if (data_dir / "BUILT").exists():
        return
    with tempfile.TemporaryDirectory() as tmp:
        manifests = []
        peru = split_hocr_pages(PERU_HOCR, Path(tmp) / "peru")
        for n in range(copies):
            manifests.append(
                write_json(Path(tmp) / f"peru-{n}.json", hocr_manifest(peru, f"https://example.org/peru/{n}"))
            )
        for source in sorted((TEST_DATA / "ocr" / "hocr").rglob("*.hocr*")):
            if source == PERU_HOCR or "edgecase" in source.name:
                continue
            pages = split_hocr_pages(source, Path(tmp) / source.name)
            if pages:
                book = f"https://example.org/{source.name.split('.')[0]}"
                manifests.append(write_json(Path(tmp) / f"{source.name}.json", hocr_manifest(pages, book)))
        command = [str(index_manifest), *map(str, manifests), "--ocr", "existing", "--data-dir", str(data_dir)]
        subprocess.run([*command, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    (data_dir / "BUILT").write_text(json.dumps({"books": len(manifests), "peru_copies": copies}))


def over_http(
    server: Path, data_dir: Path, path: str, warm: list[str], measured: list[str], duration: int
) -> dict[str, Any]:
    """wrk over `measured` against a fresh server, after one pass of `warm`; wrk's figures and CPU per request."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, IIIF_SEARCH_DATA_DIR=str(data_dir))
    command = [str(server), "serve", "--port", str(port), "--workers", "2", "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)
    try:
        wait_for(f"{base}/health")
        paths = [f"{path}?q={urllib.parse.quote(q)}" for q in measured]
        with tempfile.TemporaryDirectory() as tmp:
            # Both workers open the index and read its columns before the clock starts.
            run_wrk(base, [f"{path}?q={urllib.parse.quote(q)}" for q in warm], 3, Path(tmp))
            cpu = tree_cpu(process.pid)
            result = run_wrk(base, paths, duration, Path(tmp))
            result["cpu_ms"] = (tree_cpu(process.pid) - cpu) * 1000 / result["requests"]
        result["wrapped"] = result["requests"] > len(paths)
        return result
    finally:
        process.terminate()
        process.wait(timeout=30)


def in_process(python: Path, data_dir: Path, book: str, warm: list[str], measured: list[str]) -> list[float]:
    """The CPU (ms) of each side's hits search for each measured query, in a process of its own."""
    args = [str(python), "-c", IN_PROCESS, str(data_dir), book, json.dumps(warm), json.dumps(measured)]
    return list(json.loads(subprocess.run(args, check=True, capture_output=True, text=True, cwd="/").stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the code before, with its .venv")
    parser.add_argument("--also", type=Path, default=None, help="a third checkout with its .venv, measured between")
    parser.add_argument("--copies", type=int, default=20, help="copies of the 347-page book in the collection")
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk per run")
    parser.add_argument("--rounds", type=int, default=2, help="before/after alternations")
    parser.add_argument("--queries", type=int, default=8000, help="distinct queries per run")
    args = parser.parse_args()
    before, after = args.before.resolve(), REPO
    data_dir = OUT / "book-before-after"
    build(data_dir, before / ".venv/bin/index-manifest", args.copies)
    built = json.loads((data_dir / "BUILT").read_text())
    from indexer.index.store import Store

    snapshot = Store(data_dir).snapshot()
    pages = sum(b.page_count for b in snapshot.books())
    book_id = next(b.id for b in snapshot.books() if b.manifest_id == "https://example.org/peru/0")
    print(
        f"machine: {machine()}; load {os.getloadavg()[0]:.2f}; after {commit()}; before "
        f"{subprocess.run(['git', '-C', str(before), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}; "
        f"{built['books']} books ({pages:,} pages), searched in {book_id}; wrk 16 connections, 2 server workers"
    )
    warm = queries(data_dir, book_id, 200, seed=1)
    measured = queries(data_dir, book_id, args.queries, seed=2)
    sides = {"before": before, **({"also": args.also.resolve()} if args.also else {}), "after": after}
    figures: dict[str, dict[str, list[dict[str, Any]]]] = {route: {side: [] for side in sides} for route in ROUTES}
    for route, template in ROUTES.items():
        path = template.format(book=urllib.parse.quote(book_id, safe=""))
        for round_ in range(args.rounds):
            for side, tree in sides.items():
                r = over_http(tree / ".venv/bin/iiif-search", data_dir, path, warm, measured, args.duration)
                figures[route][side].append(r)
                print(
                    f"  {route} round {round_ + 1} {side:6}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
                    f"{r['rps']:.0f} req/s, {r['cpu_ms']:.2f} ms CPU/request, {int(r['errors'])} errors"
                    f"{' (list wrapped)' if r['wrapped'] else ''}; load {os.getloadavg()[0]:.2f}"
                )
        for key in ("p50", "p99", "rps", "cpu_ms"):
            median = {side: statistics.median(r[key] for r in runs) for side, runs in figures[route].items()}
            ratios = ", ".join(
                f"{side}/before {median[side] / median['before']:.2f}" for side in sides if side != "before"
            )
            print(f"  {route} {key} (median): " + ", ".join(f"{s} {v:.2f}" for s, v in median.items()) + f"; {ratios}")
    # In process: per side and kind of query, the mean CPU of its best round (the quietest).
    kinds: dict[str, list[int]] = {"word": [], "phrase": [], "prefix": []}
    for i, q in enumerate(measured[:1000]):
        kinds["phrase" if q.startswith('"') else "prefix" if q.endswith("*") else "word"].append(i)
    best: dict[str, dict[str, float]] = {side: {} for side in sides}
    for _ in range(args.rounds):
        for side, tree in sides.items():
            per_query = in_process(tree / ".venv/bin/python", data_dir, book_id, warm[:50], measured[:1000])
            for kind, indices in {"all": list(range(len(per_query))), **kinds}.items():
                mean = sum(per_query[i] for i in indices) / len(indices)
                best[side][kind] = min(best[side].get(kind, mean), mean)
            print(f"  in process {side:6}: mean {statistics.mean(per_query):.2f} ms CPU/query")
    print(f"  in process: {len(measured[:1000])} queries, " + ", ".join(f"{len(v)} {k}s" for k, v in kinds.items()))
    for side, means in best.items():
        against = {kind: means[kind] / best["before"][kind] for kind in means}
        print(
            f"  in process {side:6} (best round): "
            + ", ".join(f"{kind} {means[kind]:.2f} ms ({against[kind]:.2f}x)" for kind in means)
        )


if __name__ == "__main__":
    main()
