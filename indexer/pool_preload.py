"""What the OCR pool's forkserver loads once, so that each worker forked from it starts ready.

Imported only by that server process (`indexer.pipeline._pool_context`). A worker's first
page otherwise paid, in series before its OCR could start: importing Pillow (image headers)
and the engine's parent side (~0.1 s), and asking the tesseract command its version and
models for the OCR cache key (two subprocesses, ~0.1 s). Both are cached per process
(`functools.cache`), so asked here they are inherited by every worker.
"""

from __future__ import annotations

import contextlib

import ocr.engine  # noqa: F401  (the warm engine's parent side, imported by a worker's first OCR)
from indexer.image_header import load_reader
from ocr.errors import OcrError
from ocr.tesseract import available_languages, tesseract_version

load_reader()  # Pillow, which indexer.image_header otherwise imports on a worker's first page

# No tesseract here, or a broken one: each worker finds out on its own first page and says so.
with contextlib.suppress(OcrError, OSError):
    tesseract_version()
    available_languages()
