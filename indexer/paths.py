"""Where things live inside a data directory; the one place that knows the layout.

DATA_DIR/index/        the Whoosh index (books and pages)
DATA_DIR/ocr-cache/    hOCR by cache key (image digest + OCR settings)
DATA_DIR/derivatives/  tiled pyramid TIFFs made for the image endpoint
DATA_DIR/index.lock    held while a job opens or creates the index (creation must not race)
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "IIIF_SEARCH_DATA_DIR"


def default_data_dir() -> Path:
    """$IIIF_SEARCH_DATA_DIR, else `data/` in the current directory."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.cwd() / "data")


def index_dir(data_dir: Path) -> Path:
    return data_dir / "index"


def ocr_cache_dir(data_dir: Path) -> Path:
    return data_dir / "ocr-cache"


def derivatives_dir(data_dir: Path) -> Path:
    return data_dir / "derivatives"


def lock_file(data_dir: Path) -> Path:
    return data_dir / "index.lock"
