"""ocr/model.py and ocr/text.py: the box arithmetic and the token rules the parsers rely on."""

from __future__ import annotations

import dataclasses

import pytest

from ocr.model import Box, Line, OcrSettings, Page, Word
from ocr.text import fold, tokens


def test_box_from_corners() -> None:
    assert Box.from_corners(10, 20, 40, 60) == Box(10, 20, 30, 40)
    assert Box.from_corners(40, 60, 10, 20) == Box(10, 20, 30, 40)  # corners in any order
    assert Box.from_corners(5, 5, 5, 5) == Box(5, 5, 1, 1)  # never zero-sized
    assert Box.from_corners(0.4, 0.6, 10.5, 10.4).xywh == "0,1,10,9"


def test_box_edges_union_scale_clip() -> None:
    box = Box(10, 20, 30, 40)
    assert (box.xywh, box.right, box.bottom) == ("10,20,30,40", 40, 60)
    assert box.union(Box(0, 50, 5, 30)) == Box(0, 20, 40, 60)
    assert box.scaled(0.5, 2) == Box(5, 40, 15, 80)
    assert box.clipped(25, 100) == Box(10, 20, 15, 40)
    assert box.clipped(10, 100) is None  # wholly right of the area
    assert Box(-5, -5, 10, 10).clipped(100, 100) == Box(0, 0, 5, 5)


def test_frozen() -> None:
    word = Word("a", Box(0, 0, 1, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        word.text = "b"  # type: ignore[misc]


def test_word_defaults_and_page_words_in_reading_order() -> None:
    a, b, c = (Word(t, Box(i, 0, 1, 1)) for i, t in enumerate("abc"))
    assert (a.confidence, a.joined) == (None, None)
    lines = (Line((a, b), Box(0, 0, 2, 1)), Line((), Box(0, 2, 1, 1)), Line((c,), Box(2, 0, 1, 1), 1))
    page = Page(10, 10, lines, "hocr")
    assert page.words() == [a, b, c]
    assert page.language is None


def test_settings_key_leaves_out_the_timeout() -> None:
    assert OcrSettings().key() == "lang=eng;psm=3;oem=1;extra="
    assert OcrSettings(timeout=1).key() == OcrSettings().key()
    assert OcrSettings(lang="deu+lat", extra=("-c", "x=1")).key() == "lang=deu+lat;psm=3;oem=1;extra=-c x=1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Don't,", ["don", "t"]),
        ("Moſelzeitung.", ["moselzeitung"]),
        ("verbun\u00ad", ["verbun"]),  # a kept line-end soft hyphen is not part of any token
        ("Schweizerdeutsch:", ["schweizerdeutsch"]),  # a joined form with the second half's punctuation
        ("ecclésiastique.", ["ecclesiastique"]),
        ("inter¬", ["inter"]),
    ],
)
def test_tokens_of_parser_output(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_fold() -> None:
    assert fold("Ǽtienne Straße ſoll") == "aetienne strasse soll"
