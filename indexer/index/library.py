"""A data directory's books at every access level (#22): one Store per level, and the snapshots a reader may read.

Each access level has an index of its own (paths.index_dir), not a flag on its books:
an anonymous reader's searches open the public index alone, so no count, ranking
statistic, autocomplete term or fuzzy suggestion can come from a book it may not read,
whatever code path a search takes. A reader holding more levels reads their union
(Snapshot.union), which answers as one index holding all those books would.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from indexer.index.records import BookRecord, PageRecord
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store
from indexer.paths import ACCESS_LEVELS

PUBLIC = frozenset({"public"})


class Library:
    """The Stores of one data directory, by access level.

    >>> import tempfile
    >>> library = Library(Path(tempfile.mkdtemp()))
    >>> book = BookRecord("b1", "A book", "https://example.org/b1", 1, "b1.json", manifest={})
    >>> page = PageRecord.build("b1", 0, "https://example.org/c0", "p. 1", 100, 50,
    ...                         [("Hello", 0, 0, 40, 10, 0)], ["hello"], [(0, 0)])
    >>> library.store("restricted").replace_book(book, [page])
    >>> library.access_of("b1"), [b.id for b in library.snapshot().books()]
    ('restricted', [])
    >>> [b.id for b in library.snapshot(frozenset(ACCESS_LEVELS)).books()]
    ['b1']
    >>> library.set_access("b1", "public")
    True
    >>> library.access_of("b1"), [b.id for b in library.snapshot().books()]
    ('public', ['b1'])
    """

    def __init__(self, data_dir: Path, **store_options: Any) -> None:
        self.data_dir = Path(data_dir)
        self.stores = {level: Store(self.data_dir, access=level, **store_options) for level in ACCESS_LEVELS}
        self._lock = threading.Lock()
        self._unions: dict[tuple[int, ...], Snapshot] = {}
        # The image files of books not public, and the snapshots they were read from.
        self._guarded: tuple[tuple[Snapshot, ...], dict[str, tuple[str, str]]] | None = None

    def store(self, access: str) -> Store:
        return self.stores[access]

    def snapshot(self, levels: Collection[str] = PUBLIC) -> Snapshot:
        """What a reader holding `levels` may read: the public index alone, or a union of indexes.

        Public only (every anonymous request) costs what Store.snapshot does. A union is
        made once per combination of the parts' snapshots and kept until one changes.
        """
        public = self.stores["public"].snapshot()
        if levels == PUBLIC:
            return public
        parts = [public] + [self.stores[level].snapshot() for level in ACCESS_LEVELS[1:] if level in levels]
        live = [part for part in parts if part.searcher is not None]
        if len(live) <= 1:
            return live[0] if live else public
        key = tuple(id(part) for part in live)
        with self._lock:
            found = self._unions.get(key)
            if found is None or found._parts != tuple(live):
                found = Snapshot.union(live, generation=self.generation())
                # Only the newest union per combination of levels is worth keeping.
                self._unions = {k: u for k, u in self._unions.items() if len(k) != len(key)} | {key: found}
            return found

    def guarded(self) -> bool:
        """Whether any book here is not public."""
        return any(self.stores[level].snapshot().books() for level in ACCESS_LEVELS[1:])

    def generation(self) -> int:
        """One number for the state of every level's index: it changes when any of them commits."""
        gens = tuple(self.stores[level].snapshot().generation for level in ACCESS_LEVELS)
        if gens[1:] == (-1,) * (len(ACCESS_LEVELS) - 1):
            return gens[0]  # public books only: the public index's own generation, as before #22
        return hash(gens) & 0x7FFF_FFFF_FFFF_FFFF

    def access_of(self, book_id: str) -> str | None:
        """The access level of a book, or None when no index holds it."""
        for level in ACCESS_LEVELS:
            if self.stores[level].snapshot().book(book_id) is not None:
                return level
        return None

    def images(self) -> dict[str, str]:
        """Image API identifier -> local file, over the folder books of every level.

        The image endpoint resolves with every level's images and then asks
        `image_access` of the file it found, so a guarded book's image is refused
        (401) rather than unknown (404), whichever identifier or image root led to it.
        """
        merged: dict[str, str] = {}
        for level in ACCESS_LEVELS:
            merged.update(self.stores[level].snapshot().images())
        return merged

    def image_access(self, source: Path) -> tuple[str, str | None]:
        """The access level of an image file and the guarded book holding it; ("public", None) for any other file."""
        snaps = tuple(self.stores[level].snapshot() for level in ACCESS_LEVELS[1:])
        guarded = self._guarded
        if guarded is None or guarded[0] != snaps:
            files: dict[str, tuple[str, str]] = {}
            for level, snap in zip(ACCESS_LEVELS[1:], snaps, strict=True):
                for book in snap.books():
                    for path in book.images.values():
                        files[os.path.realpath(path)] = (level, book.id)
            guarded = self._guarded = (snaps, files)
        found = guarded[1].get(os.path.realpath(source))
        return found if found is not None else ("public", None)

    def books(self) -> list[tuple[BookRecord, str]]:
        """Every book of every level with its level, by id."""
        found = [(book, level) for level in ACCESS_LEVELS for book in self.stores[level].snapshot().books()]
        return sorted(found, key=lambda pair: pair[0].id)

    def set_access(self, book_id: str, access: str, *, wait: float = 0.0) -> bool:
        """Move a book to the index of another access level; False when no index holds it.

        Written to its new index first, then removed from the old: a reader never finds
        it missing, and at worst sees it in both for a moment (never public before it
        was asked to be).
        """
        if access not in ACCESS_LEVELS:
            raise ValueError(f"unknown access level {access!r}: one of {', '.join(ACCESS_LEVELS)}")
        current = self.access_of(book_id)
        if current is None:
            return False
        if current != access:
            source = self.stores[current].snapshot()
            book = source.book(book_id)
            if book is None:
                return False
            manifest = source.manifest(book_id)
            if manifest is not None:
                book = dataclasses.replace(book, manifest=manifest)
            pages: Iterable[PageRecord] = [source.page(docnum) for docnum in source.docs_of(book_id)]
            self.stores[access].replace_book(book, pages, wait=wait)
            self.stores[current].remove_book(book_id, wait=wait)
        return True

    def remove_elsewhere(self, book_id: str, access: str, *, wait: float = 0.0) -> None:
        """Remove a book from every level's index but `access`: after it was indexed there anew."""
        for level in ACCESS_LEVELS:
            if level != access and self.stores[level].snapshot().book(book_id) is not None:
                self.stores[level].remove_book(book_id, wait=wait)

    def remove_book(self, book_id: str, *, wait: float = 0.0) -> bool:
        """Remove a book from whichever index holds it; False when none did."""
        removed = [self.stores[level].remove_book(book_id, wait=wait) for level in ACCESS_LEVELS]
        return any(removed)
