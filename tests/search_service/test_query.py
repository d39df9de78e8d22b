"""parse_query: words, phrases, prefixes, folding; odd input gives units or BadQuery, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_service.errors import BadQuery
from search_service.search.query import MAX_PHRASE_TOKENS, MAX_UNITS, Query, Slot, parse_query


def shape(query: Query) -> list[list[str]]:
    """Units as lists of slot texts, a prefix slot marked with a trailing `*`."""
    return [[s.text + ("*" if s.prefix else "") for s in unit.slots] for unit in query.units]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("bird", [["bird"]]),
        ("Bird HAND", [["bird"], ["hand"]]),
        # Case and accents fold exactly as the indexer folds printed words.
        ("Pérou ÉTÉ", [["perou"], ["ete"]]),
        ("Straße ſoll", [["strasse"], ["soll"]]),
        # A word that tokenises to several tokens is a phrase of them.
        ("well-known", [["well", "known"]]),
        ("don't", [["don", "t"]]),
        ('"a bird in"', [["a", "bird", "in"]]),
        ("\u201ca bird\u201d hand", [["a", "bird"], ["hand"]]),
        ('"unterminated phrase', [["unterminated", "phrase"]]),
        ("bir*", [["bir*"]]),
        ("bir*,", [["bir*"]]),
        ('"origin of spe*"', [["origin", "of", "spe*"]]),
        ("well-kno*", [["well", "kno*"]]),
        # A `*` inside a word is no operator: it splits like any other punctuation.
        ("b*rd", [["b", "rd"]]),
        # Boolean words and brackets are plain words here.
        ("AND", [["and"]]),
        ("cats OR dogs", [["cats"], ["or"], ["dogs"]]),
        ("(bird)", [["bird"]]),
        ("bird bird BIRD", [["bird"]]),
    ],
)
def test_units(q: str, expected: list[list[str]]) -> None:
    assert shape(parse_query(q)) == expected


@pytest.mark.parametrize("q", ["", "   ", "(", ")", "*", '"', '""', "***", "-", "?!", "\x00", "\u200b"])
def test_nothing_searchable_is_an_empty_query(q: str) -> None:
    query = parse_query(q)
    assert query.is_empty
    assert query.units == ()


def test_quoted_flag_and_source() -> None:
    query = parse_query('big "green bird"')
    assert [(u.source, u.quoted) for u in query.units] == [("big", False), ('"green bird"', True)]
    assert query.units[1].slots == (Slot("green"), Slot("bird"))
    assert len(query.units[1]) == 2


def test_too_long_is_a_bad_query_naming_q() -> None:
    with pytest.raises(BadQuery) as info:
        parse_query("a" * 10_000, max_length=500)
    assert info.value.parameter == "q"
    assert "500" in info.value.message
    assert parse_query("a" * 500, max_length=500).units


def test_too_many_units_is_a_bad_query() -> None:
    words = " ".join(f"w{i}" for i in range(MAX_UNITS + 1))
    with pytest.raises(BadQuery) as info:
        parse_query(words, max_length=10_000)
    assert info.value.parameter == "q"
    assert len(parse_query(" ".join(f"w{i}" for i in range(MAX_UNITS))).units) == MAX_UNITS


def test_too_long_phrase_is_a_bad_query() -> None:
    with pytest.raises(BadQuery):
        parse_query('"' + " ".join(["x"] * (MAX_PHRASE_TOKENS + 1)) + '"', max_length=10_000)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_anything_but_bad_query(q: str) -> None:
    try:
        query = parse_query(q)
    except BadQuery:
        return
    for unit in query.units:
        assert unit.slots
        for slot in unit.slots:
            # Every slot is an index token: letters and digits only (no space, `*`, quote).
            assert slot.text.isalnum()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab "*()-\u00e9\u00df'), max_size=60))
def test_operator_soup_parses(q: str) -> None:
    query = parse_query(q)
    assert all(slot.text for unit in query.units for slot in unit.slots)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # `~` after a word: its last token is fuzzy, the distance by length or as given (#14).
        ("wort~", [["wort~1"]]),
        ("Freiheit~", [["freiheit~2"]]),
        ("der~", [["der"]]),  # short words stay exact
        ("der~1", [["der~1"]]),
        ("wort~2", [["wort~2"]]),
        ("wort~9", [["wort~2"]]),  # at most 2
        ("wort~0", [["wort"]]),
        ("wort~,", [["wort~1"]]),
        ("wort~~", [["wort~1"]]),
        ('"wort~ wort"', [["wort~1", "wort"]]),
        ("well-known~", [["well", "known~1"]]),
        # A prefix stays a prefix, whichever comes first.
        ("wor*~", [["wor*"]]),
        ("wor~*", [["wor*"]]),
        # Elsewhere `~` is punctuation.
        ("wo~rt", [["wo", "rt"]]),  # one unit: the tokens of one word
        ("~", []),
        ("~wort", [["wort"]]),
    ],
)
def test_fuzzy_words(q: str, expected: list[list[str]]) -> None:
    query = parse_query(q)
    assert [
        [s.text + ("*" if s.prefix else "") + (f"~{s.distance}" if s.fuzzy else "") for s in u.slots]
        for u in query.units
    ] == expected
    assert query.may_be_costly == any("~" in s or "*" in s for unit in expected for s in unit)


def test_too_many_fuzzy_words_is_a_bad_query() -> None:
    with pytest.raises(BadQuery) as info:
        parse_query("eins~ zwei~ drei~ vier~ fünf~")
    assert info.value.parameter == "q" and "fuzzy" in info.value.message
    assert parse_query("eins~ zwei~ drei~ vier~ fünf").has_fuzzy


def test_the_forgiving_retry_makes_plain_words_fuzzy_within_the_bound() -> None:
    query = parse_query('Freiheit "der Staat" kan* wort~2 der')
    forgiving = query.forgiving()
    assert [[(s.text, s.distance) for s in u.slots] for u in forgiving.units] == [
        [("freiheit", 2)],
        [("der", 0), ("staat", 0)],
        [("kan", 0)],
        [("wort", 2)],
        [("der", 0)],
    ]
    assert forgiving.as_typed() == query.as_typed()
    # Five words to make fuzzy: more than a query may hold, so no retry.
    many = parse_query("eins zwei drei vier fünf")
    assert many.forgiving() == many
