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

Computed from the arrays `counting.count_pages` returns, with numpy and no Python step
per page or per book (a collection may hold 10,000 books): about 3 ms for a word on
94,000 of the 100,000 pages of the benchmark collection. A `RankedBook` is made only for
the books a response shows.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
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

    `docnums` and `counts` are `count_pages`' arrays reordered: the pages of the best
    book in reading order, then those of the next, and so on. Per book, in rank order:
    its place in `book_ids` (the snapshot's books by id), score, hits, pages with hits,
    and the end of its span in `docnums`.
    """

    docnums: array[int]
    counts: array[int]
    book_ids: Sequence[str]
    ordinals: np.ndarray
    scores: np.ndarray
    hits: np.ndarray
    pages: np.ndarray
    ends: np.ndarray

    @property
    def total(self) -> int:
        """Hits in every book."""
        return int(self.hits.sum())

    def __len__(self) -> int:
        """Number of matching books."""
        return len(self.ordinals)

    def books(self, start: int = 0, stop: int | None = None) -> list[RankedBook]:
        """The matching books `start`..`stop` in rank order (all by default)."""
        stop = len(self) if stop is None else min(stop, len(self))
        return [
            RankedBook(
                self.book_ids[int(self.ordinals[i])],
                float(self.scores[i]),
                int(self.hits[i]),
                int(self.pages[i]),
                int(self.ends[i - 1]) if i > 0 else 0,
                int(self.ends[i]),
            )
            for i in range(max(0, start), stop)
        ]

    def weight(self) -> int:
        """Estimated bytes held (for a snapshot cache)."""
        return 16 * len(self.docnums) + 40 * len(self.ordinals)


def bm25(hits: np.ndarray, words: np.ndarray, average_words: float) -> np.ndarray:
    """The score of each book from its hits and its length in words (module docstring).

    >>> [round(float(s), 3) for s in bm25(np.array([1, 10, 10]), np.array([100, 100, 400]), 100.0)]
    [1.0, 1.964, 1.583]
    """
    norm = K1 * (1 - B + B * words / max(average_words, 1.0))
    scores: np.ndarray = hits * (K1 + 1) / (hits + norm)
    return scores


@dataclass(frozen=True, slots=True)
class CorpusStats:
    """What BM25 needs of the whole collection: the average book length, from its parts.

    The score leaves out the inverse document frequency (module docstring), so the average
    length in printed words is the only collection-wide figure. Kept as sums so that the
    stats of several shards add up to the stats of one index holding all their books, and
    each shard then ranks its books exactly as that one index would.

    >>> (CorpusStats(2, 300, 2) + CorpusStats(1, 0, 0)).average_words
    150.0
    """

    books: int
    words: int  # printed words of the books that have any
    books_with_words: int

    @property
    def average_words(self) -> float:
        """Mean length of the books that have words (1.0 when none has)."""
        return self.words / self.books_with_words if self.books_with_words else 1.0

    def __add__(self, other: CorpusStats) -> CorpusStats:
        return CorpusStats(
            self.books + other.books, self.words + other.words, self.books_with_words + other.books_with_words
        )


def corpus_stats(snapshot: Snapshot) -> CorpusStats:
    """This snapshot's `CorpusStats` (once per snapshot)."""

    def compute() -> CorpusStats:
        words = [book.word_count for book in snapshot.books()]
        known = [w for w in words if w > 0]
        return CorpusStats(len(words), sum(known), len(known))

    return snapshot.cached(("ranking", "corpus stats"), compute, lambda found: 100)


def book_lengths(snapshot: Snapshot, corpus: CorpusStats | None = None) -> tuple[tuple[str, ...], np.ndarray, float]:
    """The snapshot's book ids (by id, the ordinals' order), their printed words, and the average (once per snapshot).

    The average is `corpus`'s when given (a shard ranking for the whole collection), else
    this snapshot's. A book without words counts as an average one (it has no hits anyway).
    """

    def compute() -> tuple[tuple[str, ...], np.ndarray]:
        books = snapshot.books()
        return tuple(book.id for book in books), np.array([book.word_count for book in books], np.float64)

    ids, words = snapshot.cached(("ranking", "book lengths"), compute, lambda found: 80 * len(found[0]))
    average = (corpus or corpus_stats(snapshot)).average_words
    return ids, np.where(words > 0, words, average), average


def rank_books(
    snapshot: Snapshot, docnums: array[int], counts: array[int], corpus: CorpusStats | None = None
) -> Ranked:
    """Order matched pages (in reading order, as `count_pages` gives them) best book first.

    Reading order keeps each book's pages together, so books are runs of the arrays:
    sums per run, then the runs moved into rank order, in O(pages) with numpy (no sort
    of the pages; the arrays are passed through when the order does not change).
    """
    book_ids, lengths, average = book_lengths(snapshot, corpus)
    ids = np.frombuffer(docnums, np.int64) if len(docnums) else np.zeros(0, np.int64)
    hits = np.frombuffer(counts, np.int64) if len(counts) else np.zeros(0, np.int64)
    ordinals = snapshot.book_ordinals()[ids]
    known = ordinals >= 0
    if not bool(known.all()):
        # A page whose book has no record: a book document and its pages are written and
        # deleted in one commit, so no snapshot holds one; never shown rather than guessed at.
        ids, hits, ordinals = ids[known], hits[known], ordinals[known]
        docnums, counts = _q(ids), _q(hits)
    if len(ordinals) > 1 and bool(np.any(ordinals[1:] < ordinals[:-1])):
        # Not in reading order (never, from count_pages): put it there, each book's pages in order.
        order = np.argsort(snapshot.rank_array()[ids], kind="stable")
        ids, hits, ordinals = ids[order], hits[order], ordinals[order]
        docnums, counts = _q(ids), _q(hits)
    if not len(ids):
        empty = np.zeros(0, np.int64)
        return Ranked(array("q"), array("q"), book_ids, empty, np.zeros(0), empty, empty, empty)
    starts = np.concatenate(([0], np.flatnonzero(ordinals[1:] != ordinals[:-1]) + 1))
    sizes = np.diff(np.append(starts, len(ids)))
    present = ordinals[starts]
    book_hits = np.add.reduceat(hits, starts)
    book_pages = np.add.reduceat((hits > 0).astype(np.int64), starts)
    scores = bm25(book_hits, lengths[present], average)
    # Best score first, then more hits, then book id (np.lexsort sorts by the last key first).
    order = np.lexsort((present, -book_hits, -scores))
    ranked_sizes = sizes[order]
    ends = np.cumsum(ranked_sizes)
    if not np.array_equal(order, np.arange(len(order))):
        # Position p of the result is page (p - where its book now starts) of that book's run.
        book_of = np.repeat(order, ranked_sizes)
        permutation = starts[book_of] + np.arange(len(ids)) - np.repeat(ends - ranked_sizes, ranked_sizes)
        docnums, counts = _q(ids[permutation]), _q(hits[permutation])
    return Ranked(docnums, counts, book_ids, present[order], scores[order], book_hits[order], book_pages[order], ends)


def _q(values: np.ndarray) -> array[int]:
    return array("q", values.astype(np.int64, copy=False).tobytes())
