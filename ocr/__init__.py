"""Images in, words with boxes out: hOCR and ALTO parsing, Tesseract runs and their cache, model choice.

Imports nothing from `indexer` or `search_service`. Boxes are pixels of the OCR'd image.

>>> from ocr import parse_ocr
>>> page = parse_ocr(b"<span class='ocr_line' title='bbox 0 0 50 10'>Hello world</span>")
>>> [word.box.xywh for word in page.words()]
['0,0,23,10', '27,0,23,10']
"""

from __future__ import annotations

from ocr.cache import OcrCache
from ocr.errors import MalformedOcr, MissingModel, OcrError, TesseractFailed, TesseractTimeout, UnknownOcrFormat
from ocr.formats import detect_format, parse_ocr, parse_ocr_pages
from ocr.model import Box, Line, OcrSettings, Page, Word
from ocr.tesseract import ocr_image
from ocr.text import fold, tokens

__all__ = [
    "Box",
    "Line",
    "MalformedOcr",
    "MissingModel",
    "OcrCache",
    "OcrError",
    "OcrSettings",
    "Page",
    "TesseractFailed",
    "TesseractTimeout",
    "UnknownOcrFormat",
    "Word",
    "detect_format",
    "fold",
    "ocr_image",
    "parse_ocr",
    "parse_ocr_pages",
    "tokens",
]
