"""CPU of the 3 shards' answers, summed, against one index's search, query by query, in process (#20).

    .venv/bin/python bench/shard_answers_cpu.py --single DIR --shards D1,D2,D3
    CODE=/tmp/ref .venv/bin/python bench/shard_answers_cpu.py ...   # another checkout's code (git archive COMMIT)

For each of the first `--queries` distinct queries of bench/search_latency.py (seed 2, the
list bench/shards.py's wrk runs go through): one index's `search` (Search 2.0's first page,
100 hits) and `search_books` (/api/search's, 10 books with 3 hits each), against what each
shard computes for the front's first request of that page (shard_answers.hits_window: its
share of the hits and the ranking up to hit 100; books_window: its share of the books and
the ranking up to book 10), with the collection's corpus stats, answers encoded as the
shard route does. The hits and the books take different stretches of the list, so that
no answer is found in a cache. Counts `time.process_time` only: no HTTP, no front, no
second request for the rest of a window; the HTTP whole is bench/shards.py. Prints the
CPU per query, by shape of query (word, phrase, prefix), and the queries where the shards
cost most over one index.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, os.environ.get("CODE") or str(Path(__file__).resolve().parents[1]))

from bench.search_latency import queries
from indexer.index.ranking import corpus_stats
from indexer.index.store import Store
from search_service.search import shard_answers
from search_service.search.books import search_books
from search_service.search.hits import search, warm_collection_columns
from search_service.search.query import parse_query
from search_service.search.shards import first_window, total_corpus
from search_service.web.responses import encode_json

HITS_PAGE, BOOKS_PAGE, HITS_PER_BOOK = 100, 10, 3


def shape(text: str) -> str:
    return "phrase" if text.startswith('"') else "prefix" if text.endswith("*") else "word"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=Path, required=True, help="the data directory holding every book")
    parser.add_argument("--shards", required=True, help="the same books as shard data directories, comma-separated")
    parser.add_argument("--queries", type=int, default=150, help="queries for each of the two answers")
    args = parser.parse_args()
    single = Store(args.single).snapshot()
    shards = [Store(Path(d)).snapshot() for d in args.shards.split(",")]
    for snapshot in (single, *shards):
        warm_collection_columns(snapshot)  # once per snapshot, as a server does before its first search
    corpus = total_corpus([corpus_stats(s) for s in shards])
    listed = queries(args.single, None, 6000, seed=2)
    cpu = time.process_time
    rows: list[tuple[str, str, float, float]] = []
    low, high = first_window(0, HITS_PAGE, len(shards))
    for text in listed[: args.queries]:
        query = parse_query(text)
        began = cpu()
        search(single, query, None, 0, HITS_PAGE)
        one = cpu() - began
        began = cpu()
        for shard in shards:
            encode_json(shard_answers.hits_window(shard, query, corpus, low, high - low, HITS_PAGE, None))
        rows.append(("hits", text, one, cpu() - began))
    low, high = first_window(0, BOOKS_PAGE, len(shards))
    for text in listed[args.queries : 2 * args.queries]:
        query = parse_query(text)
        began = cpu()
        search_books(single, query, 0, BOOKS_PAGE, HITS_PER_BOOK)
        one = cpu() - began
        began = cpu()
        for shard in shards:
            answer = shard_answers.books_window(shard, query, corpus, low, high - low, BOOKS_PAGE, HITS_PER_BOOK, None)
            encode_json(answer)
        rows.append(("books", text, one, cpu() - began))
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for answer, text, one, many in rows:
        for key in ((answer, "all"), (answer, shape(text))):
            sums[key][0] += one
            sums[key][1] += many
            sums[key][2] += 1
    print(f"{len(single.books()):,} books; CPU ms per query, one index against {len(shards)} shards summed")
    for (answer, kind), (one, many, count) in sorted(sums.items()):
        print(
            f"  {answer:5} {kind:6} {int(count):4} queries  one index {1000 * one / count:6.1f}  "
            f"shards {1000 * many / count:6.1f}  ({many / one:.2f} times)"
        )
    print("costliest on the shards over one index:")
    for answer, text, one, many in sorted(rows, key=lambda row: row[2] - row[3])[:10]:
        print(f"  {answer:5} {text:30} one index {1000 * one:7.1f}  shards {1000 * many:7.1f}")


if __name__ == "__main__":
    main()
