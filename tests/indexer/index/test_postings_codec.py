"""The columnar posting codec: numpy reads of whole posting lists agree with the stored pages.

Ground truth is each page's stored tokens (token i at position i), not Whoosh's own
matcher: the arrays must say, for every page, exactly where each word is.
"""

from __future__ import annotations

import numpy as np
import pytest

from indexer.index import postings
from indexer.index.postings_codec import ArrayPositions, BlockDirectory, ColumnarCodec, ColumnarLeafMatcher
from indexer.index.snapshot import Snapshot
from tests.indexer.index.conftest import WORDS, truth


def test_the_index_uses_the_codec_and_array_positions(snap: Snapshot) -> None:
    assert snap.searcher is not None
    assert isinstance(snap.searcher.schema["text"].format, ArrayPositions)
    segments = [leaf.segment() for leaf, _ in snap.searcher.reader().leaf_readers()]
    assert segments and all(isinstance(s.codec(), ColumnarCodec) for s in segments)
    assert any(s.has_deletions() for s in segments), "the test needs deleted documents"


@pytest.mark.parametrize("term", sorted(set(WORDS)))
def test_term_arrays_match_the_stored_pages(snap: Snapshot, term: str) -> None:
    ids, counts, positions = truth(snap, term)
    arrays = snap.term_arrays(term, positions=True)
    assert arrays.ids.tolist() == ids
    assert arrays.counts.tolist() == counts
    assert arrays.positions is not None and arrays.positions.tolist() == positions
    # Counts alone come from the weights: the same numbers.
    assert snap.term_arrays(term).counts.tolist() == counts
    keys = arrays.keys()
    assert np.all(np.diff(keys) > 0)  # sorted and distinct: what sequence_counts relies on


def test_whooshs_own_matchers_read_the_columnar_blocks(snap: Snapshot) -> None:
    """Merging, deleting and Whoosh's queries go through the matcher: it sees the usual postings."""
    assert snap.searcher is not None
    ids, counts, positions = truth(snap, "fox")
    matcher = snap.searcher.postings("text", "fox")
    seen_ids, seen_counts, seen_positions = [], [], []
    while matcher.is_active():
        seen_ids.append(matcher.id())  # Whoosh's reader leaves deleted documents out
        seen_counts.append(int(matcher.weight()))
        seen_positions.extend(matcher.value_as("positions"))
        matcher.next()
    assert seen_ids == ids and seen_counts == counts and seen_positions == positions


@pytest.mark.parametrize("book_id", ["big", "small0", "small1", "small3"])
def test_one_books_postings_are_read_from_its_blocks_alone(snap: Snapshot, book_id: str) -> None:
    """term_arrays for a book reads the blocks around its pages: the same postings as all, filtered."""
    for term in sorted(set(WORDS)):
        every = snap.term_arrays(term, positions=True)
        mine = snap.term_arrays(term, positions=True, book_id=book_id)
        keep = snap.in_book(every.ids, book_id)
        assert mine.ids.tolist() == every.ids[keep].tolist()
        assert mine.counts.tolist() == every.counts[keep].tolist()
        assert mine.keys().tolist() == every.select(keep).keys().tolist()
        blocks = snap.blocks(term, "text", book_id)
        assert set(mine.ids.tolist()) <= {d for ids, _, _ in blocks for d in ids}


def test_a_block_directory_lets_later_reads_jump_to_their_blocks(
    snap: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A term read within a range records the block headers it walks; a later read starts at its block (#20).

    Same postings either way; the later read of the last pages reads a header or two, not
    every header before them (a collection search counting 200 books apart walked ~25
    headers per term and book).
    """
    assert snap.searcher is not None
    reader = snap.searcher.reader()
    every = postings.term_arrays(reader, "the", positions=True)
    big = snap.docs_of("big")
    windows = [(big[-40], big[-1]), (big[5], big[30]), (big[len(big) // 2], big[len(big) // 2 + 3]), (big[-3], big[-1])]
    headers = []
    real_goto = ColumnarLeafMatcher._goto

    def counted_goto(matcher: ColumnarLeafMatcher, position: int) -> None:
        headers[-1] += 1
        real_goto(matcher, position)

    monkeypatch.setattr(ColumnarLeafMatcher, "_goto", counted_goto)
    directories: dict[tuple[int, str, str], BlockDirectory] = {}
    for first, last in windows:
        headers.append(0)
        mine = postings.term_arrays(reader, "the", positions=True, within=(first, last), directories=directories)
        keep = (every.ids >= first) & (every.ids <= last)
        assert mine.ids.tolist() == every.ids[keep].tolist()
        assert mine.keys().tolist() == every.select(keep).keys().tolist()
    blocks = max(len(d.positions) for d in directories.values())
    assert blocks >= 3, "the test needs a term over several blocks"
    assert headers[0] >= blocks  # the first read walks from the first block
    assert headers[3] <= 2  # the last pages again: straight to their block (and the matcher's own first)
