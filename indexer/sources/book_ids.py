"""Book ids: the ones a user gives are checked, the others are made from the source (a slug).

Book ids go into our URLs (/iiif/{book}/manifest), so they stay URL-safe.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from indexer.errors import SourceError

BOOK_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SLUG_MAX = 100


def validate_book_id(book_id: str) -> str:
    """`book_id` unchanged, or SourceError when it is not usable in our URLs."""
    if not BOOK_ID_PATTERN.match(book_id):
        raise SourceError(
            f"book id {book_id!r} is not usable: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return book_id


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long for the file system
        return False


def slug(text: str) -> str:
    """A stable book id for a source: host and path of a URL, folder name, or file stem.

    Long ids are cut and end in a hash of the whole source, so they stay unique.
    >>> slug("https://iiif.wellcomecollection.org/presentation/v3/b21506115")
    'iiif-wellcomecollection-org-presentation-v3-b21506115'
    >>> slug("/data/scans/my book 1908/")
    'my-book-1908'
    """
    try:
        parts = urlsplit(text)
    except ValueError:  # "https://[::1": no URL after all, slug the text as it is
        parts = urlsplit("")
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        raw = parts.netloc.lower() + parts.path + (f"-{parts.query}" if parts.query else "")
    else:
        path = Path(url2pathname(parts.path)) if parts.scheme.lower() == "file" else Path(text)
        # (a text that failed to parse falls here too, and is slugged as a path)
        raw = path.name if not path.suffix or _is_dir(path) else path.stem
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "-", raw).strip("-_")
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    if not cleaned:
        return f"book-{digest}"
    if len(cleaned) > _SLUG_MAX:
        cleaned = f"{cleaned[: _SLUG_MAX - 11].rstrip('-_')}-{digest}"
    return cleaned
