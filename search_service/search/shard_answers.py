"""What a shard answers the front (#20): a window of its ranked books or hits, scored for the whole collection.

Each function runs the ordinary search logic (`books.search_books`, `hits.search`,
`hits.terms`) on this shard's snapshot with the collection's `CorpusStats`, and returns
a JSON-ready dict (shard_wire.py): the shard's totals, its ranking prefix up to
`ranking_end` (books, or hits for `hits_window`) for the front's merge, and its own
window `start..start + size`. The HTTP route is search_service/web/routes/shard.py.
"""

from __future__ import annotations

from typing import Any

from indexer.index.counting import Deadline, Plan
from indexer.index.ranking import CorpusStats, Ranked, corpus_stats
from indexer.index.snapshot import Snapshot
from search_service.search.books import book_page
from search_service.search.hits import (
    draw_hits,
    near_only_terms,
    plan_query,
    rank_collection,
    terms,
    warm_collection_columns,
)
from search_service.search.query import Query
from search_service.search.shard_wire import book_result_to_json, hit_to_json, ranking_to_json


def stats_json(stats: CorpusStats) -> list[int]:
    return [stats.books, stats.words, stats.books_with_words]


def info(snapshot: Snapshot) -> dict[str, Any]:
    """This shard's generation and corpus stats."""
    return {"generation": snapshot.generation, "corpus": stats_json(corpus_stats(snapshot))}


def books_window(
    snapshot: Snapshot,
    query: Query,
    corpus: CorpusStats,
    start: int,
    size: int,
    ranking_end: int,
    hits_per_book: int,
    time_limit: float | None,
    exact: bool = False,
    depth: int = 0,
) -> dict[str, Any]:
    """This shard's books `start..start + size` with their first hits, and its ranking's first `ranking_end` books.

    One ranking serves both, held deep enough for the longer of the two: ranked twice (the
    window, then the prefix, at two depths) a common word's shown books were counted twice.
    `depth`: rank at least this deep (_depth).
    """
    plan = plan_query(snapshot, query)
    if plan is None:
        return {**_totals(snapshot, 0, 0, True), "books": [], "ranking": []}
    ranked = _ranked(
        snapshot, plan, corpus, time_limit, None if exact else (_depth(start + size, ranking_end, depth), 0)
    )
    page = book_page(snapshot, plan, ranked, start, size, hits_per_book)
    answer = _totals(snapshot, page.total_books, page.total_hits, page.total_exact)
    answer["books"] = [book_result_to_json(result) for result in page.books]
    if ranking_end:
        answer["ranking"] = ranking_to_json(ranked.books(0, ranking_end))
    return answer


def hits_window(
    snapshot: Snapshot,
    query: Query,
    corpus: CorpusStats,
    start: int,
    size: int,
    ranking_end: int,
    time_limit: float | None,
    exact: bool = False,
    depth: int = 0,
) -> dict[str, Any]:
    """This shard's hits `start..start + size` (best books first), and its ranking up to `ranking_end` hits.

    The ranking prefix holds the books whose hits come before hit `ranking_end`, and the
    one that reaches it: all a merge of hits up to `ranking_end` can need of this shard.
    Both come from one ranking, held deep enough for the more hits of the two (a ranking
    with depth (0, n) holds the books up to hit n): ranking the prefix apart, by rounds of
    64 books, counted each of those books' pages again (3.9 s of CPU for `reg*` at 303,278
    pages on 3 shards, against 71 ms on one index). `depth`: rank at least this deep (_depth).
    """
    plan = plan_query(snapshot, query)
    if plan is None:
        answer = _totals(snapshot, 0, 0, True)
        return {**answer, "hits": [], "labels": {}, **({"ranking": []} if ranking_end else {})}
    ranked = _ranked(
        snapshot, plan, corpus, time_limit, None if exact else (0, _depth(start + size, ranking_end, depth))
    )
    near = near_only_terms(snapshot, query, plan)
    hits = draw_hits(snapshot, plan, near, ranked.docnums, ranked.counts, start, start + size)
    answer = _totals(snapshot, ranked.total_books, ranked.total, ranked.total_exact)
    answer["hits"] = [hit_to_json(hit) for hit in hits]
    labels: dict[str, str] = {}
    for hit in hits:
        if hit.book_id not in labels:
            record = snapshot.book(hit.book_id)
            labels[hit.book_id] = record.label if record is not None else hit.book_id
    answer["labels"] = labels
    if ranking_end:
        rows, seen = [], 0
        for book in ranked.books():
            if seen >= ranking_end:
                break
            rows.append(book)
            seen += book.hits
        answer["ranking"] = ranking_to_json(rows)
    return answer


def terms_window(snapshot: Snapshot, prefix: str, min_count: int, limit: int) -> dict[str, Any]:
    """This shard's autocomplete terms of `prefix`, with their counts (the front sums them)."""
    found = terms(snapshot, prefix, None, min_count, limit)
    return {"generation": snapshot.generation, "terms": [[term.text, term.count] for term in found]}


def _depth(window_end: int, ranking_end: int, asked: int) -> int:
    """How deep to rank: the window's end, the ranking prefix's, or the depth the front asks for.

    The front's second request for the rest of a window (search/shards.py) asks for the depth
    of its first, so that it finds that ranking in the snapshot's cache instead of ranking
    again at the window's own depth (the cache key holds the depth).
    """
    return max(window_end, ranking_end, asked)


def _ranked(
    snapshot: Snapshot, plan: Plan, corpus: CorpusStats, time_limit: float | None, depth: tuple[int, int] | None
) -> Ranked:
    warm_collection_columns(snapshot)  # the index's once-per-snapshot cost, outside the query's time limit
    return rank_collection(snapshot, plan, Deadline(time_limit), corpus, depth)


def _totals(snapshot: Snapshot, books: int, hits: int, exact: bool) -> dict[str, Any]:
    return {
        "generation": snapshot.generation,
        "corpus": stats_json(corpus_stats(snapshot)),
        "total_books": books,
        "total_hits": hits,
        "total_exact": exact,
    }
