"""ranking: best book first by BM25 over books, each book's pages kept in reading order (#13).

Books made to order, so the right answer is obvious: the same length with more hits,
the same hits in a shorter book, a tie. Then the real corpus: every page and hit kept.
"""

from __future__ import annotations

import numpy as np
import pytest

from indexer.index.counting import count_pages
from indexer.index.ranking import K1, B, bm25, rank_books
from indexer.index.records import BookRecord, PageRecord, StoredWord
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store


def _page(book_id: str, n: int, words: list[str]) -> PageRecord:
    rows = tuple(StoredWord(w, 10 * i, 10, 8, 10, 0) for i, w in enumerate(words))
    return PageRecord.build(
        book_id,
        n,
        f"https://x/{book_id}/c{n}",
        f"p. {n + 1}",
        1000,
        1000,
        rows,
        words,
        [(i, i) for i in range(len(words))],
    )


def _book(store: Store, book_id: str, pages: list[list[str]]) -> None:
    records = [_page(book_id, n, words) for n, words in enumerate(pages)]
    store.replace_book(
        BookRecord(
            id=book_id,
            label=book_id,
            manifest_id="m",
            version=3,
            source="s",
            manifest={},
            page_count=len(records),
            word_count=sum(len(words) for words in pages),
        ),
        records,
    )


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """Six books of 100-word pages:

    - `a-few`: 4 pages, "inca" once;
    - `b-many`: 4 pages, "inca" 12 times over three pages (as long as a-few);
    - `c-short`: 1 page, "inca" 3 times;
    - `d-long`: 12 pages, "inca" 3 times over two pages;
    - `e-tie` and `f-tie`: the same as a-few (a tie, broken by id).
    """
    store = Store(tmp_path_factory.mktemp("ranking"))
    plain = ["lorem"] * 100

    def with_inca(times: int) -> list[str]:
        return ["inca"] * times + ["lorem"] * (100 - times)

    _book(store, "a-few", [plain, with_inca(1), plain, plain])
    _book(store, "b-many", [with_inca(5), plain, with_inca(4), with_inca(3)])
    _book(store, "c-short", [with_inca(3)])
    _book(store, "d-long", [plain] * 4 + [with_inca(1)] + [plain] * 5 + [with_inca(2), plain])
    _book(store, "e-tie", [plain, with_inca(1), plain, plain])
    _book(store, "f-tie", [plain, with_inca(1), plain, plain])
    return store.snapshot()


def _ranked(snapshot: Snapshot, term: str) -> list[tuple[str, int, int]]:
    ranked = rank_books(snapshot, *count_pages(snapshot, ((frozenset({term}),),), None))
    return [(book.book_id, book.hits, book.pages) for book in ranked.books()]


def test_more_hits_first_then_shorter_books_then_ids(shelf: Snapshot) -> None:
    assert _ranked(shelf, "inca") == [
        ("b-many", 12, 3),  # 12 hits in 400 words
        ("c-short", 3, 1),  # 3 hits in 100 words beat...
        ("d-long", 3, 2),  # ...the same 3 hits in 1,200 words
        ("a-few", 1, 1),  # one hit in 400 words; its twins follow by id
        ("e-tie", 1, 1),
        ("f-tie", 1, 1),
    ]


def test_scores_are_bm25_of_each_books_hits_and_length(shelf: Snapshot) -> None:
    ranked = rank_books(shelf, *count_pages(shelf, ((frozenset({"inca"}),),), None))
    lengths = {"a-few": 400, "b-many": 400, "c-short": 100, "d-long": 1200, "e-tie": 400, "f-tie": 400}
    average = sum(lengths.values()) / len(lengths)
    for book in ranked.books():
        norm = K1 * (1 - B + B * lengths[book.book_id] / average)
        assert book.score == pytest.approx(book.hits * (K1 + 1) / (book.hits + norm))


def test_pages_stay_in_reading_order_within_each_book(shelf: Snapshot) -> None:
    docnums, counts = count_pages(shelf, ((frozenset({"inca"}),),), None)
    ranked = rank_books(shelf, docnums, counts)
    # Nothing lost or repeated, only reordered.
    assert sorted(zip(ranked.docnums, ranked.counts, strict=True)) == sorted(zip(docnums, counts, strict=True))
    keys = shelf.book_and_canvas()
    for book in ranked.books():
        pages = [keys[d] for d in ranked.docnums[book.start : book.end]]
        assert {b for b, _ in pages} == {book.book_id}
        assert pages == sorted(pages)
        assert sum(ranked.counts[book.start : book.end]) == book.hits
    assert ranked.total == sum(counts)
    assert [b.end for b in ranked.books()][-1] == len(docnums)


def test_no_pages_no_books(shelf: Snapshot) -> None:
    ranked = rank_books(shelf, *count_pages(shelf, ((frozenset({"zzqx"}),),), None))
    assert (len(ranked.docnums), ranked.books(), len(ranked), ranked.total) == (0, [], 0, 0)


def test_saturation_and_length_normalisation() -> None:
    scores = bm25(np.array([1, 2, 100, 200]), np.array([100.0, 100.0, 100.0, 100.0]), 100.0)
    assert list(scores) == sorted(scores)  # more hits never score less...
    assert scores[3] - scores[2] < scores[1] - scores[0]  # ...but the 200th adds less than the 2nd
    assert scores[3] < K1 + 1  # bounded
    short, long = bm25(np.array([5, 5]), np.array([50.0, 500.0]), 100.0)
    assert short > long


def test_real_books_every_hit_kept(snapshot: Snapshot) -> None:
    """Over the real corpus: ranking only reorders what counting found."""
    docnums, counts = count_pages(snapshot, ((frozenset({"de", "die", "the", "of"}),),), None)
    ranked = rank_books(snapshot, docnums, counts)
    assert len({b.book_id for b in ranked.books()}) == len(ranked) >= 2
    assert sorted(ranked.docnums) == sorted(docnums)
    assert [b.score for b in ranked.books()] == sorted((b.score for b in ranked.books()), reverse=True)
