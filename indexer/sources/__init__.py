"""Sources -> Books: a IIIF Manifest (v2 or v3), a Collection of them, or a folder of scans.

`read_source` sniffs which kind a location is, like a format registry would, and
hands it to the one module that reads that kind. Fetching is the Fetcher's job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from indexer.errors import IndexerError, SourceError
from indexer.fetch import Fetcher
from indexer.model import Book
from indexer.sources.book_ids import BOOK_ID_PATTERN, slug, validate_book_id
from indexer.sources.collection import MAX_DEPTH, ErrorHandler, iter_manifests
from indexer.sources.folder import read_folder
from indexer.sources.json_values import JsonDict
from indexer.sources.manifest_v2 import read_manifest_v2
from indexer.sources.manifest_v3 import read_manifest_v3
from indexer.sources.sniff import sniff

__all__ = [
    "BOOK_ID_PATTERN",
    "ErrorHandler",
    "read_folder",
    "read_manifest_v2",
    "read_manifest_v3",
    "read_source",
    "slug",
    "validate_book_id",
]

_READERS: dict[int, Callable[[JsonDict, str, str], Book]] = {2: read_manifest_v2, 3: read_manifest_v3}


def read_source(
    location: str,
    fetcher: Fetcher,
    *,
    book_id: str | None = None,
    on_error: ErrorHandler | None = None,
    max_depth: int = MAX_DEPTH,
) -> Iterator[Book]:
    """The Books of a manifest URL or file, a Collection (recursively) or a folder of images.

    `book_id` (the CLI's --id) names the one book of a manifest or folder; it is
    refused for a Collection, whose books get ids from their manifest URLs.
    In a Collection, a member that fails goes to `on_error(location, error)` and
    the others are still read; without `on_error` the first failure is raised.
    Raises SourceError, FetchError.
    Example: `books = list(read_source("https://iiif.wellcomecollection.org/presentation/v3/b21506115", fetcher))`
    """
    if book_id is not None:
        validate_book_id(book_id)  # checked now, not on the first next()
    return _read(location, fetcher, book_id, on_error, max_depth)


def _read(
    location: str, fetcher: Fetcher, book_id: str | None, on_error: ErrorHandler | None, max_depth: int
) -> Iterator[Book]:
    folder = _local_folder(location)
    if folder is not None:
        yield read_folder(folder, book_id)
        return
    data = fetcher.get_json(location)
    kind, version = sniff(data, location)
    if kind == "manifest":
        yield _READERS[version](data, location, book_id or slug(location))
        return
    if book_id is not None:
        raise SourceError(
            f"{location}: --id names one book, but this is a Collection; its books get ids from their URLs"
        )
    taken: set[str] = set()
    for manifest, member, member_version in iter_manifests(
        data, location, fetcher, max_depth=max_depth, on_error=on_error
    ):
        member_id = slug(member)
        if member_id in taken:  # two URLs that differ only in punctuation
            member_id = f"{member_id[:100]}-{hashlib.sha256(member.encode()).hexdigest()[:10]}"
        taken.add(member_id)
        try:
            book = _READERS[member_version](manifest, member, member_id)
        except IndexerError as error:
            if on_error is None:
                raise
            on_error(member, error)
            continue
        yield book


def _local_folder(location: str) -> Path | None:
    """The folder a location names (a path or a file:// URL), or None."""
    try:
        parts = urlsplit(location)
    except ValueError:  # not a URL, and no folder either; the Fetcher will say what is wrong
        return None
    path = Path(url2pathname(parts.path)) if parts.scheme.lower() == "file" else Path(location)
    if parts.scheme.lower() in ("http", "https"):
        return None
    try:
        return path if path.is_dir() else None
    except OSError:  # a name too long for the file system is no folder
        return None
