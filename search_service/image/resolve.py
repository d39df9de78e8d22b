"""Identifier -> image file, over the indexed folder books and the configured image roots only.

No request path is ever joined onto a directory: an identifier is looked up in
`Snapshot.images()` (identifier -> file, written by the indexer) or in a listing
of each image root (file stem -> file), so `..`, slashes and absolute paths can
only fail to match. A root's entry that is a symlink must stay inside the root.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from search_service.errors import UnknownImage

log = logging.getLogger("search_service.image")

# Source formats served, matched case-insensitively; the same set as indexer/sources/folder.py
# reads (a test keeps them equal).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".jp2"})

_listings: dict[Path, tuple[int, dict[str, Path]]] = {}
_listings_lock = threading.Lock()


def resolve_image(identifier: str, indexed: Mapping[str, str], image_roots: Sequence[Path]) -> Path:
    """The file behind `identifier`: an indexed folder image first, then the roots in order.

    Raises UnknownImage when nothing matches.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "page1.jpg").write_bytes(b"")
    >>> resolve_image("page1", {}, [root]) == root / "page1.jpg"
    True
    """
    indexed_path = indexed.get(identifier)
    if indexed_path is not None:
        path = Path(indexed_path)
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            return path
        log.warning("indexed image %s is missing or not an image: %s", identifier, path)
        raise UnknownImage(f"image {identifier!r} is indexed but its file is gone or not an image; re-index its book")
    if _is_plain_name(identifier):
        for root in image_roots:
            found = _in_root(identifier, root)
            if found is not None:
                return found
    raise UnknownImage(f"no image {identifier!r} on this server")


def root_identifiers(root: Path) -> dict[str, Path]:
    """Every identifier an image root serves: file stem -> file, first by name where stems repeat."""
    try:
        stat = root.stat()
    except OSError:
        return {}
    with _listings_lock:
        cached = _listings.get(root)
        if cached is not None and cached[0] == stat.st_mtime_ns:
            return cached[1]
    listing: dict[str, Path] = {}
    try:
        # A directory's mtime changes when an entry is added, removed or renamed,
        # so the listing is re-read exactly when it may have changed.
        names = sorted(os.listdir(root))
    except OSError as exc:
        log.warning("cannot list image root %s: %s", root, exc)
        return {}
    for name in names:
        stem, suffix = os.path.splitext(name)
        if not name.startswith(".") and suffix.lower() in IMAGE_SUFFIXES and stem:
            listing.setdefault(stem, root / name)
    with _listings_lock:
        _listings[root] = (stat.st_mtime_ns, listing)
    return listing


def _in_root(identifier: str, root: Path) -> Path | None:
    candidate = root_identifiers(root).get(identifier)
    if candidate is None:
        return None
    try:
        real = candidate.resolve(strict=True)
        real_root = root.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    # A symlink may point anywhere; serve it only if its target is inside the root.
    if not real.is_relative_to(real_root) or not real.is_file():
        log.warning("image root entry %s points outside %s; not served", candidate, root)
        return None
    return real


def _is_plain_name(identifier: str) -> bool:
    """A file stem can hold no separator, no NUL, and does not start with a dot."""
    return not ("/" in identifier or "\\" in identifier or "\x00" in identifier or identifier.startswith("."))
