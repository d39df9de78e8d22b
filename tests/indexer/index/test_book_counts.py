"""The book counts (#20): each book's document holds how often each token and common pair occurs in it."""

from __future__ import annotations

from collections import Counter

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
