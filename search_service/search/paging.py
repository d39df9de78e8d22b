"""Paged: the page arithmetic of a result paged `size` at a time, for hits and for books alike."""

from __future__ import annotations

import math


class Paged:
    """Page numbers from `start`, `size` and `items` (how many there are in all); 0-based.

    A mixin for frozen, slotted dataclasses that have `start` and `size` and say what `items` is.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, slots=True)
    ... class Page(Paged):
    ...     total: int
    ...     start: int
    ...     size: int
    ...     @property
    ...     def items(self) -> int:
    ...         return self.total
    >>> p = Page(total=250, start=100, size=100)
    >>> p.number, p.last, p.prev, p.next
    (1, 2, 0, 2)
    >>> Page(total=0, start=0, size=100).last  # no items: the first page is also the last
    0
    >>> Page(total=10, start=500, size=100).prev  # past the end: the previous page is the last one
    0
    """

    __slots__ = ()
    start: int
    size: int

    @property
    def items(self) -> int:
        """How many there are in all, over every page."""
        raise NotImplementedError

    @property
    def number(self) -> int:
        """This page's number."""
        return self.start // self.size

    @property
    def last(self) -> int:
        """Number of the last page (0 when there is nothing: the first page is also the last)."""
        return max(0, math.ceil(self.items / self.size) - 1)

    @property
    def next(self) -> int | None:
        """Number of the following page, if one holds anything."""
        return self.number + 1 if self.number < self.last else None

    @property
    def prev(self) -> int | None:
        """Number of the previous page (the last one when this page is past the end)."""
        return min(self.number - 1, self.last) if self.number > 0 else None
