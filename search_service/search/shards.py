"""A collection search over several shards, merged into the answer one index would give (#20).

Each shard ranks its own books with the whole collection's `CorpusStats`, so its scores
are the ones a single index of every book would give (indexer/index/ranking.py), and
the collection's ranking is the shards' rankings merged by the same order key: best
score, then more hits, then book id. Restricted to one shard, the merged order is that
shard's own order, so any window of the merged answer (books `start..stop`, or hits
`start..stop`) asks each shard for one contiguous window of its own answer.

One round trip per shard in the common case: the front asks each shard at once for its
ranking prefix (enough to merge up to `stop`) and, in the same request, for a guess of its
window (`first_window`: its fair share of the page); it merges, works out each shard's true
window, and takes it out of what was sent (`within`). Only a shard whose true window is
longer than the guess is asked a second time, for the rest of it alone.

Pure: the front's HTTP (search_service/web/shard_client.py) sends what this computes.

>>> a = [RankedEntry("x", 2.0, 5, 1, 0, 0), RankedEntry("z", 1.0, 1, 1, 0, 1)]
>>> b = [RankedEntry("y", 1.5, 9, 2, 1, 0)]
>>> [e.book_id for e in merge_rankings([a, b])]
['x', 'y', 'z']
>>> hit_windows(merge_rankings([a, b]), 3, 8)  # hits 3..8: the last 2 of x, the first 3 of y
{0: (3, 5), 1: (0, 3)}
>>> within(["h0", "h1", "h2", "h3"], 0, (3, 5)) is None  # shard 0 sent its hits 0..3: 4 is missing
True
>>> within(["h0", "h1", "h2"], 0, (0, 3))
['h0', 'h1', 'h2']
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from indexer.index.ranking import CorpusStats
from search_service.search.books import BookResult
from search_service.search.hits import Hit
from search_service.search.shard_wire import RankedEntry

#: A shard's own window of an answer: items `start..stop` (stop excluded) of its own ranking or hits.
Window = tuple[int, int]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ShardFailure:
    """A shard that gave no answer: its position (0-based), why (in words a reader may see), its HTTP status if any.

    A 400 is the query's fault, not the shard's: the front answers it as a bad query.
    """

    shard: int
    reason: str
    status: int | None = None


def total_corpus(stats: Sequence[CorpusStats]) -> CorpusStats:
    """The collection's stats: the sum of its shards' (CorpusStats are sums)."""
    total = CorpusStats(0, 0, 0)
    for part in stats:
        total = total + part
    return total


def merge_rankings(rankings: Sequence[Sequence[RankedEntry]]) -> list[RankedEntry]:
    """The shards' rankings (each in its own rank order) as one, in the collection's rank order."""
    return list(heapq.merge(*rankings, key=lambda entry: entry.key))


def book_windows(merged: Sequence[RankedEntry], start: int, stop: int) -> dict[int, Window]:
    """Per shard, the window of its own ranking that books `start..stop` of `merged` come from."""
    windows: dict[int, Window] = {}
    for entry in merged[start:stop]:
        low, high = windows.get(entry.shard, (entry.place, entry.place + 1))
        windows[entry.shard] = (min(low, entry.place), max(high, entry.place + 1))
    return windows


def hit_windows(merged: Sequence[RankedEntry], start: int, stop: int) -> dict[int, Window]:
    """Per shard, the window of its own hits (in its own order) that hits `start..stop` of `merged` come from.

    A book's hits follow each other; a shard's hits in its own order are its books' hits
    in its ranking order, so a window of the merged hits is one window of each shard's.
    """
    windows: dict[int, Window] = {}
    own: dict[int, int] = {}  # hits of each shard's books before the current one
    seen = 0
    for entry in merged:
        if seen >= stop:
            break
        before = own.get(entry.shard, 0)
        low, high = max(start, seen), min(stop, seen + entry.hits)
        if low < high:
            first, last = before + low - seen, before + high - seen
            found = windows.get(entry.shard)
            windows[entry.shard] = (first, last) if found is None else (found[0], last)
        own[entry.shard] = before + entry.hits
        seen += entry.hits
    return windows


def first_window(start: int, stop: int, shards: int) -> Window:
    """The window of its own answer each shard sends with its ranking, before the merge says what it needs.

    A fair share: the window a shard holding 1/`shards` of the items before `stop` would
    have. Drawing items (a hit's page, a book's line pictures) is most of a search's work,
    so the guess draws no more than the page needs when the shards share it evenly; a
    shard whose true window is longer is asked for the rest (measured against sending
    every shard's first `stop` items, docs/benchmarks.md#shards).

    >>> first_window(0, 100, 3)
    (0, 34)
    >>> first_window(300, 400, 3)
    (100, 134)
    """
    return (start // shards, math.ceil(stop / shards))


def within(sent: Sequence[T], sent_from: int, window: Window) -> Sequence[T] | None:
    """The items of `window` out of `sent` (a shard's items `sent_from..`), or None when `sent` lacks some."""
    low, high = window
    if low < sent_from or high > sent_from + len(sent):
        return None
    return sent[low - sent_from : high - sent_from]


def merged_hits(merged: Sequence[RankedEntry], start: int, stop: int, hits: Mapping[int, Sequence[Hit]]) -> list[Hit]:
    """Hits `start..stop` of the merged answer from each shard's window (`hits[shard]`, hit_windows').

    A shard missing from `hits` (it answered its ranking, then not its window) adds no hits: the
    answer is partial and says so.
    """
    taken: dict[int, int] = {}
    found: list[Hit] = []
    seen = 0
    for entry in merged:
        if seen >= stop:
            break
        low, high = max(start, seen), min(stop, seen + entry.hits)
        if low < high:
            at = taken.get(entry.shard, 0)
            found.extend(hits.get(entry.shard, ())[at : at + high - low])
            taken[entry.shard] = at + high - low
        seen += entry.hits
    return found


def merged_books(
    merged: Sequence[RankedEntry],
    start: int,
    stop: int,
    windows: Mapping[int, Window],
    books: Mapping[int, Sequence[BookResult]],
) -> list[BookResult]:
    """Books `start..stop` of the merged answer from each shard's window (`books[shard]`, book_windows'), ranked anew."""
    found: list[BookResult] = []
    for place, entry in enumerate(merged[start:stop], start=start + 1):
        result = books[entry.shard][entry.place - windows[entry.shard][0]]
        found.append(BookResult(place, result.book, result.score, result.hits, result.pages, result.first_hits))
    return found
