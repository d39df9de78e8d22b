"""The first books of a collection-wide ranking without counting every page of every book (#20).

`ranking.rank_books` orders every matching book from the hits counted on every matching
page: its cost grows with the pages that hold the query's words, 269 ms at 300,000 pages
for the commonest word. Each book's document also counts its tokens and its pairs of
common words (`schema.BOOK_COUNTS_FIELD`, one posting per book), which this module ranks
from, in the way search engines skip what cannot reach the top:

- one slot (a word; a prefix or a fuzzy `word~` in an index without alternative readings):
  every occurrence is a hit, so a book's hits are the sum of its book counts over the slot's
  terms, exactly. Every book is
  ranked from those (O(books), not O(pages)), the totals are exact, and only the books
  the requested page shows have their pages counted (one book's counting, as its own
  search does);
- anything else (several words, phrases, and a prefix or fuzzy word where a printed word and
  its alternative reading may both match at one position): a book's book counts bound its hits from above
  (a unit occurs at most as often as its rarest slot, or its pair of common words; a
  page's hits are at most its units' occurrences, and a book missing a unit has none).
  Books are counted one at a time (one book's counting, exactly) in the order of their
  bound, best first, as WAND and block-max WAND do with documents: a counted book is
  settled once its true place (score, then hits, then id) is ahead of every bound not
  yet counted, since a bound's place is never behind its book's true place. Counting
  stops once the requested depth is settled; the totals are then what was counted, a
  lower bound (`Ranked.total_exact` False). Where the bounds would leave more to count
  than counting every page costs (a collection of near-identical books ties every
  bound; a rare word beside a common one spreads its hits a few a book), `top_books` says
  so early (None) and the caller counts every page.

The order is the exhaustive one, book for book and score for score: the same BM25
(`ranking.bm25`) of the same hits, lengths and average, the same ties.
"""

from __future__ import annotations

import heapq
import itertools
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from indexer.index.counting import Deadline, Plan, count_pages
from indexer.index.ranking import CorpusStats, Ranked, bm25, book_lengths
from indexer.index.schema import BOOK_COUNTS_FIELD, is_indexed_pair, pair_term
from indexer.index.snapshot import Snapshot

#: What counting costs beyond reading postings, in postings read, to weigh books counted one
#: at a time against counting every page at once. Measured at 303,278 pages in 6 segments
#: (docs/benchmarks.md): a posting read costs ~0.3 us; a term a book's counting reads ~1 ms
#: (its lookup in every segment, its first block, a few numpy calls), so a book's counting
#: costs this per term it holds...
TERM_OVERHEAD = 3_500
#: ...and counting every page this per term of the query (its lookups once, and for a prefix
#: or fuzzy word the positions two of its terms share: 2 to 3 ms a term).
EVERY_PAGE_TERM_OVERHEAD = 7_000
#: Books counted before their hits, against their bounds, are taken as a sample of the rest.
SAMPLE = 4
#: A bound is compared with this much room, so that a float rounding of BM25 can never
#: put a book's bound behind its true score (it only costs a rare extra book counted).
_ROOM = 1e-12


@dataclass(frozen=True, slots=True)
class _Counted:
    """One book counted: its ordinal in `snapshot.books()`, its hits, its matched pages in reading order."""

    ordinal: int
    score: float
    hits: int
    docnums: array[int]
    counts: array[int]

    def key(self) -> tuple[float, int, int]:
        """Its place: greater is better (score, then hits, then the smaller id)."""
        return (self.score, self.hits, -self.ordinal)


def has_book_counts(snapshot: Snapshot) -> bool:
    """Whether the index holds book counts (indexes written before #20 do not)."""
    return snapshot.searcher is not None and BOOK_COUNTS_FIELD in snapshot.searcher.schema


def top_books(
    snapshot: Snapshot,
    plan: Plan,
    books: int,
    hits: int,
    deadline: Deadline,
    corpus: CorpusStats | None = None,
    *,
    term_overhead: int = TERM_OVERHEAD,
    patience: float = 1.0,
) -> Ranked | None:
    """The best books for `plan` in rank order, at least the first `books` and enough to hold `hits` hits.

    Fewer when fewer match. Each book held has its matched pages counted, as `rank_books`
    gives them; `total`, `total_books` and `total_exact` say what is known of the rest
    (lower bounds exceed `books` and `hits` whenever more exist, so a next page shows).
    None when the index has no book counts, or when counting book by book would cost more
    than `patience` times counting every page (then use `rank_books` over `count_pages`);
    `term_overhead` is what one book's counting costs beyond its postings per term it holds,
    in postings (and EVERY_PAGE_TERM_OVERHEAD that of counting every page, per term).
    """
    if not has_book_counts(snapshot):
        return None
    book_ids, lengths, average = book_lengths(snapshot, corpus)
    snapshot.pages_by_book()  # so that each book's pages are found without a Whoosh query
    cache: dict[str, np.ndarray] = {}
    counts = _book_counts(snapshot, plan, len(book_ids), cache)
    if counts is None:
        return _ranked(book_ids, [], 0, 0, True)

    def count(ordinal: int, score: float) -> _Counted:
        # Only the terms this book holds: a prefix's 200 terms are a few in one book.
        held = tuple(tuple(frozenset(t for t in slot if cache[t][ordinal]) for slot in unit) for unit in plan)
        if not all(all(unit) for unit in held):
            return _Counted(ordinal, score, 0, array("q"), array("q"))
        docnums, found = count_pages(snapshot, held, book_ids[ordinal], deadline)
        return _Counted(ordinal, score, sum(found), docnums, found)

    terms = sorted({term for unit in plan for slot in unit for term in slot})
    # A book's counting reads only the terms it holds (see `count`).
    overheads = term_overhead * np.add.reduce([(cache[term] > 0) for term in terms]).astype(np.int64)
    postings = snapshot.pages_holding(terms, sys.maxsize)  # pages holding each term, summed
    every_page = (postings + EVERY_PAGE_TERM_OVERHEAD * len(terms)) * patience
    if counts_are_hits(snapshot, plan):
        return _one_slot(book_ids, lengths, average, counts[0][0], books, hits, count, overheads, every_page)
    return _bounded(book_ids, lengths, average, plan, counts, (books, hits), count, overheads, every_page)


def counts_are_hits(snapshot: Snapshot, plan: Plan) -> bool:
    """Whether a book's counts summed over the query's terms are its hits exactly: one slot of one
    term, or of several where no two share a position (`Snapshot.shares_positions`); otherwise they
    only bound its hits from above."""
    one_slot = len(plan) == 1 and len(plan[0]) == 1
    return one_slot and (len(plan[0][0]) == 1 or not snapshot.shares_positions())


def _book_counts(
    snapshot: Snapshot, plan: Plan, size: int, cache: dict[str, np.ndarray]
) -> list[list[np.ndarray]] | None:
    """Per unit, per slot: each book's occurrences of the slot's terms (by ordinal); a phrase adds its pairs' counts.

    None when some unit occurs in no book. `cache` keeps each term's counts by book.
    """
    ordinals = snapshot.book_ordinals()

    def of(term: str) -> np.ndarray:
        if term not in cache:
            arrays = snapshot.term_arrays(term, BOOK_COUNTS_FIELD)
            found = ordinals[arrays.ids] if len(arrays.ids) else np.zeros(0, np.int64)
            known = found >= 0
            cache[term] = np.bincount(found[known], weights=arrays.counts[known], minlength=size).astype(np.int64)
        return cache[term]

    out: list[list[np.ndarray]] = []
    for unit in plan:
        slots = [sum((of(term) for term in sorted(slot)), np.zeros(size, np.int64)) for slot in unit]
        for a, b in itertools.pairwise(unit):
            if len(a) == 1 and len(b) == 1 and is_indexed_pair(next(iter(a)), next(iter(b))):
                slots.append(of(pair_term(next(iter(a)), next(iter(b)))))  # the phrase's pair: a tighter bound
        if not bool(np.any(np.minimum.reduce(slots) > 0)):
            return None
        out.append(slots)
    return out


def _one_slot(
    book_ids: tuple[str, ...],
    lengths: np.ndarray,
    average: float,
    book_hits: np.ndarray,
    books: int,
    hits: int,
    count: Callable[[int, float], _Counted],
    overheads: np.ndarray,
    every_page: float,
) -> Ranked | None:
    """Every book ranked from its exact book counts; the pages counted of the first ones only.

    None when counting those first books would cost more than `every_page` (a prefix of many
    terms whose hits are spread a few a book), both in postings read, as in `_bounded`.
    """
    present = np.flatnonzero(book_hits > 0)
    found = book_hits[present]
    scores = bm25(found, lengths[present], average)
    order = np.lexsort((present, -found, -scores))  # as rank_books: score, then hits, then id
    cumulative = np.cumsum(found[order])
    depth = max(books, int(np.searchsorted(cumulative, hits)) + 1)
    shown = present[order[:depth]]
    if float((book_hits[shown] + overheads[shown]).sum()) > every_page:
        return None
    counted: list[_Counted] = []
    for i in order[:depth].tolist():
        book = count(int(present[i]), float(scores[i]))
        if book.hits != int(found[i]):
            return None  # pages and book counts disagree (cannot happen): trust the pages
        counted.append(book)
    return _ranked(book_ids, counted, int(cumulative[-1]), len(present), True)


def _bounded(
    book_ids: tuple[str, ...],
    lengths: np.ndarray,
    average: float,
    plan: Plan,
    counts: list[list[np.ndarray]],
    depth: tuple[int, int],
    count: Callable[[int, float], _Counted],
    overheads: np.ndarray,
    every_page: float,
) -> Ranked | None:
    """Books counted in the order of their bound until the first `books` (and `hits`) of `depth` are settled.

    `overheads`: what counting each book costs beyond its postings, `every_page` what counting
    every page costs, both in postings read; None as soon as the books left to count would
    cost more.
    """
    units = [np.minimum.reduce(slots) for slots in counts]
    bound = np.where(np.minimum.reduce(units) > 0, np.add.reduce(units), 0)
    candidates = np.flatnonzero(bound > 0)
    bounds = bound[candidates]
    bound_scores = bm25(bounds, lengths[candidates], average) * (1 + _ROOM)
    order = np.lexsort((candidates, -bounds, -bound_scores))
    candidates, bounds, bound_scores = candidates[order], bounds[order], bound_scores[order]
    # What each candidate costs to count, in postings.
    slots = [slot for slots, unit in zip(counts, plan, strict=True) for slot in slots[: len(unit)]]
    costs = (np.add.reduce(slots) + overheads)[candidates]
    work = np.cumsum(np.concatenate(([0], costs)))
    descending = -bound_scores  # ascending, for searchsorted

    # A result whose totals are lower bounds must still show that a next page exists: one more.
    books, hits = (depth[0] + 1 if depth[0] else 0), (depth[1] + 1 if depth[1] else 0)
    # Books are counted in this order, and their hits are at most their bounds: until the bounds
    # counted hold the hits wanted, counting cannot stop. Where that alone costs more than
    # counting every page (a rare word beside a common one: a hit or two a book), count every page.
    if _least_work(bounds, work, books, hits, 1.0) > every_page:
        return None
    waiting: list[tuple[tuple[float, int, int], _Counted]] = []  # a heap, best first (keys negated)
    settled: list[_Counted] = []
    settled_hits = 0
    counted_hits = counted_books = 0
    at = 0
    while len(settled) < books or settled_hits < hits:
        if waiting and (at == len(candidates) or _best(waiting) > _bound_key(candidates, bounds, bound_scores, at)):
            book = heapq.heappop(waiting)[1]
            settled.append(book)
            settled_hits += book.hits
            continue
        if at == len(candidates):
            break
        if _hopeless(settled, waiting, books, hits, descending, at, work, every_page):
            return None
        if (
            at >= SAMPLE
            and _least_work(bounds, work, books, hits, counted_hits / float(bounds[:at].sum())) > every_page
        ):
            return None  # the books counted hold far fewer hits than their bounds: the rest will too
        book = count(int(candidates[at]), 0.0)
        at += 1
        if book.hits:
            score = float(bm25(np.array([book.hits]), lengths[[book.ordinal]], average)[0])
            book = _Counted(book.ordinal, score, book.hits, book.docnums, book.counts)
            heapq.heappush(waiting, (_negated(book.key()), book))
            counted_hits += book.hits
            counted_books += 1
    return _ranked(book_ids, settled, counted_hits, counted_books, at == len(candidates))


def _best(waiting: list[tuple[tuple[float, int, int], _Counted]]) -> tuple[float, int, int]:
    return waiting[0][1].key()


def _bound_key(candidates: np.ndarray, bounds: np.ndarray, scores: np.ndarray, at: int) -> tuple[float, int, int]:
    """The best place candidate `at` could take: its bound's score and hits, its id."""
    return (float(scores[at]), int(bounds[at]), -int(candidates[at]))


def _negated(key: tuple[float, int, int]) -> tuple[float, int, int]:
    return (-key[0], -key[1], -key[2])


def _least_work(bounds: np.ndarray, work: np.ndarray, books: int, hits: int, ratio: float) -> float:
    """The work of counting, in order, the first books whose bounds times `ratio` hold `hits` (at least `books`).

    With `ratio` 1 a true least (a book's hits are at most its bound); with the share of their
    bounds the books counted so far held, an estimate of what is left.

    >>> work = np.cumsum([0, 10, 20, 30])
    >>> _least_work(np.array([5, 3, 1]), work, 0, 7, 1.0)  # the first two books at least
    30.0
    >>> _least_work(np.array([5, 3, 1]), work, 0, 7, 0.1)  # more than all of them
    60.0
    """
    if ratio <= 0:
        return float(work[-1])
    needed = int(np.searchsorted(np.cumsum(bounds) * ratio, hits)) + 1 if hits else 0
    return float(work[min(max(books, needed), len(work) - 1)])


def _hopeless(
    settled: list[_Counted],
    waiting: list[tuple[tuple[float, int, int], _Counted]],
    books: int,
    hits: int,
    descending: np.ndarray,
    at: int,
    work: np.ndarray,
    every_page: float,
) -> bool:
    """Whether counting on book by book would cost more than counting every page at once.

    The books needed so far must beat every bound above the place of the last of them:
    each such candidate must be counted first. Later books can only raise that place,
    so this overestimates what is left, and gives up early on bounds that tie (a
    collection of identical books), after a few books counted.
    """
    if int(work[at]) > every_page:
        return True
    known = settled + sorted((entry[1] for entry in waiting), key=_Counted.key, reverse=True)
    if len(known) < max(1, books):
        return False
    needed = len(known)  # all of them, unless fewer already hold the hits wanted
    total = 0
    for n, book in enumerate(known):
        total += book.hits
        if total >= hits:
            needed = max(books, n + 1)
            break
    last = known[max(1, needed) - 1].key()
    above = int(np.searchsorted(descending, -last[0], side="left"))  # bounds whose score beats it
    return int(work[max(at, min(above, len(work) - 1))]) > every_page


def _ranked(
    book_ids: tuple[str, ...], counted: list[_Counted], total_hits: int, total_books: int, exact: bool
) -> Ranked:
    """A `Ranked` of the books counted, in this order, with the totals known."""
    docnums: array[int] = array("q")
    counts: array[int] = array("q")
    ends = []
    for book in counted:
        docnums.extend(book.docnums)
        counts.extend(book.counts)
        ends.append(len(docnums))
    return Ranked(
        docnums,
        counts,
        book_ids,
        np.array([book.ordinal for book in counted], np.int64),
        np.array([book.score for book in counted], np.float64),
        np.array([book.hits for book in counted], np.int64),
        np.array([sum(1 for c in book.counts if c) for book in counted], np.int64),
        np.array(ends, np.int64),
        known_hits=total_hits,
        known_books=total_books,
        total_exact=exact,
    )
