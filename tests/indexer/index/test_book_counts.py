"""The book counts (#20): each book's document holds how often each token and common pair occurs in it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from indexer.index.schema import BOOK_COUNTS_FIELD
from indexer.index.snapshot import Snapshot
from tests.indexer.index.conftest import WORDS


def test_each_books_counts_are_its_pages_tokens_counted(snap: Snapshot) -> None:
    assert snap.searcher is not None
    for term in sorted(set(WORDS)):
        arrays = snap.term_arrays(term, BOOK_COUNTS_FIELD)
        found = {snap.book_and_canvas()[int(i)][0]: int(w) for i, w in zip(arrays.ids, arrays.counts, strict=True)}
        expected: Counter[str] = Counter()
        for docnum in snap.searcher.document_numbers(kind="page"):
            page = snap.page(docnum)
            expected[page.book_id] += sum(1 for t in page.tokens if t == term)
        assert found == {book: n for book, n in expected.items() if n}, term
        # Only live books: the replaced book's old counts and the removed book's are gone.
        assert "small2" not in found


def test_book_counts_are_exact_beyond_small_numbers(snap: Snapshot) -> None:
    arrays = snap.term_arrays("the", BOOK_COUNTS_FIELD)
    assert int(np.max(arrays.counts)) > 1_000  # "the" in the 1,553-page book


def test_book_counts_count_the_alternatives_the_index_holds(tmp_path: Path) -> None:
    # A word found through an alternative reading (#21) is a hit when every page is counted, so
    # the book counts that rank books without counting (#20) must count it too.
    from indexer.index.records import BookRecord, PageRecord, StoredWord
    from indexer.index.store import Store

    tokens = ("gedanfenlosen", "und", "gedanfenlosen")
    words = tuple(StoredWord(t, i * 50, 10, 40, 20, 0) for i, t in enumerate(tokens))
    alternatives = [("gedankenlosen", 0), ("gedankenlosen", 2), ("und", 1)]  # "und" again: no new occurrence
    page = PageRecord.build("kant", 0, "c0", "1", 1000, 1000, words, tokens, [(0, 0), (1, 1), (2, 2)], alternatives)
    store = Store(tmp_path)
    store.replace_book(BookRecord(id="kant", label="k", manifest_id="m", version=3, source="s", manifest={}), [page])
    snap = store.snapshot()
    by_field = {term: int(snap.term_arrays(term, BOOK_COUNTS_FIELD).counts.sum()) for term in ("gedankenlosen", "und")}
    by_pages = {term: int(snap.count_arrays([term], None)[1].sum()) for term in ("gedankenlosen", "und")}
    assert by_field == by_pages == {"gedankenlosen": 2, "und": 1}
