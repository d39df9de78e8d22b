"""What a shard answers its front (#20): its window and its ranking prefix, from one ranking of the query."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.index.ranking import corpus_stats
from indexer.index.snapshot import Snapshot
from search_service.search import hits as hits_module
from search_service.search.books import search_books
from search_service.search.hits import search
from search_service.search.query import parse_query
from search_service.search.shard_answers import books_window, hits_window
from search_service.search.shard_wire import hit_to_json


@pytest.fixture
def rankings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The depth of every ranking from book counts (`top_books`) a search runs, the path a common word takes."""
    monkeypatch.setattr(hits_module, "ONE_SLOT_EVERY_PAGE_BELOW", 0)
    monkeypatch.setattr(hits_module, "EVERY_PAGE_BELOW", 0)
    depths: list[tuple[int, int]] = []
    real = hits_module.top_books

    def counted(snapshot: Snapshot, plan: Any, books: int, hits: int, *args: Any, **kwargs: Any) -> Any:
        depths.append((books, hits))
        return real(snapshot, plan, books, hits, *args, **kwargs)

    monkeypatch.setattr(hits_module, "top_books", counted)
    return depths


@pytest.mark.parametrize("q", ["de", "la*", '"de la"'])
def test_a_books_window_and_its_ranking_prefix_come_from_one_ranking(
    snapshot: Snapshot, rankings: list[tuple[int, int]], q: str
) -> None:
    # The front asks for a window shorter than the ranking prefix it merges (its fair share of
    # the page): ranking the two apart counted the shown books' pages twice.
    corpus = corpus_stats(snapshot)
    answer = books_window(snapshot, parse_query(q), corpus, 0, 1, 3, 2, None)
    assert rankings == [(3, 0)]
    whole = search_books(snapshot, parse_query(q), 0, 3, 2, None, corpus)
    assert [row[0] for row in answer["ranking"]] == [result.book.id for result in whole.books]
    assert [book["book"]["id"] for book in answer["books"]] == [whole.books[0].book.id]
    assert len(answer["books"][0]["first_hits"]) == 2


@pytest.mark.parametrize("q", ["de", "la*", '"de la"'])
def test_a_hits_window_and_its_ranking_prefix_come_from_one_ranking(
    snapshot: Snapshot, rankings: list[tuple[int, int]], q: str
) -> None:
    # The ranking prefix was gathered by rounds of 64 books ranked again, each round's books counted
    # page by page: 3.9 s of CPU for `reg*` on 3 shards of 303,278 pages against 71 ms on one index.
    corpus = corpus_stats(snapshot)
    answer = hits_window(snapshot, parse_query(q), corpus, 0, 5, 40, None)
    assert rankings == [(0, 40)]
    whole = search(snapshot, parse_query(q), None, 0, 40, None, corpus)
    assert answer["hits"] == [hit_to_json(hit) for hit in whole.hits[:5]]
    # The books up to hit 40 and the one that reaches it, in rank order.
    ranked_books = list(dict.fromkeys(hit.book_id for hit in whole.hits))
    assert [row[0] for row in answer["ranking"]] == ranked_books
    if whole.total >= 40:
        assert sum(row[2] for row in answer["ranking"][:-1]) < 40 <= sum(row[2] for row in answer["ranking"])


def test_a_query_with_no_match_answers_an_empty_window_and_ranking(snapshot: Snapshot) -> None:
    corpus = corpus_stats(snapshot)
    books = books_window(snapshot, parse_query("zzzqqq"), corpus, 0, 4, 10, 3, None)
    assert (books["books"], books["ranking"], books["total_books"], books["total_hits"]) == ([], [], 0, 0)
    hits = hits_window(snapshot, parse_query("zzzqqq"), corpus, 0, 34, 100, None)
    assert (hits["hits"], hits["ranking"], hits["total_hits"]) == ([], [], 0)
