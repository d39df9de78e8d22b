"""What ranking books costs a collection search (#13), in-process, against the same search in reading order.

    .venv/bin/python bench/ranking_cost.py [--queries 600]

On the 100,283-page collection of bench/search_latency.py (bench/out/search-collection,
built by it if missing), for distinct queries of its "distinct" mix (words over every
frequency rank, phrases, prefixes): the first page (100 hits) of `hits.search` over every
book, once as served (counted, books ranked by BM25, hits drawn best book first) and once
with the ranking step replaced by the reading order it had before (the reference). Each
query runs on two snapshots of their own (no cache shared between the two), alternating
which goes first. Prints the median and p95 of both, their ratio, and the ranking step
alone. No HTTP: the figure is the work a worker does, not what a loaded machine queues.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import commit, machine
from bench.search_latency import build, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=600, help="distinct queries to time (of the bench's 6,000)")
    parser.add_argument("--workers", type=int, default=2, help="index-manifest workers if the collection is built")
    args = parser.parse_args()

    from indexer.index.counting import Deadline, Plan, count_pages
    from indexer.index.ranking import Ranked, rank_books
    from indexer.index.snapshot import Snapshot
    from indexer.index.store import Store
    from search_service.search import hits
    from search_service.search.query import parse_query
    from search_service.settings import Settings

    # As in a server worker (IIIF_SEARCH_GC_THRESHOLD): collections of the youngest generation are rarer.
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(Settings().gc_threshold or 700, older, oldest)
    data_dir = build("collection", books=289, repeat=1, workers=args.workers)
    mix = queries(data_dir, None, 6000, seed=2)[: args.queries]
    ranked_snapshot = Store(data_dir).snapshot()
    plain_snapshot = Store(data_dir).snapshot()
    assert ranked_snapshot is not plain_snapshot
    ranking = hits.rank_collection

    def reading_order(snapshot: Snapshot, plan: Plan, deadline: Deadline) -> Ranked:
        empty = np.zeros(0, np.int64)
        return Ranked(*count_pages(snapshot, plan, None, deadline), (), empty, empty, empty, empty, empty)

    def timed(snapshot: Snapshot, q: str, ranked: bool) -> float:
        hits.rank_collection = ranking if ranked else reading_order  # type: ignore[assignment]
        started = time.perf_counter()
        page = hits.search(snapshot, parse_query(q), None, 0, 100)
        seconds = time.perf_counter() - started
        assert page.total > 0, q
        return seconds

    # Per snapshot, once: the arrays every query then reuses (book of each page, reading order).
    for snapshot in (ranked_snapshot, plain_snapshot):
        snapshot.rank()
        snapshot.book_ordinals()
    ranked_times: list[float] = []
    plain_times: list[float] = []
    rank_step: list[float] = []
    for n, q in enumerate(mix):
        if n % 2:
            ranked_times.append(timed(ranked_snapshot, q, True))
            plain_times.append(timed(plain_snapshot, q, False))
        else:
            plain_times.append(timed(plain_snapshot, q, False))
            ranked_times.append(timed(ranked_snapshot, q, True))
        plan = hits.plan_query(ranked_snapshot, parse_query(q))
        assert plan is not None
        docnums, counts = count_pages(ranked_snapshot, plan, None)
        started = time.perf_counter()
        rank_books(ranked_snapshot, docnums, counts)
        rank_step.append(time.perf_counter() - started)
    hits.rank_collection = ranking  # type: ignore[assignment]

    def ms(values: list[float], share: float) -> float:
        return 1000 * sorted(values)[min(len(values) - 1, int(share * len(values)))]

    print(f"machine: {machine()}; commit {commit()}; {len(mix)} distinct queries, first page of 100 hits, in-process")
    for name, values in (("ranked (as served)", ranked_times), ("reading order (reference)", plain_times)):
        print(f"  {name:26} median {ms(values, 0.5):6.1f} ms, p95 {ms(values, 0.95):6.1f} ms")
    print(f"  ranking step alone         median {ms(rank_step, 0.5):6.2f} ms, p95 {ms(rank_step, 0.95):6.2f} ms")
    print(f"  ratio ranked / reference: median {statistics.median(ranked_times) / statistics.median(plain_times):.2f}")


if __name__ == "__main__":
    main()
