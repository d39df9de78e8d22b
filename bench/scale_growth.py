"""How ingest time, index size and collection search grow with the collection: the measurements behind docs/scale.md.

    .venv/bin/python bench/scale_growth.py [--pages 300000] [--checkpoints 100000,300000] [--duration 20]
    .venv/bin/python bench/scale_growth.py --report      # the tables and fits of the last run, nothing built
    .venv/bin/python bench/scale_growth.py --mix 400     # in-process CPU of 400 distinct collection searches, as it is
    .venv/bin/python bench/scale_growth.py --probe --out DIR   # the in-process probe of an existing build (DIR/data)

Builds one collection in bench/out/growth/ from existing OCR: the 347-page hOCR book of
bench/ingest_existing.py, each copy its own book (its own manifest id), 50 books per
`index-manifest --ocr existing` command and one commit per book, as
bench/search_latency.py builds its 100,000-page collection. A stopped run resumes at the
next command. After each command it records the pages so far, the command's seconds and
the index's bytes; at each checkpoint it measures the collection search over HTTP exactly
as bench/search_latency.py does (wrk, 16 connections, the repeated and the distinct query
mixes, /health as the reference in the same run).

Then least-squares fits: seconds per ingested page against the pages already indexed
(so total ingest time T(N) = aN + bN^2/2), index bytes against pages (bytes per page),
and the distinct-mix p50 against pages, each extrapolated to 1 and 10 million pages.

The same book over and over is the worst case for posting lists (every word of the book
is in every book, so a word's postings grow with the whole collection) and the best case
for the vocabulary (it stops growing after the first book): read the search fit as an
upper bound for words, a lower bound for the term dictionary.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PERU_HOCR, REPO, commit, dir_bytes, hocr_manifest, machine, split_hocr_pages, write_json
from bench.search_latency import measure

OUT = REPO / "bench" / "out" / "growth"
BOOK_PAGES = 347
BATCH = 50  # books per index-manifest command


def load(name: str, default: Any) -> Any:
    path = OUT / name
    return json.loads(path.read_text()) if path.exists() else default


def save(name: str, data: Any) -> None:
    (OUT / name).write_text(json.dumps(data, indent=1))


def build_until(pages_wanted: int, checkpoints: list[int], workers: int, duration: int) -> None:
    data_dir = OUT / "data"
    pages = split_hocr_pages(PERU_HOCR, OUT / "pages") if not (OUT / "pages").exists() else _pages()
    batches: list[dict[str, Any]] = load("batches.json", [])
    searches: list[dict[str, Any]] = load("searches.json", [])
    books_done = sum(b["books"] for b in batches)
    # A run stopped between a checkpoint's last command and its measurement measures it first.
    measure_due(data_dir, books_done * BOOK_PAGES, books_done, checkpoints, searches, workers, duration)
    while books_done * BOOK_PAGES < pages_wanted:
        # Commands of BATCH books, one ending at each checkpoint (the first book count at or above it).
        stop = min(c for c in [*checkpoints, pages_wanted] if c > books_done * BOOK_PAGES)
        count = min(BATCH, -(-stop // BOOK_PAGES) - books_done)
        with tempfile.TemporaryDirectory() as tmp:
            manifests = [
                str(write_json(Path(tmp) / f"peru-{n}.json", hocr_manifest(pages, f"https://example.org/growth/{n}")))
                for n in range(books_done, books_done + count)
            ]
            started = time.perf_counter()
            cpu = _children_cpu()
            options = ["--ocr", "existing", "--data-dir", str(data_dir), "--workers", str(workers), "--quiet"]
            subprocess.run(
                [str(REPO / ".venv/bin/index-manifest"), *manifests, *options],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            seconds = time.perf_counter() - started
            cpu = _children_cpu() - cpu
        batch = {
            "pages_before": books_done * BOOK_PAGES,
            "books": count,
            "pages": count * BOOK_PAGES,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),  # of index-manifest and its pool: steadier than seconds on a busy machine
            "index_bytes": live_bytes(data_dir / "index"),
            "retired_bytes": dir_bytes(data_dir / "index") - live_bytes(data_dir / "index"),
            "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "commit": commit(),
        }
        batches.append(batch)
        save("batches.json", batches)
        books_done += count
        total = books_done * BOOK_PAGES
        print(
            f"{total:>9,} pages: +{batch['pages']:,} in {seconds:.0f}s = {batch['pages'] / seconds:.0f} pages/s; "
            f"index {batch['index_bytes'] / 1e6:.0f} MB",
            flush=True,
        )
        measure_due(data_dir, total, books_done, checkpoints, searches, workers, duration)


def measure_due(
    data_dir: Path,
    total: int,
    books_done: int,
    checkpoints: list[int],
    searches: list[dict[str, Any]],
    workers: int,
    duration: int,
) -> None:
    """Measure search at each checkpoint the collection has reached and no run has measured yet."""
    for checkpoint in checkpoints:
        measured = {s["checkpoint"] for s in searches}
        if total >= checkpoint and checkpoint not in measured:
            (data_dir / "BUILT").write_text(json.dumps({"pages": total, "books": books_done, "seconds": 0}))
            probed = probe(data_dir)
            print(f"in-process: {probed}", flush=True)
            collection = measure(f"growth {total:,}, every book", data_dir, None, duration, workers, 6000)
            # One book of the big index: its search still reads each word's postings of every book.
            book = measure(f"growth {total:,}, one book", data_dir, "peru-0", duration, workers, 80000)
            searches.append(
                {
                    "checkpoint": checkpoint,
                    "pages": total,
                    **collection,
                    "book": book,
                    "probe": probed,
                    "commit": commit(),
                }
            )
            save("searches.json", searches)


def live_bytes(index: Path) -> int:
    """Bytes of the index without the files a commit gave up and the writer still keeps a while (.retired)."""
    try:
        retired = set(json.loads((index / ".retired").read_text()))
    except (OSError, ValueError):
        retired = set()
    return sum(p.stat().st_size for p in index.iterdir() if p.is_file() and p.name not in retired)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: Words of the book from common to rare, for the in-process cost of counting them.
PROBE_WORDS = ("de", "pour", "roi", "balboa", "espagnols")
#: Collection searches timed both ways (#20): the commonest word, phrases with it, a prefix, several words.
PROBE_SEARCHES = ("de", '"de la"', '"roi de"', "de*", "es*", "roi espagnols")


def probe(data_dir: Path) -> dict[str, Any]:
    """CPU ms (best of 5) to find and count each PROBE_WORDS word's pages, in one book and in every book.

    In-process and by CPU time, so a busy machine disturbs it little: what the index
    costs per query, without HTTP, JSON or queueing.
    """
    from indexer.index.store import Store

    snap = Store(data_dir).snapshot()
    try:
        out: dict[str, Any] = {"pages": snap.searcher.doc_count() if snap.searcher else 0, "words": {}}
        started = time.process_time()
        snap.in_reading_order([0])  # the per-snapshot columns each search needs first (a new snapshot per commit)
        out["order_columns_ms"] = round((time.process_time() - started) * 1000, 1)
        started = time.process_time()
        snap.pages_by_book()  # the table the #20 path builds once per snapshot
        out["pages_by_book_ms"] = round((time.process_time() - started) * 1000, 1)
        for word in PROBE_WORDS:
            best = {"book": 1e9, "all": 1e9}
            for _ in range(5):
                for where, book in (("book", _first_book(snap)), ("all", None)):
                    started = time.process_time()
                    ids, _counts = snap.count_arrays([word], book)  # a one-word search's counting
                    snap.reading_order(ids)
                    best[where] = min(best[where], time.process_time() - started)
            out["words"][word] = {k: round(v * 1000, 2) for k, v in best.items()}
    finally:
        snap.close()
    out["searches"] = search_costs(data_dir)
    return out


def _first_book(snap: Any) -> str:
    """The id of the collection's first book (peru-0 in the growth build, b000000 in bench/bulk_collection.py)."""
    return str(snap.books()[0].id)


def _fresh_snapshot(data_dir: Path) -> Any:
    """A new snapshot with its per-snapshot columns read (a server has them after its first search), no result cached."""
    from indexer.index.ranking import book_lengths
    from indexer.index.store import Store

    snap = Store(data_dir).snapshot()
    snap.in_reading_order([0])
    snap.book_ordinals()
    snap.pages_by_book()  # the #20 path's table of each book's pages, also once per snapshot
    book_lengths(snap)
    return snap


def _pages_without_images(snap: Any) -> Any:
    """`snap` reading its pages as an index written before #20 gives them: no image (the manifest has it)."""
    import dataclasses

    read = snap.page
    snap.page = lambda docnum: dataclasses.replace(read(docnum), image=None)
    return snap


def search_costs(data_dir: Path, queries: tuple[str, ...] = PROBE_SEARCHES, repeat: int = 3) -> dict[str, Any]:
    """CPU ms (best of `repeat`, each on a fresh snapshot) of each query's first page over every book, old and new (#20).

    `books`: the first page of /api/search (`search_books`, 10 books, 3 hits each);
    `hits`: the first page of the collection's Search 2.0 (`hits.search`, 100 hits).
    `exhaustive` counts every page of every book (`exact_total=True`, the path before
    #20, and what `total=exact` asks for); `new` is the default path. Both in this process,
    on the same index, so the ratio is the figure to read. `books_manifest_images`: the new
    path with the pages read as an index written before pages kept their image gives them
    (`_pages_without_images`), so each book shown decodes its manifest for its line pictures.
    """
    from search_service.search.books import search_books
    from search_service.search.hits import search
    from search_service.search.query import parse_query

    out: dict[str, Any] = {}
    for q in queries:
        query = parse_query(q)
        row: dict[str, Any] = {}
        for what, run in (
            ("books", lambda snap, exact, query=query: search_books(snap, query, 0, 10, 3, exact_total=exact)),
            ("hits", lambda snap, exact, query=query: search(snap, query, None, 0, 100, exact_total=exact)),
        ):
            for path, exact in (("exhaustive", True), ("new", False)):
                best = 1e9
                for _ in range(repeat):
                    snap = _fresh_snapshot(data_dir)
                    try:
                        started = time.process_time()
                        found = run(snap, exact)
                        best = min(best, time.process_time() - started)
                    finally:
                        snap.close()
                row[f"{what}_{path}_ms"] = round(best * 1000, 2)
                if path == "new":
                    row[f"{what}_total_exact"] = found.total_exact
            row[f"{what}_ratio"] = round(row[f"{what}_new_ms"] / max(row[f"{what}_exhaustive_ms"], 1e-3), 3)
        best = 1e9
        for _ in range(repeat):
            snap = _pages_without_images(_fresh_snapshot(data_dir))
            try:
                started = time.process_time()
                before = search_books(snap, query, 0, 10, 3)
                best = min(best, time.process_time() - started)
            finally:
                snap.close()
        row["books_manifest_images_ms"] = round(best * 1000, 2)
        snap = _fresh_snapshot(data_dir)
        try:  # the same answer either way: the pictures' image services are the manifest's
            row["books_same_answer"] = before == search_books(snap, query, 0, 10, 3)
        finally:
            snap.close()
        out[q] = row
    return out


def mix_cost(data_dir: Path, count: int) -> dict[str, Any]:
    """CPU ms of the first `count` queries of the collection's distinct mix, searched in-process (no HTTP).

    Counting, the first 100 hits drawn, one fresh snapshot: what one new collection search
    costs the server, less HTTP and JSON; by CPU time, so a busy machine disturbs it little.
    """
    import statistics

    from bench.search_latency import queries
    from indexer.index.store import Store
    from search_service.search.hits import search
    from search_service.search.query import parse_query

    mix = queries(data_dir, None, 6000, seed=2)[:count]  # the HTTP measurement's distinct list
    snap = Store(data_dir).snapshot()
    # The path before #20 (every page counted, `exact_total=True`) on a snapshot of its own,
    # so that neither path finds the other's counting in its cache.
    old = Store(data_dir).snapshot()
    try:
        started = time.process_time()
        snap.in_reading_order([0])
        out: dict[str, Any] = {"order_columns_ms": round((time.process_time() - started) * 1000, 1)}
        old.in_reading_order([0])
        out["pages"] = sum(b.page_count for b in snap.books())
        kinds: dict[str, list[float]] = {}
        for q in mix:
            kind = "phrase" if q.startswith('"') else "prefix" if q.endswith("*") else "word"
            started = time.process_time()
            search(snap, parse_query(q), None, 0, 100)
            kinds.setdefault(kind, []).append((time.process_time() - started) * 1000)
            started = time.process_time()
            search(old, parse_query(q), None, 0, 100, exact_total=True)
            kinds.setdefault(f"{kind} exhaustive", []).append((time.process_time() - started) * 1000)
        every = [ms for kind, values in kinds.items() if "exhaustive" not in kind for ms in values]
        out["all"] = {
            "n": len(every),
            "mean": round(statistics.mean(every), 1),
            "median": round(statistics.median(every), 1),
        }
        for kind, values in kinds.items():
            out[kind] = {
                "n": len(values),
                "mean": round(statistics.mean(values), 1),
                "median": round(statistics.median(values), 1),
            }
        return out
    finally:
        snap.close()
        old.close()


def _pages() -> list[tuple[Path, int, int]]:
    from lxml import html

    found = []
    for path in sorted((OUT / "pages").glob("p*.hocr")):
        page = next(d for d in html.fromstring(path.read_bytes()).iter("div") if "ocr_page" in (d.get("class") or ""))
        bbox = [int(v) for v in page.get("title", "").split("bbox", 1)[1].split(";")[0].split()]
        found.append((path, bbox[2], bbox[3]))
    return found


def fit(x: list[float], y: list[float], degree: int = 1) -> np.ndarray:
    return np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), degree)


def report() -> None:
    batches: list[dict[str, Any]] = load("batches.json", [])
    searches: list[dict[str, Any]] = load("searches.json", [])
    if not batches:
        sys.exit(f"nothing measured yet in {OUT}")
    print("| pages indexed | command (50 books) | pages/s | CPU s per 1,000 pages | index | bytes/page |")
    print("|---:|---:|---:|---:|---:|---:|")
    for b in batches:
        total = b["pages_before"] + b["pages"]
        cpu = f"{b['cpu_seconds'] / b['pages'] * 1000:.1f}" if "cpu_seconds" in b else "-"
        print(
            f"| {total:,} | {b['seconds']:.0f} s | {b['pages'] / b['seconds']:.0f} | {cpu} | "
            f"{b['index_bytes'] / 1e6:,.0f} MB | {b['index_bytes'] / total:,.0f} |"
        )
    mid = [b["pages_before"] + b["pages"] / 2 for b in batches]
    cost = [b["seconds"] / b["pages"] for b in batches]
    b_slope, a = fit(mid, cost)
    totals = [b["pages_before"] + b["pages"] for b in batches]
    k, s0 = fit(totals, [b["index_bytes"] for b in batches])
    print(
        f"\ningest: {a * 1000:.2f} ms per page + {b_slope * 1e9:.3f} ms per page per million already indexed "
        f"(least squares over {len(batches)} commands); measured total {sum(b['seconds'] for b in batches) / 3600:.2f} h "
        f"for {totals[-1]:,} pages"
    )
    for n in (1e6, 1e7):
        hours = (a * n + b_slope * n * n / 2) / 3600
        print(f"  predicted ingest of {n:,.0f} pages from existing OCR, one writer: {hours:,.1f} h")
    with_cpu = [b for b in batches if "cpu_seconds" in b]
    if len(with_cpu) >= 2:
        cpu_slope, cpu_a = fit(
            [b["pages_before"] + b["pages"] / 2 for b in with_cpu], [b["cpu_seconds"] / b["pages"] for b in with_cpu]
        )
        print(
            f"ingest CPU: {cpu_a * 1000:.2f} ms per page + {cpu_slope * 1e9:.3f} ms per page per million already "
            f"indexed (over {len(with_cpu)} commands)"
        )
        for n in (1e6, 1e7):
            print(f"  predicted CPU of {n:,.0f} pages: {(cpu_a * n + cpu_slope * n * n / 2) / 3600:,.1f} h")
    print(f"index size: {k:,.0f} bytes per page (+{s0 / 1e6:.0f} MB); 10,000,000 pages: {(s0 + k * 1e7) / 1e9:,.0f} GB")
    if searches:
        print("\n| pages | searched | mix | p50 | p95 | p99 | requests/s | /health p50 | first search | server RSS |")
        print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for s in searches:
            for where, m in (("every book", s), ("one book", s.get("book"))):
                if not m:
                    continue
                for mix in ("repeated", "distinct"):
                    r = m[mix]
                    print(
                        f"| {s['pages']:,} | {where} | {mix} | {r['p50']:.1f} ms | {r['p95']:.1f} ms | "
                        f"{r['p99']:.1f} ms | {r['rps']:.0f} | {m['health']['p50']:.1f} ms | "
                        f"{m.get('first_ms', 0):.0f} ms | {m['rss_end']:.0f} MB |"
                    )
    probed = [s for s in searches if s.get("probe", {}).get("searches")]
    if probed:
        print("\n| pages | query | books: exhaustive | new | ratio | hits: exhaustive | new | ratio | totals exact |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
        for s in probed:
            for q, r in s["probe"]["searches"].items():
                print(
                    f"| {s['pages']:,} | `{q}` | {r['books_exhaustive_ms']} ms | {r['books_new_ms']} ms | "
                    f"{r['books_ratio']} | {r['hits_exhaustive_ms']} ms | {r['hits_new_ms']} ms | {r['hits_ratio']} | "
                    f"{r['books_total_exact']} |"
                )
    for where, key in (("every book", None), ("one book", "book")):
        points = [(s["pages"], (s[key] if key else s)["distinct"]["p50"]) for s in searches if not key or s.get(key)]
        if len(points) < 2:
            continue
        slope, intercept = fit([p for p, _ in points], [ms for _, ms in points])
        print(
            f"\ndistinct-mix p50, {where}: {intercept:.1f} ms + {slope * 1e6:.1f} ms per million pages "
            "(linear through the checkpoints)"
        )
        for n in (1e6, 3e6, 1e7):
            print(f"  predicted p50 at {n:,.0f} pages: {intercept + slope * n:,.0f} ms")
        for limit in (150, 500, 1000):
            if slope > 0:
                print(f"  p50 reaches {limit} ms at about {max(0.0, (limit - intercept) / slope):,.0f} pages")


def main() -> None:
    # `kill` (SIGTERM) then unwinds like Ctrl-C: the cluster and the running command are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300_000, help="build the collection up to this many pages")
    parser.add_argument("--checkpoints", default="100000,300000", help="page counts at which to measure search")
    parser.add_argument("--duration", type=int, default=20, help="seconds of wrk per search measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report", action="store_true", help="print the tables and fits of what was measured")
    parser.add_argument("--probe", action="store_true", help="print the in-process word costs of the index as it is")
    parser.add_argument("--mix", type=int, default=0, help="print the in-process CPU of this many distinct searches")
    parser.add_argument("--out", type=Path, default=None, help="where the collection and the figures are kept")
    args = parser.parse_args()
    if args.out is not None:
        global OUT
        OUT = args.out
    if args.probe:
        print(json.dumps(probe(OUT / "data")))
        return
    if args.mix:
        print(json.dumps(mix_cost(OUT / "data", args.mix)))
        return
    if not args.report:
        OUT.mkdir(parents=True, exist_ok=True)
        print(f"machine: {machine()}; commit {commit()}; building {args.pages:,} pages in {OUT}", flush=True)
        checkpoints = sorted(int(c) for c in args.checkpoints.split(",") if c)
        build_until(args.pages, checkpoints, args.workers, args.duration)
    report()


if __name__ == "__main__":
    main()
