"""What a shard answers the front (#20): a window of its ranked books or hits, scored for the whole collection.

Each function runs the ordinary search logic (`books.search_books`, `hits.search`,
`hits.terms`) on this shard's snapshot with the collection's `CorpusStats`, and returns
a JSON-ready dict (shard_wire.py): the shard's totals, its ranking prefix up to
`ranking_end` (books, or hits for `hits_window`) for the front's merge, and its own
window `start..start + size`. The HTTP route is search_service/web/routes/shard.py.
"""

from __future__ import annotations

from typing import Any

from indexer.index.ranking import CorpusStats, corpus_stats
from indexer.index.snapshot import Snapshot
from search_service.search.books import BookPage, search_books
from search_service.search.hits import search, terms
from search_service.search.query import Query
from search_service.search.shard_wire import book_result_to_json, hit_to_json, ranking_to_json

#: Books asked of search_books at a time while a hits ranking prefix is gathered (then doubled).
_RANKING_CHUNK = 64


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
) -> dict[str, Any]:
    """This shard's books `start..start + size` with their first hits, and its ranking's first `ranking_end` books."""
    page = search_books(snapshot, query, start, size, hits_per_book, time_limit, corpus, exact_total=exact)
    answer = _totals(snapshot, page)
    answer["books"] = [book_result_to_json(result) for result in page.books]
    if ranking_end:
        if start == 0 and ranking_end <= size:
            ranked = page
        else:
            ranked = search_books(snapshot, query, 0, ranking_end, 0, time_limit, corpus, exact_total=exact)
        answer["ranking"] = ranking_to_json(list(ranked.books))
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
) -> dict[str, Any]:
    """This shard's hits `start..start + size` (best books first), and its ranking up to `ranking_end` hits.

    The ranking prefix holds the books whose hits come before hit `ranking_end`, and the
    one that reaches it: all a merge of hits up to `ranking_end` can need of this shard.
    """
    page = search(snapshot, query, None, start, size, time_limit, corpus, exact_total=exact)
    answer: dict[str, Any] = {
        "generation": snapshot.generation,
        "corpus": stats_json(corpus_stats(snapshot)),
        "total_hits": page.total,
        "total_exact": page.total_exact,
        "hits": [hit_to_json(hit) for hit in page.hits],
        "labels": {},
    }
    for hit in page.hits:
        if hit.book_id not in answer["labels"]:
            record = snapshot.book(hit.book_id)
            answer["labels"][hit.book_id] = record.label if record is not None else hit.book_id
    if ranking_end:
        wanted = _RANKING_CHUNK
        while True:
            ranked = search_books(snapshot, query, 0, wanted, 0, time_limit, corpus, exact_total=exact)
            if sum(result.hits for result in ranked.books) >= ranking_end or len(ranked.books) < wanted:
                break
            wanted *= 2
        rows, seen = [], 0
        for result in ranked.books:
            rows.append(result)
            seen += result.hits
            if seen >= ranking_end:
                break
        answer["ranking"] = ranking_to_json(rows)
        answer["total_books"] = ranked.total_books
    return answer


def terms_window(snapshot: Snapshot, prefix: str, min_count: int, limit: int) -> dict[str, Any]:
    """This shard's autocomplete terms of `prefix`, with their counts (the front sums them)."""
    found = terms(snapshot, prefix, None, min_count, limit)
    return {"generation": snapshot.generation, "terms": [[term.text, term.count] for term in found]}


def _totals(snapshot: Snapshot, page: BookPage) -> dict[str, Any]:
    return {
        "generation": snapshot.generation,
        "corpus": stats_json(corpus_stats(snapshot)),
        "total_books": page.total_books,
        "total_hits": page.total_hits,
        "total_exact": page.total_exact,
    }
