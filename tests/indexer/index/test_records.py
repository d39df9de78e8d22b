"""PageRecord's stored form: columns round-trip, and pages written by the previous format still read."""

from __future__ import annotations

import dataclasses
import pickle
import zlib

import pytest

from indexer.errors import StoreError
from indexer.index.records import PageRecord, StoredWord

ROWS = (
    ("Straße", 10, 20, 30, 40, 0),
    ("verbun-", 50, 20, 60, 40, 0),
    ("den", 5, 70, 25, 40, 1),
    ("a\x1fb", 1, 2, 3, 4, 1),
)
TOKENS = ("strasse", "verbunden", "a", "b")
SPANS = ((0, 0), (1, 2), (3, 3), (3, 3))


def record() -> PageRecord:
    return PageRecord.build("b", 3, "https://e.org/c3", "p. 3", 800, 1200, ROWS, TOKENS, SPANS)


def test_round_trip_keeps_every_word_box_line_token_and_span() -> None:
    back = PageRecord.from_blob("b", 3, record().to_blob())
    assert back == record()
    assert back.words[:3] == ROWS[:3] and back.texts[3] == "a b"  # the column separator cannot get in
    assert back.tokens == tuple(TOKENS) and back.token_words == SPANS
    assert back.word(2) == StoredWord("den", 5, 70, 25, 40, 1)


def test_an_empty_page_round_trips() -> None:
    empty = PageRecord.build("b", 0, "c", "", 10, 10, (), (), ())
    back = PageRecord.from_blob("b", 0, empty.to_blob())
    assert back.texts == () and back.tokens == () and len(back.boxes) == 0 and back.words == ()


def test_pages_in_the_previous_format_still_read() -> None:
    """Version 1: a zlib'd pickle of per-word rows, as indexes made before the columns hold."""
    old = zlib.compress(pickle.dumps((1, "https://e.org/c3", "p. 3", 800, 1200, ROWS[:3], TOKENS[:2], SPANS[:2])))
    back = PageRecord.from_blob("b", 3, old)
    assert back.words == ROWS[:3] and back.tokens == tuple(TOKENS[:2]) and back.token_words == SPANS[:2]


@pytest.mark.parametrize("blob", [b"", b"\x80\x05junk", zlib.compress(b"not a pickle"), pickle.dumps((9, "x"))])
def test_an_unreadable_or_future_page_is_a_store_error(blob: bytes) -> None:
    with pytest.raises(StoreError, match="index the book again"):
        PageRecord.from_blob("b", 3, blob)


def test_boxes_beyond_32_bits_round_trip() -> None:
    """A canvas may declare itself 10^30 wide (tests/reliability): its boxes are still stored exactly."""
    huge = (("vast", 10**29, 2 * 10**29, 10**28, 10**28, 0),)
    page = PageRecord.build("b", 0, "c", "", 10**30, 10**30, huge, ("vast",), ((0, 0),))
    back = PageRecord.from_blob("b", 0, page.to_blob())
    assert back.words == huge and back.word(0).x == 10**29


def test_alternatives_round_trip_and_pages_without_them_still_read() -> None:
    """#21: alternatives and their positions are stored; a version-2 page (before #21) reads with none."""
    with_alternatives = PageRecord.build(
        "b", 3, "https://e.org/c3", "p. 3", 800, 1200, ROWS, TOKENS, SPANS, [("strafe", 0), ("verbunben", 1)]
    )
    back = PageRecord.from_blob("b", 3, with_alternatives.to_blob())
    assert back == with_alternatives
    assert back.alternatives == ("strafe", "verbunben") and list(back.alternative_positions) == [0, 1]
    assert back.indexed_tokens()[-2:] == [("strafe", 0), ("verbunben", 1)]
    plain = record()
    version_2 = pickle.dumps(
        (
            2,
            plain.canvas_id,
            plain.label,
            plain.width,
            plain.height,
            "\x1f".join(plain.texts),
            bytes(plain.boxes),  # type: ignore[call-overload]
            " ".join(plain.tokens),
            bytes(plain.spans),  # type: ignore[call-overload]
        )
    )
    old = PageRecord.from_blob("b", 3, version_2)
    assert old.tokens == TOKENS and old.alternatives == () and len(old.alternative_positions) == 0


def test_the_canvas_image_round_trips_and_pages_without_it_read_as_not_known() -> None:
    """#20: `{}` (the canvas has no image) and None (not known: read the manifest) stay apart; version 3 is None."""
    for image in ({}, None, {"service": "https://img.example.org/p1", "service_version": 2, "width": 9}):
        page = dataclasses.replace(record(), image=image)
        assert PageRecord.from_blob("b", 3, page.to_blob()).image == image
    plain = record()
    version_3 = pickle.dumps(
        (
            3,
            plain.canvas_id,
            plain.label,
            plain.width,
            plain.height,
            "\x1f".join(plain.texts),
            bytes(plain.boxes),  # type: ignore[call-overload]
            " ".join(plain.tokens),
            bytes(plain.spans),  # type: ignore[call-overload]
            "",
            b"",
        )
    )
    old = PageRecord.from_blob("b", 3, version_3)
    assert old.image is None and old.tokens == TOKENS
