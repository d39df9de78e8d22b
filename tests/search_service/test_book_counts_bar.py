"""Which collection searches take the book counts (#20): one slot from ONE_SLOT_EVERY_PAGE_BELOW pages, a phrase from EVERY_PAGE_BELOW."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from indexer.index.counting import Plan
from search_service.search import hits


class _Holding:
    """A snapshot whose terms hold `pages` pages in all (the one figure the bar reads)."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def pages_holding(self, terms: Sequence[str], enough: int) -> int:
        return min(self.pages, enough)


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


def test_one_slot_takes_the_book_counts_well_before_a_phrase() -> None:
    # Measured (docs/benchmarks.md, "On an index of few segments"): a word on 20,000 pages is cheaper
    # by its book counts; a phrase's book counts only bound its hits, so it needs many more.
    assert hits.ONE_SLOT_EVERY_PAGE_BELOW < hits.EVERY_PAGE_BELOW
