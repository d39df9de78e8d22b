"""A collection search over several shards, merged into the answer one index would give (#20).

Each shard ranks its own books with the whole collection's `CorpusStats`, so its scores
are the ones a single index of every book would give (indexer/index/ranking.py), and
the collection's ranking is the shards' rankings merged by the same order key: best
score, then more hits, then book id. Restricted to one shard, the merged order is that
shard's own order, so any window of the merged answer (books `start..stop`, or hits
`start..stop`) asks each shard for one contiguous window of its own answer: the front
asks each shard for a prefix of its ranking, merges, then asks each for its window.

Pure: the front's HTTP (search_service/web/shard_client.py) sends what this computes.

>>> a = [RankedEntry("x", 2.0, 5, 1, 0, 0), RankedEntry("z", 1.0, 1, 1, 0, 1)]
>>> b = [RankedEntry("y", 1.5, 9, 2, 1, 0)]
>>> [e.book_id for e in merge_rankings([a, b])]
['x', 'y', 'z']
>>> hit_windows(merge_rankings([a, b]), 3, 8)  # hits 3..8: the last 2 of x, the first 3 of y
{0: (3, 5), 1: (0, 3)}
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.index.ranking import CorpusStats
from search_service.search.books import BookResult
from search_service.search.hits import Hit
from search_service.search.shard_wire import RankedEntry

#: A shard's own window of an answer: items `start..stop` (stop excluded) of its own ranking or hits.
Window = tuple[int, int]


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


def merged_hits(merged: Sequence[RankedEntry], start: int, stop: int, hits: Mapping[int, Sequence[Hit]]) -> list[Hit]:
    """Hits `start..stop` of the merged answer from each shard's window (`hits[shard]`, hit_windows')."""
    taken: dict[int, int] = {}
    found: list[Hit] = []
    seen = 0
    for entry in merged:
        if seen >= stop:
            break
        low, high = max(start, seen), min(stop, seen + entry.hits)
        if low < high:
            at = taken.get(entry.shard, 0)
            found.extend(hits[entry.shard][at : at + high - low])
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
