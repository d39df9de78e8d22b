"""page_record: alternative readings as tokens at their printed word's position, chosen by the policy (#21)."""

from __future__ import annotations

import dataclasses

from indexer.model import Canvas, ImageRef
from indexer.page_record import NO_ALTERNATIVES, AlternativePolicy, page_record
from ocr.dehyphenate import dehyphenate
from ocr.model import Alternative, Box, Line, Page, Word

CANVAS = Canvas("https://e.org/c1", 0, "1", 1000, 1000, None, None)


def _page(*lines: tuple[Word, ...]) -> Page:
    built = [Line(words, Box(0, 100 * n, 900, 50)) for n, words in enumerate(lines)]
    return Page(1000, 1000, dehyphenate(built), "hocr")


def test_alternatives_sit_at_their_printed_token_and_follow_the_policy() -> None:
    page = _page(
        (
            Word("Die", Box(0, 0, 50, 40), 96.0),
            Word(
                "Frciheit,",
                Box(60, 0, 200, 40),
                40.0,
                None,
                (Alternative("Freiheit,", 80), Alternative("Frcyheit,", 60), Alternative("Frclheit,", 20)),
            ),
            Word("sure", Box(300, 0, 90, 40), 97.0, None, (Alternative("sore", 90),)),  # a sure word keeps none
            Word("Ia", Box(400, 0, 40, 40), 30.0, None, (Alternative("la", 90),)),  # a common word is no alternative
        ),
    )
    record = page_record("b", CANVAS, page, AlternativePolicy(below=95, threshold=50, per_word=2))
    assert record.tokens == ("die", "frciheit", "sure", "ia")
    assert list(zip(record.alternatives, record.alternative_positions, strict=True)) == [
        ("frcyheit", 1),  # stored by position, then alphabetically
        ("freiheit", 1),
    ]
    assert page_record("b", CANVAS, page, AlternativePolicy(below=95, per_word=1)).alternatives == ("freiheit",)
    assert page_record("b", CANVAS, page, AlternativePolicy(below=95, threshold=70)).alternatives == ("freiheit",)
    # The default: every word's, of 20 or more.
    assert page_record("b", CANVAS, page).alternatives == ("frclheit", "frcyheit", "freiheit", "sore")
    assert page_record("b", CANVAS, page, NO_ALTERNATIVES).alternatives == ()


def test_either_half_of_a_hyphenated_word_gives_the_whole_word_alternatives() -> None:
    page = _page(
        (Word("Unmün-", Box(0, 0, 200, 40), 60.0, None, (Alternative("Unmüu-", 70),)),),
        (
            Word("diskeit", Box(0, 100, 200, 40), 50.0, None, (Alternative("digkeit", 60),)),
            Word("und", Box(300, 100, 60, 40), 96.0),
        ),
    )
    record = page_record("b", CANVAS, page, dataclasses.replace(AlternativePolicy(), write_out_umlauts=False))
    assert record.tokens == ("unmundiskeit", "und")
    assert sorted(record.alternatives) == ["unmundigkeit", "unmuudiskeit"]
    assert list(record.alternative_positions) == [0, 0]
    # The default writes out the umlaut of the printed word and of each alternative, there too.
    assert sorted(page_record("b", CANVAS, page).alternatives) == [
        "unmuendigkeit",
        "unmuendiskeit",
        "unmueudiskeit",
        "unmundigkeit",
        "unmuudiskeit",
    ]


def test_umlauts_written_out_sit_at_the_printed_word() -> None:
    """`schädlich` is found as `schaedlich` (how Kant's 1784 print and its transcription spell it), and
    a small e over the vowel (U+0364, as transcriptions keep it) reads either way."""
    page = _page(
        (
            Word("ſo", Box(0, 0, 50, 40), 96.0),
            Word("ſchädlich", Box(60, 0, 200, 40), 91.0),
            Word("Stükfen", Box(300, 0, 200, 40), 60.0, None, (Alternative("Stükken", 22),)),
            Word("Vorga\u0364nger", Box(520, 0, 200, 40), 96.0),
            Word("poet", Box(740, 0, 90, 40), 96.0),  # no umlaut: nothing written out, nothing folded
        ),
    )
    record = page_record("b", CANVAS, page)
    assert record.tokens == ("so", "schadlich", "stukfen", "vorganger", "poet")
    assert list(zip(record.alternatives, record.alternative_positions, strict=True)) == [
        ("schaedlich", 1),
        ("stuekfen", 2),
        ("stuekken", 2),  # the alternative's umlaut written out too
        ("stukken", 2),
        ("vorgaenger", 3),
    ]
    assert page_record("b", CANVAS, page, NO_ALTERNATIVES).alternatives == ()


def test_the_page_keeps_its_canvas_image_service_and_size() -> None:
    """#20: what a line picture needs, without the plain URL, format or local path; `{}` for no image."""
    image = ImageRef(
        url="https://img.example.org/p1/full/max/0/default.jpg",
        service="https://img.example.org/p1",
        service_version=2,
        service_profile="level1",
        path="/scans/p1.png",
        width=2000,
        height=3000,
        format="image/jpeg",
    )
    page = _page((Word("Lima", Box(0, 0, 50, 40), 96.0),))
    kept = page_record("b", dataclasses.replace(CANVAS, image=image), page).image
    assert kept == {
        "service": "https://img.example.org/p1",
        "service_version": 2,
        "service_profile": "level1",
        "width": 2000,
        "height": 3000,
    }
    assert page_record("b", CANVAS, page).image == {}
