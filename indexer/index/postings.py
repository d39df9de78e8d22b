"""A term's postings read from a Whoosh reader: as numpy arrays, block by block, or on chosen pages.

The only module (with postings_codec.py, which defines the block format) that reaches
into Whoosh's private posting API (`leaf._terms.matcher`, a matcher's `_ids`,
`_read_values`, `_next_block`), pinned to whoosh-reloaded 2.7.5: stepping Whoosh's
public matchers one posting at a time cost ~1.7 us a posting, the floor of every
search of a large collection. Each function falls back to the public API when a
segment is not in the format it was written against. Callers hold the snapshot's
I/O lock (Snapshot.reading()): readers share file handles.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import numpy as np
from whoosh.reading import TermNotFound

from indexer.index.postings_codec import BlockDirectory, TermArrays, read_term

#: One posting block: (global docnums, frequencies, raw values holding positions).
Block = tuple[Sequence[int], Sequence[float], Sequence[bytes | None]]


def blocks(reader: Any, term: str, field: str = "text", within: tuple[int, int] | None = None) -> Iterator[Block]:
    """(docnums, frequencies, raw values) of `term`, a posting block at a time, deleted documents dropped.

    With `within` (first, last global docnum, inclusive), only the blocks that may hold
    those documents are read (others are passed by their header), and the ids outside
    are kept: callers filter.

    Reads whole blocks from Whoosh's W3 posting format (whoosh-reloaded 2.7.5, pinned)
    instead of stepping its matcher one posting at a time: counting a common word over
    100,000 pages drops from ~100 ms to a few. A value holds a posting's positions
    (`format.decode_positions`). Falls back to the matcher if the format is not the
    one this was written against.
    """
    for leaf, base in reader.leaf_readers():
        local = _local_range(within, base, leaf.doc_count_all())
        if local is None or (field, term) not in leaf:
            continue
        first, last = local
        deleted = leaf.deleted_docs_set
        try:
            raw = leaf._terms.matcher(field, leaf._text_to_bytes(field, term), leaf.schema[field].format)
            while raw.is_active():
                if raw._maxid < first:
                    raw._next_block()  # reads only the block's header
                    continue
                if raw._ids is None:
                    raw._read_ids()
                if raw._weights is None:
                    raw._read_weights()
                if raw._values is None:
                    raw._read_values()  # the block is already unpickled: no decoding here
                ids, weights, values = raw._ids[raw._i :], raw._weights[raw._i :], raw._values[raw._i :]
                if deleted:
                    kept = [i for i, d in enumerate(ids) if d not in deleted]
                    ids, weights, values = (
                        [ids[i] for i in kept],
                        [weights[i] for i in kept],
                        [values[i] for i in kept],
                    )
                yield ([d + base for d in ids] if base else ids), weights, values
                done = raw._maxid >= last
                raw._next_block()
                if done:
                    break
        except AttributeError:  # another posting format: the slow, public way
            matcher = leaf.postings(field, term)
            ids, weights, values = [], [], []
            while matcher.is_active():
                ids.append(matcher.id() + base)
                weights.append(matcher.weight())
                values.append(matcher.value())
                matcher.next()
            yield ids, weights, values


def term_arrays(
    reader: Any,
    term: str,
    field: str = "text",
    *,
    positions: bool = False,
    within: tuple[int, int] | None = None,
    directories: MutableMapping[tuple[int, str, str], BlockDirectory] | None = None,
) -> TermArrays:
    """Every posting of `term` in `field` as arrays (global docnums, deleted documents dropped).

    With `within` (first, last global docnum, inclusive), only those documents'
    postings, and only the blocks holding them are read. Segments written by
    ColumnarCodec decode in a few numpy calls per block (postings_codec.py); others
    (indexes from before it) posting by posting. `directories`: where the term's blocks
    start in each segment (by the segment's first docnum), as far as known, kept by the
    caller between reads and filled by this one (postings_codec.BlockDirectory).
    """
    parts: list[TermArrays] = []
    for leaf, base in reader.leaf_readers():
        local = _local_range(within, base, leaf.doc_count_all())
        if local is None:
            continue
        try:
            # One term lookup (not `in`, then another for the matcher): a prefix asks for
            # up to 200 terms in every segment.
            matcher = leaf._terms.matcher(field, leaf._text_to_bytes(field, term), leaf.schema[field].format)
        except TermNotFound:
            continue
        except AttributeError:  # not a segment reader: the public, slow way below
            if (field, term) not in leaf:
                continue
            matcher = None
        directory = None
        if directories is not None and within is not None:
            directory = directories.setdefault((base, field, term), BlockDirectory.empty())
        arrays = (
            read_term(matcher, positions, local if within is not None else None, directory)
            if matcher is not None
            else None
        )
        if arrays is None:
            arrays = _term_arrays_slowly(leaf, field, term, positions)
            if within is not None:
                arrays = arrays.select((arrays.ids >= local[0]) & (arrays.ids <= local[1]))
        deleted = leaf.deleted_docs_set
        if deleted:
            arrays = arrays.select(~np.isin(arrays.ids, np.fromiter(deleted, np.int64, len(deleted))))
        parts.append(arrays.shifted(base))
    return TermArrays.concat(parts, positions)


def _local_range(within: tuple[int, int] | None, base: int, count: int) -> tuple[int, int] | None:
    """`within` in a segment's own ids (the segment holds global ids base..base+count-1); None when it holds none."""
    if within is None:
        return 0, count - 1
    first, last = max(within[0], base), min(within[1], base + count - 1)
    return (first - base, last - base) if first <= last else None


def _term_arrays_slowly(leaf: Any, field: str, term: str, positions: bool) -> TermArrays:
    matcher = leaf.postings(field, term)
    ids: list[int] = []
    counts: list[int] = []
    found: list[int] = []
    while matcher.is_active():
        ids.append(matcher.id())
        if positions:
            these = matcher.value_as("positions")
            found.extend(these)
            counts.append(len(these))
        else:
            counts.append(round(matcher.weight()))
        matcher.next()
    return TermArrays(
        np.array(ids, np.int64), np.array(counts, np.int64), np.array(found, np.int64) if positions else None
    )


def postings_among(
    reader: Any, term: str, wanted: Sequence[int], field: str = "text", *, positions: bool = True
) -> dict[int, tuple[int, list[int] | None]]:
    """docnum -> (frequency, positions or None) of `term` on the `wanted` pages (sorted docnums).

    Walks the posting blocks, skipping by each block's largest id those that hold
    none of `wanted`, and decodes only the postings of wanted pages. Whoosh's
    matcher.skip_to costs a Python call per posting passed over: reading the
    positions of three words on 1,500 pages of 100,000 took 180 ms that way.
    """
    out: dict[int, tuple[int, list[int] | None]] = {}
    if not wanted:
        return out
    for leaf, base in reader.leaf_readers():
        if (field, term) not in leaf:
            continue
        # `wanted` is sorted: this leaf's part of it is one slice.
        part = wanted[bisect.bisect_left(wanted, base) : bisect.bisect_left(wanted, base + leaf.doc_count_all())]
        local = [d - base for d in part] if base else part
        if not local:
            continue
        deleted = leaf.deleted_docs_set
        fmt = leaf.schema[field].format
        try:
            raw = leaf._terms.matcher(field, leaf._text_to_bytes(field, term), fmt)
            want = set(local)
            k = 0  # local[k] is the next wanted id not yet passed
            while raw.is_active() and k < len(local):
                if raw._maxid < local[k]:
                    raw._next_block()  # reads only the block's header
                    continue
                if raw._ids is None:
                    raw._read_ids()
                if raw._weights is None:
                    raw._read_weights()
                if positions and raw._values is None:
                    raw._read_values()
                ids, weights, values = raw._ids, raw._weights, raw._values
                for i, docnum in enumerate(ids):
                    if docnum in want and docnum not in deleted:
                        value = fmt.decode_positions(values[i]) if positions else None
                        out[docnum + base] = (int(weights[i]), value)
                while k < len(local) and local[k] <= raw._maxid:
                    k += 1
                raw._next_block()
        except AttributeError:  # another posting format: the slow, public way
            matcher = leaf.postings(field, term)
            for docnum in local:
                if not matcher.is_active():
                    break
                if matcher.id() < docnum:
                    matcher.skip_to(docnum)
                    if not matcher.is_active():
                        break
                if matcher.id() == docnum and docnum not in deleted:
                    out[docnum + base] = (
                        int(matcher.weight()),
                        list(matcher.value_as("positions")) if positions else None,
                    )
    return out
