"""Which collection searches take the book counts (#20): one slot from ONE_SLOT_EVERY_PAGE_BELOW pages, a phrase from EVERY_PAGE_BELOW."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from indexer.index.counting import Plan
from search_service.search import hits


class _Holding:
    """A snapshot whose terms hold `pages` pages in all, and whose books hold alternative readings or not."""

    def __init__(self, pages: int, shares: bool = False) -> None:
        self.pages = pages
        self.shares = shares

    def pages_holding(self, terms: Sequence[str], enough: int) -> int:
        return min(self.pages, enough)

    def shares_positions(self) -> bool:
        return self.shares


WORD = ((frozenset({"de"}),),)
PREFIX = ((frozenset({"de", "des", "deux"}),),)
PHRASE = ((frozenset({"de"}), frozenset({"la"})),)
TWO_WORDS = ((frozenset({"roi"}),), (frozenset({"espagnols"}),))


@pytest.mark.parametrize(
    ("plan", "pages", "expected"),
    [
        (WORD, hits.ONE_SLOT_EVERY_PAGE_BELOW, True),
        (WORD, hits.ONE_SLOT_EVERY_PAGE_BELOW - 1, False),
        (PREFIX, hits.ONE_SLOT_EVERY_PAGE_BELOW, True),
        (PHRASE, hits.ONE_SLOT_EVERY_PAGE_BELOW, False),
        (PHRASE, hits.EVERY_PAGE_BELOW, True),
        (TWO_WORDS, 10 * hits.EVERY_PAGE_BELOW, hits.SEVERAL_UNITS_BY_BOOK_COUNTS),
    ],
)
def test_the_bar_depends_on_the_shape_of_the_query(plan: Plan, pages: int, expected: bool) -> None:
    assert hits._book_counts_pay(_Holding(pages), plan) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pages", "expected"), [(hits.ONE_SLOT_EVERY_PAGE_BELOW, False), (hits.EVERY_PAGE_BELOW, True)]
)
def test_a_prefix_that_may_share_positions_takes_the_phrases_bar(pages: int, expected: bool) -> None:
    # A printed word and its alternative reading at one position: the prefix's book counts only bound
    # its books' hits, as a phrase's do (#21); a word of one term is still exact.
    assert hits._book_counts_pay(_Holding(pages, shares=True), PREFIX) is expected  # type: ignore[arg-type]
    assert hits._book_counts_pay(_Holding(hits.ONE_SLOT_EVERY_PAGE_BELOW, shares=True), WORD)  # type: ignore[arg-type]


def test_one_slot_takes_the_book_counts_well_before_a_phrase() -> None:
    # Measured (docs/benchmarks.md, "On an index of few segments"): a word on 20,000 pages is cheaper
    # by its book counts; a phrase's book counts only bound its hits, so it needs many more.
    assert hits.ONE_SLOT_EVERY_PAGE_BELOW < hits.EVERY_PAGE_BELOW
