"""A Whoosh codec whose posting blocks decode with a few numpy calls instead of per posting.

Whoosh's own codec (W3, whoosh-reloaded 2.7.5, pinned) pickles each block of postings
as tuples of Python ints, floats and bytes (a bytes object per posting, pickled as a
latin-1 string), and a posting's positions as a pickled list of deltas. Reading a
word's postings on 70,000 pages cost ~50 ms, and decoding their positions ~100 ms
more: the floor of a two-word phrase over a large collection.

This codec keeps Whoosh's file layout, block headers and skipping, and changes only
what a block holds: document ids as one array of uint32 deltas, weights as one
float32 array (or Whoosh's None / single float when all are equal), and the values
of a block as one array of their lengths plus their bytes joined. `ArrayPositions`
stores a posting's positions as plain uint32. `read_term` then turns a whole
posting list into numpy arrays; Whoosh's own matchers (merging, deletion, its
query classes) see the usual tuples through `ColumnarLeafMatcher`.

Indexes written by the stock codec keep reading through it: a segment records the
codec that wrote it, so one index can mix both while it is being rewritten.
"""

from __future__ import annotations

import bisect
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh import formats
from whoosh.codec import whoosh3
from whoosh.system import pack_uint

_LITTLE_ENDIAN = sys.byteorder == "little"
#: Postings per block: large blocks mean fewer Python steps per posting list; block
#: skipping (by each block's largest id) matters less once a block decodes in one go.
BLOCK_LIMIT = 512


def _le_bytes(values: array[Any]) -> bytes:
    if not _LITTLE_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_le(typecode: str, data: bytes) -> array[Any]:
    values = array(typecode)
    values.frombytes(data)
    if not _LITTLE_ENDIAN:
        values.byteswap()
    return values


class PositionedTokens(tuple[tuple[str, int], ...]):
    """A field value of (token, position) pairs, several tokens at one position allowed (#21).

    `ArrayPositions` indexes each token at the position given, instead of counting them off:
    a word's alternative readings sit at the position of the printed word.
    """


class ArrayPositions(formats.Positions):
    """Positions of a posting as little-endian uint32, absolute: numpy reads a block's at once."""

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Iterator[tuple[str, int, float, bytes]]:
        if not isinstance(value, PositionedTokens):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        positions: dict[str, set[int]] = {}
        for token, position in value:
            positions.setdefault(token, set()).add(position)
        for token, found in positions.items():
            ordered = sorted(found)
            yield token, len(ordered), len(ordered) * self.field_boost, self.encode(ordered)

    def encode(self, poslist: Iterable[int]) -> bytes:
        return _le_bytes(array("I", poslist))

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return _from_le("I", valuestring).tolist()

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) // 4


class CountsFormat(formats.Frequency):
    """A field indexed from `(term, count)` pairs, not from text: each count is the posting's weight.

    Whoosh would take the count from repeating the term in a text; a book holds the
    commonest words tens of thousands of times.
    """

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Iterable[tuple[str, int, float, bytes]]:
        return ((term, count, float(count), pack_uint(count)) for term, count in value)


class ColumnarPostingsWriter(whoosh3.W3PostingsWriter):
    """W3's writer with each block's ids, weights and values stored as arrays and joined bytes."""

    def _mini_ids(self) -> Any:
        if self._byteids:  # term vectors (not used by this project): Whoosh's own form
            return super()._mini_ids()
        ids = self._ids
        return _le_bytes(array("I", (b - a for a, b in zip([0, *ids[:-1]], ids, strict=True))))

    def _mini_weights(self) -> Any:
        weights = self._weights
        first = weights[0]
        if all(w == first for w in weights):
            return None if first == 1.0 else first
        return _le_bytes(array("f", weights))

    def _mini_values(self) -> Any:
        fixedsize = self._format.fixed_value_size()
        if self._byteids or not (fixedsize is None or fixedsize < 0):
            return super()._mini_values()
        return _le_bytes(array("I", (len(v) for v in self._values))), b"".join(self._values)


class ColumnarLeafMatcher(whoosh3.W3LeafMatcher):
    """W3's matcher over blocks written by `ColumnarPostingsWriter`."""

    def _read_ids(self) -> None:
        if self._data is None:
            self._read_data()
        self._ids = tuple(np.frombuffer(self._data[0], "<u4").cumsum(dtype=np.int64).tolist())

    def _read_weights(self) -> None:
        if self._data is None:
            self._read_data()
        weights = self._data[1]
        if weights is None or isinstance(weights, float):
            self._weights = array("f", [1.0 if weights is None else weights]) * self._blocklength
        else:
            self._weights = _from_le("f", weights)

    def _read_values(self) -> None:
        if self._data is None:
            self._read_data()
        values = self._data[2]
        if not isinstance(values, tuple):  # a fixed-size format: Whoosh's own form
            super()._read_values()
            return
        lengths, joined = values
        out, at = [], 0
        for length in _from_le("I", lengths):
            out.append(joined[at : at + length])
            at += length
        self._values = tuple(out)


class ColumnarCodec(whoosh3.W3Codec):
    """W3Codec writing and reading columnar posting blocks (see the module's docstring)."""

    def __init__(self, blocklimit: int = BLOCK_LIMIT, compression: int = 3, inlinelimit: int = 1) -> None:
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> Any:
        if byteids:
            return super().postings_writer(dbfile, byteids=True)
        return ColumnarPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=False,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def postings_reader(self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None) -> Any:
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return ColumnarLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


@dataclass(frozen=True, slots=True)
class TermArrays:
    """One term's postings in one segment (local ids), or across an index (global ids).

    `ids` ascending; `counts[i]` occurrences on `ids[i]`; with positions, each
    document's `counts[i]` positions in turn, ascending.
    """

    ids: np.ndarray
    counts: np.ndarray
    positions: np.ndarray | None = None

    def keys(self) -> np.ndarray:
        """One int64 per occurrence, `id << 32 | position`: sorted, so phrases are one searchsorted."""
        assert self.positions is not None
        return (np.repeat(self.ids, self.counts) << 32) | self.positions.astype(np.int64)

    def select(self, keep: np.ndarray) -> TermArrays:
        """The postings where the boolean mask `keep` is true."""
        positions = None if self.positions is None else self.positions[np.repeat(keep, self.counts)]
        return TermArrays(self.ids[keep], self.counts[keep], positions)

    def shifted(self, base: int) -> TermArrays:
        return TermArrays(self.ids + base, self.counts, self.positions) if base else self

    @staticmethod
    def empty(positions: bool) -> TermArrays:
        return TermArrays(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64) if positions else None)

    @staticmethod
    def concat(parts: Sequence[TermArrays], positions: bool) -> TermArrays:
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return TermArrays.empty(positions)
        return TermArrays(
            np.concatenate([p.ids for p in parts]),
            np.concatenate([p.counts for p in parts]),
            np.concatenate([p.positions for p in parts if p.positions is not None]) if positions else None,
        )


@dataclass(slots=True)
class BlockDirectory:
    """Where one term's posting blocks start in one segment, and each block's largest id, as far as read.

    Filled by `read_term` with every block header it walks over, so that a later read of
    the same term within a range jumps to its first block instead of walking every header
    before it again: a collection search counting 200 books apart read each common
    word's headers from the start for each book (~25 headers, ~1 ms, per term and book, #20).
    """

    positions: list[int]
    largest_ids: list[int]

    @staticmethod
    def empty() -> BlockDirectory:
        return BlockDirectory([], [])

    def note(self, position: int, largest_id: int) -> None:
        """Record a block walked over, when it is the next one not yet recorded."""
        if not self.positions or position > self.positions[-1]:
            self.positions.append(position)
            self.largest_ids.append(largest_id)

    def start_for(self, first: int) -> int | None:
        """The position of the last recorded block worth starting from to reach id `first`, or None for the first block."""
        k = bisect.bisect_left(self.largest_ids, first)
        # The first block reaching `first`; past the known ones, the last known (walk on from it).
        k = min(k, len(self.positions) - 1)
        return self.positions[k] if k > 0 else None


def read_term(
    matcher: Any, positions: bool, within: tuple[int, int] | None = None, directory: BlockDirectory | None = None
) -> TermArrays | None:
    """All postings of `matcher` (a fresh ColumnarLeafMatcher of an ArrayPositions or
    counts-only field) as arrays; None for any other matcher (the caller reads it the slow way).

    With `within` (first, last document id, inclusive, local to the segment), only
    those: blocks wholly before `first` are passed by their header, and reading stops
    after the block that reaches `last`, so one book's postings in a big collection
    cost that book's blocks, not the whole list. Without positions, counts come from
    the weights, which Whoosh sets to the occurrences (no boosts in this schema).
    `directory`: this term's blocks in this segment as far as earlier reads walked them;
    the walk starts from the nearest known block, and the blocks walked are added to it.
    """
    if type(matcher) is not ColumnarLeafMatcher:
        return None
    if positions and not isinstance(matcher.format, ArrayPositions):
        return None
    id_parts: list[bytes] = []
    weight_parts: list[np.ndarray] = []  # without positions, counts are the weights
    value_parts: list[bytes] = []
    length_parts: list[bytes] = []
    firsts: list[int] = []  # index in the joined ids where each block starts
    previous_max: list[int] = []  # the largest id of the block before it
    at, last_max = 0, 0
    first, last = within if within is not None else (0, None)
    position = matcher._baseoffset  # where the current block starts (Whoosh keeps only the next one's)
    if directory is not None and first:
        start = directory.start_for(first)
        if start is not None:
            matcher._goto(start)
            position = start
    while matcher.is_active():
        if directory is not None:
            directory.note(position, matcher._maxid)
        if matcher._maxid < first:
            position = matcher._nextoffset
            matcher._next_block()  # reads only the next block's header
            continue
        if matcher._data is None:
            matcher._read_data()
        ids, weights, values = matcher._data
        length = matcher._blocklength
        id_parts.append(ids)
        firsts.append(at)
        previous_max.append(last_max)
        if positions:
            length_parts.append(values[0])
            value_parts.append(values[1])
        elif weights is None or isinstance(weights, float):
            weight_parts.append(np.full(length, 1.0 if weights is None else weights, np.float32))
        else:
            weight_parts.append(np.frombuffer(weights, "<f4"))
        at += length
        # The cumulative sum below chains blocks read: a skipped block adds nothing to it.
        last_max = matcher._maxid
        position = matcher._nextoffset
        matcher._next_block()
        if last is not None and last_max >= last:
            break
    if not id_parts:
        return TermArrays.empty(positions)
    # Each block's ids are deltas from 0: make its first one a delta from the block
    # before, and one cumulative sum gives every id.
    deltas = np.frombuffer(b"".join(id_parts), "<u4").astype(np.int64)
    deltas[firsts] -= previous_max
    ids_out = np.cumsum(deltas)
    if not positions:
        counts = np.rint(np.concatenate(weight_parts)).astype(np.int64)
        arrays = TermArrays(ids_out, counts)
    else:
        # With positions, a posting's count is its number of positions (exact whatever the boosts).
        counts = np.frombuffer(b"".join(length_parts), "<u4").astype(np.int64) // 4
        arrays = TermArrays(ids_out, counts, np.frombuffer(b"".join(value_parts), "<u4").astype(np.int64))
    if within is not None:
        arrays = arrays.select((ids_out >= first) & (ids_out <= within[1]))
    return arrays
