"""PageExtent: a page's pixel size while its OCR file is read, and the one rule that fits a box inside it.

hOCR and ALTO both give word boxes that can stick out of the page, run backwards or
have no area (real files do all three); both parsers fit every box the same way.
"""

from __future__ import annotations

from ocr.model import Box


class PageExtent:
    """A page's size: `sized` when the file states it, else grown to hold every box fitted so far.

    >>> page = PageExtent(100, 50, sized=True)
    >>> page.fit(90, 40, 120, 60)   # cut to the page
    Box(x=90, y=40, w=10, h=10)
    >>> page.fit(150, 70, 160, 80)  # wholly outside: shrinks onto the nearest corner, never empty
    Box(x=99, y=49, w=1, h=1)
    >>> unsized = PageExtent(1, 1, sized=False)
    >>> unsized.fit(30, 20, 10, 5), (unsized.width, unsized.height)  # corners swapped; the page grows
    (Box(x=10, y=5, w=20, h=15), (30, 20))
    """

    __slots__ = ("height", "sized", "width")

    def __init__(self, width: int, height: int, *, sized: bool) -> None:
        self.width, self.height, self.sized = width, height, sized

    def fit(self, x0: int, y0: int, x1: int, y1: int) -> Box:
        """A box from corners, inside the page and never empty; one wholly outside shrinks onto the nearest edge."""
        if 0 <= x0 < x1 <= self.width and 0 <= y0 < y1 <= self.height:
            return Box(x0, y0, x1 - x0, y1 - y0)  # the usual case, kept cheap
        if x1 < x0:
            x0, x1 = x1, x0
        if y1 < y0:
            y0, y1 = y1, y0
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        if not self.sized:
            self.width, self.height = max(self.width, x1), max(self.height, y1)
            return Box(x0, y0, x1 - x0, y1 - y0)
        x, y = min(x0, self.width - 1), min(y0, self.height - 1)
        return Box(x, y, min(x1, self.width) - x if x1 > x else 1, min(y1, self.height) - y if y1 > y else 1)
