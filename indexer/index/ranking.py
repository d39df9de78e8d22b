"""Which books answer a query best: a score per book, and the matched pages in that order (#13).

Collection-wide search lists the best books first and, within a book, its hits in
reading order. A book's score is BM25 (Robertson and Zaragoza, "The Probabilistic
Relevance Framework: BM25 and Beyond", 2009) with the *book* as the document:

    score = hits * (K1 + 1) / (hits + K1 * (1 - B + B * words / average words))

`hits` is the book's number of hits (`counting.hit_spans`, the same count its own
search service gives as `total`), `words` its printed words (`BookRecord.word_count`),
`average words` the mean over every indexed book. K1 and B are Lucene's defaults. The
hits saturate (the 200th occurrence adds less than the 2nd) and a long book needs more
hits than a short one for the same score, so a 300-page history of Peru that names the
Incas on every other page comes before a novel that names them twice, and a 4-page
pamphlet about them before a 500-page almanac with the same few mentions. There is one
count per book for the whole query (every unit of the query is required on a page), so
the inverse document frequency, the same for every book, is left out. Ties go to the
book with more hits, then to the book id, so the order never changes within one index
snapshot and paging through one query visits every hit once.

Computed from the arrays `counting.count_pages` returns, with numpy: a few
milliseconds for 100,000 matched pages.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from indexer.index.snapshot import Snapshot

#: BM25's term-frequency saturation and length normalisation (Lucene's defaults).
K1 = 1.2
B = 0.75


@dataclass(frozen=True, slots=True)
class RankedBook:
    """One matching book: its score, hits, pages with hits, and where its pages are.

    `start`..`end` (end excluded) is the span of `Ranked.docnums` holding its matched
    pages, in reading order.
    """

    book_id: str
    score: float
    hits: int
    pages: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Ranked:
    """The matched pages of a query over every book, best book first.

    `docnums` and `counts` are `count_pages`' arrays reordered: the pages of
    `books[0]` in reading order, then those of `books[1]`, and so on.
    """

    docnums: array[int]
    counts: array[int]
    books: tuple[RankedBook, ...]

    @property
    def total(self) -> int:
        """Hits in every book."""
        return sum(book.hits for book in self.books)

    def weight(self) -> int:
        """Estimated bytes held (for a snapshot cache)."""
        return 16 * len(self.docnums) + 120 * len(self.books)


def bm25(hits: np.ndarray, words: np.ndarray, average_words: float) -> np.ndarray:
    """The score of each book from its hits and its length in words (module docstring).

    >>> [round(float(s), 3) for s in bm25(np.array([1, 10, 10]), np.array([100, 100, 400]), 100.0)]
    [1.0, 1.964, 1.583]
    """
    norm = K1 * (1 - B + B * words / max(average_words, 1.0))
    scores: np.ndarray = hits * (K1 + 1) / (hits + norm)
    return scores


def average_words(snapshot: Snapshot) -> float:
    """Mean printed words of the indexed books that have any (once per snapshot)."""

    def compute() -> float:
        lengths = [book.word_count for book in snapshot.books() if book.word_count > 0]
        return sum(lengths) / len(lengths) if lengths else 1.0

    return snapshot.cached(("ranking", "average words"), compute, lambda _: 8)


def rank_books(snapshot: Snapshot, docnums: array[int], counts: array[int]) -> Ranked:
    """Order matched pages (in reading order, as `count_pages` gives them) best book first."""
    ids = np.frombuffer(docnums, np.int64) if len(docnums) else np.zeros(0, np.int64)
    hits = np.frombuffer(counts, np.int64) if len(counts) else np.zeros(0, np.int64)
    if not len(ids):
        return Ranked(array("q"), array("q"), ())
    ordinals = snapshot.book_ordinals()[ids]
    # Books by ordinal (= book id order); `first` is where each book's pages start.
    present, first, inverse = np.unique(ordinals, return_index=True, return_inverse=True)
    book_hits = np.bincount(inverse, weights=hits).astype(np.int64)
    book_pages = np.bincount(inverse, weights=hits > 0).astype(np.int64)
    keys = snapshot.book_and_canvas()
    book_ids = [keys[int(ids[i])][0] for i in first]
    average = average_words(snapshot)
    words = np.array([_words(snapshot, book_id, average) for book_id in book_ids], np.float64)
    scores = bm25(book_hits, words, average)
    # Best score first, then more hits, then book id (np.lexsort sorts by the last key first).
    order = np.lexsort((present, -book_hits, -scores))
    place = np.empty(len(order), np.int64)
    place[order] = np.arange(len(order))
    # A stable sort by the book's place keeps each book's pages in reading order.
    permutation = np.argsort(place[inverse], kind="stable")
    sizes = np.bincount(inverse)[order]
    ends = np.cumsum(sizes)
    books = tuple(
        RankedBook(
            book_ids[b],
            float(scores[b]),
            int(book_hits[b]),
            int(book_pages[b]),
            int(end - size),
            int(end),
        )
        for b, size, end in zip(order.tolist(), sizes.tolist(), ends.tolist(), strict=True)
    )
    return Ranked(_q(ids[permutation]), _q(hits[permutation]), books)


def _words(snapshot: Snapshot, book_id: str, average: float) -> float:
    record = snapshot.book(book_id)
    return float(record.word_count) if record is not None and record.word_count > 0 else average


def _q(values: np.ndarray) -> array[int]:
    return array("q", values.astype(np.int64, copy=False).tobytes())
