"""The one place where boxes in pixels of the OCR'd image become canvas units.

A Canvas's width/height need not equal the image's pixels (Presentation 3.0 §5.3,
2.1 §5.3), and we may OCR a downscaled copy, so every box is scaled by
canvas size / OCR page size.
"""

from __future__ import annotations

from ocr.model import Box, Page


def scale_factors(page: Page, canvas_width: int, canvas_height: int) -> tuple[float, float]:
    """Canvas units per OCR pixel, horizontally and vertically."""
    return canvas_width / max(1, page.width), canvas_height / max(1, page.height)


def to_canvas(box: Box, page: Page, canvas_width: int, canvas_height: int) -> Box | None:
    """`box` (OCR pixels) in canvas units, clipped to the canvas; None if wholly outside."""
    sx, sy = scale_factors(page, canvas_width, canvas_height)
    return box.scaled(sx, sy).clipped(canvas_width, canvas_height)
