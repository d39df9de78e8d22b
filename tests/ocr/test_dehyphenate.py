"""ocr/dehyphenate.py: which line ends join, what `joined` holds, and what is left alone."""

from __future__ import annotations

import pytest

from ocr.dehyphenate import dehyphenate, is_hyphenated
from ocr.model import Box, Line, Word


def line(*texts: str, y: int = 0, block: int = 0) -> Line:
    words = tuple(Word(text, Box(i * 50, y, 40, 10)) for i, text in enumerate(texts))
    return Line(words, Box(0, y, 50 * len(texts), 10), block)


def joined(lines: tuple[Line, ...]) -> list[list[str | None]]:
    return [[word.joined for word in line.words] for line in lines]


@pytest.mark.parametrize("mark", ["-", "\u00ad", "¬", "⸗", "\u2010", "\u2011"])
def test_every_hyphen_mark_joins(mark: str) -> None:
    result = dehyphenate([line("the", f"inter{mark}"), line("national", "court", y=20)])
    assert joined(result) == [[None, "international"], ["international", None]]
    # The printed text and boxes stay as they were.
    assert result[0].words[1].text == f"inter{mark}"
    assert result[0].words[1].box == Box(50, 0, 40, 10)


def test_second_half_keeps_its_punctuation() -> None:
    result = dehyphenate([line("Schweizer\u00ad"), line("deutsch:", y=20)])
    assert result[1].words[0].joined == "Schweizerdeutsch:"


@pytest.mark.parametrize(
    ("last", "first"),
    [
        ("1880-", "1881"),  # a number range, not a word
        ("--", "and"),  # a dash
        ("-", "and"),  # a lone hyphen
        ("inter-", "1880"),  # continuation does not start with a letter
        ("inter-", "„national"),
        ("inter", "national"),  # no hyphen at all
    ],
)
def test_what_does_not_join(last: str, first: str) -> None:
    result = dehyphenate([line(last), line(first, y=20)])
    assert joined(result) == [[None], [None]]


def test_existing_joined_is_not_overwritten() -> None:
    # ALTO SUBS_CONTENT already set both halves; the file's word wins.
    first = Line((Word("repreent-", Box(0, 0, 9, 9), joined="repreent-d"),), Box(0, 0, 9, 9))
    second = Line((Word("d", Box(0, 20, 9, 9), joined="repreent-d"),), Box(0, 20, 9, 9))
    assert dehyphenate([first, second]) == (first, second)


def test_next_line_may_be_in_the_next_block_and_empty_lines_are_skipped() -> None:
    empty = Line((), Box(0, 10, 1, 1), 1)
    result = dehyphenate([line("Ge-", block=0), empty, line("schichte", y=500, block=1)])
    assert joined(result) == [["Geschichte"], [], ["Geschichte"]]


def test_a_one_word_line_can_be_a_second_half_only_once() -> None:
    # Known limitation: in "inter-" / "na-" / "tional" the middle word is already joined as a
    # second half, so the chain stops there rather than giving "international" to all three.
    result = dehyphenate([line("inter-"), line("na-", y=20), line("tional", y=40)])
    assert joined(result) == [["interna-"], ["interna-"], [None]]


def test_last_line_and_empty_input() -> None:
    assert dehyphenate([]) == ()
    assert joined(dehyphenate([line("dangling-")])) == [[None]]


def test_is_hyphenated() -> None:
    assert is_hyphenated(Word("verbun\u00ad", Box(0, 0, 1, 1)))
    assert not is_hyphenated(Word("-", Box(0, 0, 1, 1)))
    assert not is_hyphenated(Word("1880-", Box(0, 0, 1, 1)))
