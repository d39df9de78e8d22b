"""Where things live inside a data directory; the one place that knows the layout.

DATA_DIR/index/        the Whoosh index (books and pages)
DATA_DIR/ocr-cache/    hOCR by cache key (image digest + OCR settings)
DATA_DIR/derivatives/  tiled pyramid TIFFs made for the image endpoint
DATA_DIR/index.lock    held while a job opens or creates the index (creation must not race)
DATA_DIR/shard.json    a shard's position and the number of shards (indexer/shards.py), when it is one
"""

from __future__ import annotations

from pathlib import Path

#: The data directory when none is given: `data/` in the current directory. The command
#: lines and the server's Settings read IIIF_SEARCH_DATA_DIR; this module reads nothing.
DEFAULT_DATA_DIR = Path("data")


def index_dir(data_dir: Path) -> Path:
    return data_dir / "index"


def ocr_cache_dir(data_dir: Path) -> Path:
    return data_dir / "ocr-cache"


def derivatives_dir(data_dir: Path) -> Path:
    return data_dir / "derivatives"


def lock_file(data_dir: Path) -> Path:
    return data_dir / "index.lock"


def shard_file(data_dir: Path) -> Path:
    return data_dir / "shard.json"
