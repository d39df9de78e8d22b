"""The columnar posting codec: numpy reads of whole posting lists agree with the stored pages.

Ground truth is each page's stored tokens (token i at position i), not Whoosh's own
matcher: the arrays must say, for every page, exactly where each word is.
"""

from __future__ import annotations

import numpy as np
import pytest

from indexer.index import counting
from indexer.index.counting import hit_spans, token_positions
from indexer.index.postings_codec import BLOCK_LIMIT, ArrayPositions, ColumnarCodec
from indexer.index.records import BookRecord, PageRecord, StoredWord
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "and", "then", "the", "fox", "sleeps"]


def _book(store: Store, book_id: str, pages: int, shift: int = 0) -> None:
    records = []
    for n in range(pages):
        # Pages differ in length and content, so blocks mix counts and weights.
        tokens = tuple(WORDS[(n * 7 + i + shift) % len(WORDS)] for i in range(20 + n % 23))
        words = tuple(StoredWord(t, i * 5, 10, 4, 20, 0) for i, t in enumerate(tokens))
        records.append(
            PageRecord.build(
                book_id, n, f"c{n}", str(n), 1000, 1000, words, tokens, tuple((i, i) for i in range(len(tokens)))
            )
        )
    store.replace_book(
        BookRecord(id=book_id, label=book_id, manifest_id="m", version=3, source="s", manifest={}), records
    )


def _truth(snap: Snapshot, term: str) -> tuple[list[int], list[int], list[int]]:
    assert snap.searcher is not None
    ids, counts, positions = [], [], []
    for docnum in sorted(snap.searcher.document_numbers(kind="page")):
        found = [i for i, t in enumerate(snap.page(docnum).tokens) if t == term]
        if found:
            ids.append(docnum)
            counts.append(len(found))
            positions.extend(found)
    return ids, counts, positions


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    store = Store(tmp_path_factory.mktemp("codec"))
    _book(store, "big", 3 * BLOCK_LIMIT + 17)  # every word spans several blocks
    for n in range(4):
        _book(store, f"small{n}", 40, shift=n)
    _book(store, "small1", 25, shift=5)  # replaced: its old pages are deleted documents
    store.remove_book("small2")
    return store.snapshot()


def test_the_index_uses_the_codec_and_array_positions(snap: Snapshot) -> None:
    assert snap.searcher is not None
    assert isinstance(snap.searcher.schema["text"].format, ArrayPositions)
    segments = [leaf.segment() for leaf, _ in snap.searcher.reader().leaf_readers()]
    assert segments and all(isinstance(s.codec(), ColumnarCodec) for s in segments)
    assert any(s.has_deletions() for s in segments), "the test needs deleted documents"


@pytest.mark.parametrize("term", sorted(set(WORDS)))
def test_term_arrays_match_the_stored_pages(snap: Snapshot, term: str) -> None:
    ids, counts, positions = _truth(snap, term)
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
    ids, counts, positions = _truth(snap, "fox")
    matcher = snap.searcher.postings("text", "fox")
    seen_ids, seen_counts, seen_positions = [], [], []
    while matcher.is_active():
        seen_ids.append(matcher.id())  # Whoosh's reader leaves deleted documents out
        seen_counts.append(int(matcher.weight()))
        seen_positions.extend(matcher.value_as("positions"))
        matcher.next()
    assert seen_ids == ids and seen_counts == counts and seen_positions == positions


@pytest.mark.parametrize(
    "units",
    [
        [[["the"], ["fox"]]],
        [[["fox"], ["jumps"]]],
        [[["lazy"], ["dog"]]],
        [[["fox"], ["dog"]]],  # never adjacent
        [[["quick"]], [["brown"]]],  # two words: adjacent ones join into one hit
        [[["fox"], ["jumps"], ["over"]]],
        [[["sleeps"]], [["the"], ["quick"]], [["brown"]]],
        [[["dog"]], [["and"], ["then"]]],
        # Slots of several terms (what a prefix becomes), none shared between slots.
        [[["fox", "dog"]], [["jumps", "and", "sleeps"]]],
        [[["the"], ["fox", "lazy"]]],
        [[["quick", "lazy"], ["brown", "dog"]], [["fox", "and"]]],
    ],
)
def test_sequence_counts_agree_with_the_rule_on_stored_pages(snap: Snapshot, units: list[list[list[str]]]) -> None:
    """Counts from position arrays equal hit_spans (the one rule) run on each page's tokens."""

    plan = tuple(tuple(frozenset(slot) for slot in unit) for unit in units)
    assert snap.searcher is not None
    expected: dict[int, int] = {}
    for docnum in snap.searcher.document_numbers(kind="page"):
        n = len(hit_spans(plan, token_positions(snap.page(docnum).tokens)))
        if n:
            expected[docnum] = n
    for book_id in (None, "big", "small1"):
        docnums, counts = counting.sequence_counts(snap, units, book_id)
        want = {d: c for d, c in expected.items() if book_id is None or snap.page(d).book_id == book_id}
        assert dict(zip(docnums, counts, strict=True)) == want, (units, book_id)
        assert list(docnums) == snap.in_reading_order(docnums)
    if units == [[["fox"], ["dog"]]]:
        assert not expected
    else:
        assert expected


def test_sequence_counts_refuse_a_term_in_two_slots(snap: Snapshot) -> None:
    with pytest.raises(ValueError):
        counting.sequence_counts(snap, [[["the"]], [["fox"], ["the"]]], None)
    with pytest.raises(ValueError):
        counting.sequence_counts(snap, [[["the", "fox"]], [["fox"]]], None)
