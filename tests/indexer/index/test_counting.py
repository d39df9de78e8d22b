"""counting: what a hit is (one rule, `hit_spans`), and every counting strategy checked against it.

The rule runs on each page's stored tokens (token i at position i); each strategy of
`count_pages` counts every page at once from the index. They must agree on every page,
in every book and over all, for every query shape each strategy accepts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.errors import QueryTooCostly
from indexer.index import counting
from indexer.index import store as store_module
from indexer.index.counting import Deadline, Plan, count_pages, hit_spans, token_positions
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store
from search_service.search.hits import page_hits_of, plan_query, search
from search_service.search.query import parse_query
from tests.search_service.conftest import Corpus


def plan_of(*units: list[set[str]]) -> Plan:
    return tuple(tuple(frozenset(slot) for slot in unit) for unit in units)


# -- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "positions", "expected"),
    [
        # One word: every occurrence is a hit.
        (plan_of([{"bird"}]), {"bird": [7, 2]}, [(2, 2), (7, 7)]),
        # Words adjacent in the query and on the page form one hit; others stay single.
        (plan_of([{"hand"}], [{"is"}]), {"hand": [3], "is": [4, 9]}, [(3, 4), (9, 9)]),
        # Query order matters: "is hand" does not chain "hand is".
        (plan_of([{"is"}], [{"hand"}]), {"hand": [3], "is": [4]}, [(3, 3), (4, 4)]),
        # A page lacking one unit has no hits at all.
        (plan_of([{"hand"}], [{"bush"}]), {"hand": [3]}, []),
        # A phrase occurs only where its tokens follow each other.
        (plan_of([{"hand"}, {"is"}]), {"hand": [3, 10], "is": [4, 12]}, [(3, 4)]),
        (plan_of([{"hand"}, {"is"}]), {"hand": [10], "is": [12]}, []),
        # A prefix slot holds several terms.
        (plan_of([{"bird", "birds"}]), {"bird": [1], "birds": [5]}, [(1, 1), (5, 5)]),
        # Overlapping units (`the th*`): positions are never shared between hits.
        (plan_of([{"the"}], [{"the", "that"}]), {"the": [0, 5], "that": [1]}, [(0, 1), (5, 5)]),
        # Three units chained, then a phrase unit chained after a word.
        (plan_of([{"a"}], [{"b"}], [{"c"}]), {"a": [0], "b": [1], "c": [2]}, [(0, 2)]),
        (plan_of([{"x"}], [{"y"}, {"z"}]), {"x": [4], "y": [5], "z": [6]}, [(4, 6)]),
    ],
)
def test_hit_spans(plan: Plan, positions: dict[str, list[int]], expected: list[tuple[int, int]]) -> None:
    assert hit_spans(plan, positions) == expected


def test_token_positions_follow_the_index() -> None:
    assert token_positions(("a", "b", "a")) == {"a": [0, 2], "b": [1]}


QUERIES = [
    "de",
    "de la",
    "drückt die",
    '"drückt die innere"',
    "inca*",
    "le roi",
    "verbunden",
    "der die das",
    "e*",
    "l a",
    '"de la"',
    '"la la"',
    '"de l"',
    "de la de",
    '"roi de" la',
    '"de la*"',
    "la la",
    "de l a",
    '"inca de"',
    "roi de la",
    '"et de la"',
    '"de la" roi',
    # All words different, not all common: counted from position arrays.
    "roi pérou",
    '"roi de" pérou',
    '"frisch drückt die innere"',
    "drückt innere",
    '"de la" inca pérou',
    # Prefixes beside other words: no term in two slots, so counted from arrays too.
    '"la inca*"',
    "inca* de",
    '"drückt d*"',
    "roi p*",
    # Fuzzy words (#14): a slot of the word's near spellings, counted like a prefix's terms.
    "pérou~",
    "espagnols~",
    '"roi~1 de"',
    "ville~ de",
    '"de la" ville~',
    "inca~ roi~1",
    "inca~ inca*",
]


@pytest.mark.parametrize("q", QUERIES)
def test_counting_from_the_index_agrees_with_drawing_from_stored_pages(snapshot: Snapshot, q: str) -> None:
    plan = plan_query(snapshot, parse_query(q))
    assert plan is not None
    groups = sorted({tuple(sorted(slot)) for unit in plan for slot in unit})
    matches = counting.match(snapshot, groups, None, positions=True)
    assert matches
    total = 0
    for match in matches:
        record = snapshot.page(match.docnum)
        assert match.positions is not None
        from_index = hit_spans(plan, match.positions)
        from_page = hit_spans(plan, token_positions(record.tokens))
        assert from_index == from_page
        assert len(page_hits_of(record, plan)) == len(from_page)
        total += len(from_page)
    # The exact total (#20: a collection search may otherwise stop counting early, with a lower bound).
    assert search(snapshot, parse_query(q), None, 0, 10, exact_total=True).total == total


def _rule(snapshot: Snapshot, plan: Plan, book_id: str | None) -> dict[int, int]:
    """docnum -> hits on that page, by the rule run on every stored page of the scope."""
    assert snapshot.searcher is not None
    out = {}
    for docnum in snapshot.searcher.document_numbers(kind="page"):
        page = snapshot.page(docnum)
        if book_id is not None and page.book_id != book_id:
            continue
        if hits := len(hit_spans(plan, token_positions(page.tokens))):
            out[docnum] = hits
    return out


def _strategies(snapshot: Snapshot, plan: Plan) -> dict[str, object]:
    """Every strategy that accepts this plan, as `f(book_id) -> (docnums, counts)`."""
    no_limit = Deadline(None)
    found: dict[str, object] = {"count_pages": lambda book: count_pages(snapshot, plan, book)}
    if counting._single_slot(plan):
        found["occurrences"] = lambda book: counting._count_occurrences(snapshot, sorted(plan[0][0]), book, no_limit)
    if snapshot.has_pairs and counting._countable_by_pairs(plan):
        found["pairs"] = lambda book: counting._count_by_pairs(snapshot, plan, book, no_limit)
    if (units := counting._disjoint_units(plan)) is not None:
        found["sequences"] = lambda book: counting.sequence_counts(snapshot, units, book)
    groups = sorted({tuple(sorted(slot)) for unit in plan for slot in unit})

    def by_pages(book: str | None) -> tuple[list[int], list[int]]:
        matches = counting.match(snapshot, groups, book, positions=True, pairs=counting._adjacent_pairs(plan))
        return [m.docnum for m in matches], [len(hit_spans(plan, m.positions or {})) for m in matches]

    found["pages"] = by_pages
    return found


@pytest.mark.parametrize("q", QUERIES)
def test_every_strategy_agrees_with_the_rule(snapshot: Snapshot, q: str) -> None:
    """Each way of counting gives, page for page, what the rule gives on the stored tokens."""
    plan = plan_query(snapshot, parse_query(q))
    assert plan is not None
    for book_id in (None, "fish", "stanford"):
        expected = _rule(snapshot, plan, book_id)
        for name, strategy in _strategies(snapshot, plan).items():
            docnums, counts = strategy(book_id)  # type: ignore[operator]
            got = {d: c for d, c in zip(docnums, counts, strict=True) if c}
            assert got == expected, (q, book_id, name)
            assert list(docnums) == snapshot.in_reading_order(docnums), (q, name)


def test_each_strategy_is_exercised(snapshot: Snapshot) -> None:
    """The queries above reach every strategy (a strategy no query takes would go untested)."""
    taken = set()
    for q in QUERIES:
        plan = plan_query(snapshot, parse_query(q))
        assert plan is not None
        taken.update(_strategies(snapshot, plan))
    assert taken == {"count_pages", "occurrences", "pairs", "sequences", "pages"}


def test_a_search_past_its_deadline_stops(snapshot: Snapshot) -> None:
    plan = plan_query(snapshot, parse_query('"d* d*"'))
    assert plan is not None
    with pytest.raises(QueryTooCostly):
        count_pages(snapshot, plan, None, Deadline(-1))
    assert sum(count_pages(snapshot, plan, None, Deadline(60))[1]) > 0


def _index_as_an_older_version(
    snapshot: Snapshot, corpus: Corpus, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Snapshot:
    """The corpus indexed with `monkeypatch`'s changes in force for the first two books;
    the last is written by this version (into the index as those left it)."""
    old = Store(data_dir)
    for book_id in ("fish", "stanford", "folder"):
        if book_id == "folder":
            monkeypatch.undo()  # a later write, by this version, keeps the index's schema
        book = snapshot.book(book_id)
        assert book is not None
        old.replace_book(book, corpus.records[book_id])
    return old.snapshot()


def _assert_same_results(ours: Snapshot, theirs: Snapshot, queries: list[str]) -> None:
    """Same totals and the same hits (pages and token positions) for every query, in all books and in one."""
    for q in queries:
        for book_id in (None, "fish"):
            a, b = (search(s, parse_query(q), book_id, 0, 50) for s in (ours, theirs))
            assert a.total == b.total, q
            assert [(h.canvas_index, h.first_token) for h in a.hits] == [
                (h.canvas_index, h.first_token) for h in b.hits
            ], q


def test_an_index_without_pairs_counts_the_same_from_positions(
    snapshot: Snapshot, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexes made before the `pairs` field keep working: same totals, same hits, from positions."""
    old_schema = store_module.SCHEMA.copy()
    old_schema.remove(store_module.PAIRS_FIELD)
    monkeypatch.setattr(store_module, "SCHEMA", old_schema)
    old_snapshot = _index_as_an_older_version(snapshot, corpus, tmp_path, monkeypatch)
    assert snapshot.has_pairs and not old_snapshot.has_pairs
    _assert_same_results(snapshot, old_snapshot, QUERIES)


def test_an_index_written_by_whooshs_own_codec_gives_the_same_results(
    snapshot: Snapshot, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexes made before the columnar codec (pickled positions, W3 blocks) read the slow way, alike.

    The last book is written by this version: its segment (and any merge) gets the new
    codec but keeps the index's pickled positions, so that mix is read too.
    """
    from whoosh.analysis import SpaceSeparatedTokenizer
    from whoosh.codec.whoosh3 import W3Codec
    from whoosh.fields import TEXT

    from indexer.index.postings_codec import ArrayPositions

    old_schema = store_module.SCHEMA.copy()
    old_schema.remove("text")
    old_schema.add("text", TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True))
    monkeypatch.setattr(store_module, "SCHEMA", old_schema)
    monkeypatch.setattr(store_module, "ColumnarCodec", W3Codec)
    old_snapshot = _index_as_an_older_version(snapshot, corpus, tmp_path, monkeypatch)
    assert old_snapshot.searcher is not None
    assert not isinstance(old_snapshot.searcher.schema["text"].format, ArrayPositions)
    _assert_same_results(snapshot, old_snapshot, [*QUERIES, '"de la"', '"roi de"', "pérou"])


def test_only_pairs_of_two_common_words_are_indexed(snapshot: Snapshot) -> None:
    """`common_pairs` holds "de la" (both common) but not "roi de" (a rare word: positions suffice)."""
    from indexer.index.common_words import is_common
    from indexer.index.schema import PAIRS_FIELD, is_indexed_pair, pair_term

    assert is_common("de") and is_common("la") and is_common("l") and not is_common("roi")
    assert is_indexed_pair("de", "la") and not is_indexed_pair("roi", "de")
    assert len(snapshot.count_arrays([pair_term("de", "la")], None, PAIRS_FIELD)[0])
    assert not len(snapshot.count_arrays([pair_term("roi", "de")], None, PAIRS_FIELD)[0])
    assert search(snapshot, parse_query('"roi de"'), None, 0, 10).total > 0


# -- sequences on an index of many blocks and deleted documents -----------------------------


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
def test_sequence_counts_agree_with_the_rule_on_the_synthetic_index(
    snap: Snapshot, units: list[list[list[str]]]
) -> None:
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


def test_fuzzy_words_stand_for_their_near_spellings(snapshot: Snapshot) -> None:
    """The fuzzy queries above are slots of several terms (else they would test nothing new)."""
    for q in ("pérou~", "espagnols~", '"roi~1 de"', "ville~ de", "inca~ roi~1"):
        plan = plan_query(snapshot, parse_query(q))
        assert plan is not None
        fuzzy = [slot for unit in plan for slot in unit if len(slot) > 1]
        assert fuzzy, q
        assert all(len(slot) <= 64 for slot in fuzzy)


# -- alternative readings (#21): a position counts once, whatever fills it ------------------


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """One page where `frciheit` (printed) has the alternative `freiheit`, and `frey` is printed twice."""
    from indexer.index.records import BookRecord, PageRecord, StoredWord

    store = Store(tmp_path_factory.mktemp("readings"))
    tokens = ("die", "frciheit", "der", "frey", "und", "frey", "feder")
    words = tuple(StoredWord(t, i * 50, 10, 40, 20, 0) for i, t in enumerate(tokens))
    record = PageRecord.build(
        "kant",
        0,
        "c0",
        "1",
        1000,
        1000,
        words,
        tokens,
        tuple((i, i) for i in range(len(tokens))),
        alternatives=[("freiheit", 1), ("frciheit", 3)],  # position 3: `frey` read as `frciheit` too
    )
    store.replace_book(
        BookRecord(id="kant", label="kant", manifest_id="m", version=3, source="s", manifest={}), [record]
    )
    return store.snapshot()


@pytest.mark.parametrize(
    ("q", "hits"),
    [
        ("fr*", 3),  # positions 1, 3 and 5, though 1 and 3 each hold two `fr` terms
        ("frei*", 1),
        ("frc*", 2),  # printed at 1, an alternative at 3
        ("frey", 2),
        ('"die fr*"', 1),
        ('"fr* der"', 1),
        ("fr* feder", 3),  # 1, 3, and 5-6 (`feder` right after `frey` joins it)
    ],
)
def test_a_position_holding_a_printed_word_and_an_alternative_counts_once(
    readings: Snapshot, q: str, hits: int
) -> None:
    plan = plan_query(readings, parse_query(q))
    [docnum] = readings.searcher.document_numbers(kind="page")  # type: ignore[union-attr]
    drawn = page_hits_of(readings.page(docnum), plan)
    assert len(drawn) == hits, drawn
    found = search(readings, parse_query(q), "kant", 0, 10)
    assert found.total == hits == len(found.hits), (q, found.total)
    for name, strategy in _strategies(readings, plan).items():
        for book in ("kant", None):
            docnums, counts = strategy(book)  # type: ignore[operator]
            assert dict(zip(docnums, counts, strict=True)) == {docnum: hits}, (q, name, book)


def test_a_prefix_reads_each_terms_postings_once(snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pages holding several of a prefix's terms (where an alternative reading may share a
    # position) come from the arrays the counts are summed from: reading every term a second
    # time to find them cost a prefix's every posting twice.
    plan = plan_query(snapshot, parse_query("de*"))
    assert plan is not None and len(plan[0][0]) > 1
    expected = count_pages(snapshot, plan, None)
    read: list[str] = []
    real = snapshot.term_arrays

    def counted(term: str, *args: object, **kwargs: object) -> object:
        read.append(term)
        return real(term, *args, **kwargs)

    monkeypatch.setattr(snapshot, "term_arrays", counted)
    assert count_pages(snapshot, plan, None) == expected
    assert sorted(read) == sorted(plan[0][0])
