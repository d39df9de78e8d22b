"""Where things live inside a data directory; the one place that knows the layout.

DATA_DIR/index/        the Whoosh index of the public books (books and pages)
DATA_DIR/index-clickthrough/, DATA_DIR/index-restricted/
                       the books of the other access levels (#22), one index each, so an
                       anonymous reader's search never opens theirs
DATA_DIR/auth-secret   the key access tokens are signed with (search_service/web/auth), 0600
DATA_DIR/access.sqlite revoked sessions, API keys and indexing jobs (search_service/web/auth)
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


#: A book's access levels (#22), least guarded first. A public book is anyone's; a
#: clickthrough book a reader's who agreed to its terms; a restricted book a logged-in reader's.
ACCESS_LEVELS = ("public", "clickthrough", "restricted")


def index_dir(data_dir: Path, access: str = "public") -> Path:
    """The index holding the books of one access level (ACCESS_LEVELS)."""
    if access not in ACCESS_LEVELS:
        raise ValueError(f"unknown access level {access!r}: one of {', '.join(ACCESS_LEVELS)}")
    return data_dir / ("index" if access == "public" else f"index-{access}")


def secret_file(data_dir: Path) -> Path:
    return data_dir / "auth-secret"


def access_db(data_dir: Path) -> Path:
    return data_dir / "access.sqlite"


def ocr_cache_dir(data_dir: Path) -> Path:
    return data_dir / "ocr-cache"


def derivatives_dir(data_dir: Path) -> Path:
    return data_dir / "derivatives"


def lock_file(data_dir: Path) -> Path:
    return data_dir / "index.lock"


def shard_file(data_dir: Path) -> Path:
    return data_dir / "shard.json"
