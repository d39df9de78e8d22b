"""The index on disk: one writer at a time, a book replaced or removed in one commit, and snapshots.

Replacing a book is one Whoosh commit that deletes its documents and adds the new
ones: a reader sees the old book or the new one, never half of each. A failed write
leaves the index exactly as it was. Readers get a `Snapshot` of the newest commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from whoosh import index as whoosh_index
from whoosh.fields import STORED
from whoosh.index import LockError
from whoosh.reading import SegmentReader

from indexer import paths
from indexer.errors import IndexBusy, StoreError
from indexer.index.postings_codec import ArrayPositions, ColumnarCodec, PositionedTokens
from indexer.index.records import BookRecord, PageRecord
from indexer.index.retiring_storage import RETIRE_AFTER, RetiringStorage
from indexer.index.schema import (
    BOOK_COUNTS_FIELD,
    NO_ALTERNATIVES_MARK,
    PAIRS_FIELD,
    SCHEMA,
    book_counts,
    document_key,
    pairs_text,
)
from indexer.index.snapshot import Snapshot

T = TypeVar("T")


class Store:
    """A Whoosh index in `DATA_DIR/index` (public books; `index-<level>` for the others), created on first write.

    >>> import tempfile
    >>> store = Store(Path(tempfile.mkdtemp()))
    >>> book = BookRecord("b1", "A book", "https://example.org/b1", 3, "b1.json", manifest={})
    >>> page = PageRecord.build("b1", 0, "https://example.org/c0", "p. 1", 100, 50,
    ...                         [("Hello", 0, 0, 40, 10, 0)], ["hello"], [(0, 0)])
    >>> store.replace_book(book, [page])
    >>> [record.id for record in store.snapshot().books()]
    ['b1']
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        refresh_interval: float = 0.25,
        retire_after: float = RETIRE_AFTER,
        writer_mb: int = 128,
        merge_policy: Callable[[Any, list[Any]], list[Any]] | None = None,
        access: str = "public",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.access = access  # the access level of every book in this index (#22; paths.ACCESS_LEVELS)
        # Memory a commit's postings may take before Whoosh sorts them through temporary
        # files (pickled one posting at a time: two thirds of a bulk load's CPU at 128 MB).
        self._writer_mb = writer_mb
        # Which segments a commit merges (Whoosh's `mergetype`); None: Whoosh's own policy.
        self._merge_policy = merge_policy
        self.path = paths.index_dir(self.data_dir, access)
        self._refresh_interval = refresh_interval
        self._retire_after = retire_after  # seconds a commit keeps the files it gave up (retiring_storage.py)
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked = 0.0

    # -- writing -----------------------------------------------------------

    def _open_for_write(self) -> whoosh_index.Index:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # Two jobs starting on an empty data directory would both create the index
            # and race on its first TOC file: creating it is done under a file lock.
            with open(paths.lock_file(self.data_dir), "a+b") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                return self._open_or_create()
        except OSError as exc:
            raise StoreError(f"cannot open the index in {self.path}: {exc}") from exc

    def _open_or_create(self) -> whoosh_index.Index:
        # Readers on the commit before this one may still need its files: they go a while later.
        storage = RetiringStorage(str(self.path), self._retire_after)
        if storage.index_exists():
            ix = storage.open_index()
            if "manifest" not in ix.schema:  # an index from before the field existed
                with ix.writer() as writer:
                    writer.add_field("manifest", STORED)
                ix = storage.open_index()
            return ix
        return storage.create_index(SCHEMA)

    def _writer(self, wait: float) -> Any:
        ix = self._open_for_write()
        try:
            # Whoosh's lock is an fcntl lock: the kernel frees it if a holder is killed.
            # compound=False: Whoosh reads a sub-file of a compound segment by copying it
            # whole into a BytesIO, which put every page's stored blob in each server
            # worker's memory (+740 MB on a 100,000-page collection); plain files are read
            # where needed.
            # ColumnarCodec: posting blocks that numpy reads whole (an index written by
            # Whoosh's own codec reads as before; its new segments get this one).
            return ix.writer(timeout=wait, delay=0.25, compound=False, codec=ColumnarCodec(), limitmb=self._writer_mb)
        except LockError as exc:
            raise IndexBusy(
                f"another index job is writing to {self.path}; "
                "wait for it to finish (or pass --wait SECONDS) and run again"
            ) from exc
        except OSError as exc:  # e.g. no room for the writer's temporary folder
            raise StoreError(f"cannot start writing the index in {self.path}: {exc}") from exc

    def _commit(
        self, change: Callable[[Any], T], wait: float, merge: Callable[[Any, list[Any]], list[Any]] | None = None
    ) -> T:
        """Run `change(writer)` and commit it, or leave the index exactly as it was."""
        before = self._files()
        writer = self._writer(wait)
        try:
            result = change(writer)
            writer.commit(mergetype=merge or self._merge_policy)
            with self._lock:
                self._checked = 0.0  # this process's next snapshot sees its own commit at once
            return result
        except BaseException as exc:
            self._abandon(writer, before)
            if isinstance(exc, OSError):
                raise StoreError(f"could not write the index in {self.path}: {exc}; nothing was changed") from exc
            raise

    def _files(self) -> set[str]:
        try:
            return set(os.listdir(self.path))
        except OSError:
            return set()

    def _abandon(self, writer: Any, before: set[str]) -> None:
        """Undo a failed write while still holding the lock: close it, remove its segment, unlock.

        Whoosh's `cancel()` closes the new segment's files, which writes: on a full disk
        it fails like the commit did, leaving the write lock held and the partial segment
        on disk, where it keeps the disk full for every later job. A write makes one new
        segment (merged documents are copied into it), whose files all start with its
        id; those that were not there `before` the writer started are removed, unless
        the new TOC, which would name them, was written.
        """
        with contextlib.suppress(Exception):
            writer._close_segment()
        committed = (self.path / f"_{writer.indexname}_{writer.generation}.toc").exists()
        if not committed:
            prefix = writer.newsegment.segment_id()  # "MAIN_<random id>"
            for path in self.path.glob(f"{prefix}.*"):
                if path.name not in before:
                    with contextlib.suppress(OSError):
                        path.unlink()
        try:
            writer._finish()  # temporary storage, then the write lock
        except Exception:
            if writer.writelock is not None and writer.writelock.fd is not None:
                with contextlib.suppress(Exception):
                    writer.writelock.release()

    def replace_book(self, book: BookRecord, pages: Iterable[PageRecord], *, wait: float = 0.0) -> None:
        """Replace every document of `book` with these, in one commit.

        Raises StoreError (the index unchanged) when it cannot be written, IndexBusy
        when another job holds the lock for longer than `wait` seconds.
        """
        self.replace_books([(book, pages)], wait=wait)

    def replace_books(self, books: Iterable[tuple[BookRecord, Iterable[PageRecord]]], *, wait: float = 0.0) -> None:
        """Replace several books (each with its pages), all in one commit: a collection written at once.

        One commit per book costs a Whoosh segment per book (about a second each on a
        busy machine past a few hundred books); tests and benchmarks that build hundreds
        of books write them together. Errors as replace_book.
        """
        written = [(book, list(pages)) for book, pages in books]

        def change(writer: Any) -> None:
            for book, pages in written:
                _write_book(writer, book, pages)

        self._commit(change, wait)

    def remove_book(self, book_id: str, *, wait: float = 0.0, purge: bool = False) -> bool:
        """Delete a book and its pages; False when it was not indexed.

        A deleted document's terms stay in its segment's term list and statistics until
        the segment is merged: `purge` rewrites the segments holding deletions in the same
        commit, so nothing of the book is left in this index's files (#22: a book made
        restricted must leave no word, count or statistic in the public index).
        """
        if not whoosh_index.exists_in(str(self.path)):
            return False
        merge = purge_deletions if purge else None
        return bool(self._commit(lambda writer: writer.delete_by_term("book", book_id), wait, merge))

    # -- reading -----------------------------------------------------------

    def exists(self) -> bool:
        return bool(whoosh_index.exists_in(str(self.path)))

    def snapshot(self) -> Snapshot:
        """The newest committed state, reusing the open one while nothing changed.

        Checks the disk at most every `refresh_interval` seconds, so a server sees a
        book added, replaced or removed by `index-manifest` without a restart.
        """
        now = time.monotonic()
        with self._lock:
            snap = self._snapshot
            if snap is not None and now - self._checked < self._refresh_interval:
                return snap
            self._checked = now
            try:
                if snap is None:
                    # No index yet (most data directories have no restricted books, #22): kept
                    # like any snapshot, so the directory is looked at once per interval, not per request.
                    snap = (
                        Snapshot(whoosh_index.open_dir(str(self.path)).searcher()) if self.exists() else Snapshot(None)
                    )
                elif snap.searcher is None:
                    if self.exists():
                        snap = Snapshot(whoosh_index.open_dir(str(self.path)).searcher())
                elif not snap.searcher.up_to_date():
                    # A fresh searcher, not `searcher.refresh()`: whoosh-reloaded 2.7.5 reuses
                    # segment readers with their old deletions and keeps the segments a merge
                    # replaced, so a refreshed searcher counts a re-indexed book twice (once
                    # more per re-index). Old snapshots stay usable by requests still holding
                    # them and are closed when the last one lets go.
                    snap = Snapshot(whoosh_index.open_dir(str(self.path)).searcher())
            except (OSError, whoosh_index.IndexError) as exc:
                raise StoreError(f"cannot read the index in {self.path}: {exc}") from exc
            self._snapshot = snap
            return snap


def purge_deletions(writer: Any, segments: list[Any]) -> list[Any]:
    """A Whoosh merge policy: rewrite every segment with deleted documents, without them; keep the rest."""
    kept = []
    for segment in segments:
        if segment.has_deletions() and segment.doc_count() == 0:
            continue  # every document deleted: the segment goes, nothing to copy
        if segment.has_deletions():
            reader = SegmentReader(writer.storage, writer.schema, segment)
            writer.add_reader(reader)
            reader.close()
        else:
            kept.append(segment)
    return kept


def _write_book(writer: Any, book: BookRecord, pages: list[PageRecord]) -> None:
    """Delete `book`'s documents and add its book document and page documents (within one commit)."""
    # An index made before the pairs field keeps its schema (then every page
    # lacks pairs, and phrases are counted from positions, more slowly).
    with_pairs = PAIRS_FIELD in writer.schema
    # Likewise an index made before the book counts (#20): its collection searches
    # count every page, as they did.
    # Alternatives sit at their printed word's position (#21); only our positions format
    # can place them (an index made before the columnar codec gets the printed tokens only).
    placed = isinstance(writer.schema["text"].format, ArrayPositions)
    counts = {}
    if BOOK_COUNTS_FIELD in writer.schema:
        held = placed and any(page.alternatives for page in pages)
        marks = [] if held else [(NO_ALTERNATIVES_MARK, 1)]
        counts = {
            BOOK_COUNTS_FIELD: book_counts((page.tokens for page in pages), _alternatives(pages) if held else ())
            + marks
        }
    writer.delete_by_term("book", book.id)
    writer.add_document(
        key=document_key(book.id),
        kind="book",
        book=book.id,
        canvas=0,
        data=book.to_blob(),
        manifest=book.manifest_blob(),
        **counts,
    )
    for page in pages:
        extra = {PAIRS_FIELD: pairs_text(page.tokens)} if with_pairs else {}
        writer.add_document(
            key=document_key(book.id, page.canvas_index),
            kind="page",
            book=book.id,
            canvas=page.canvas_index,
            text=PositionedTokens(page.indexed_tokens()) if placed and page.alternatives else " ".join(page.tokens),
            data=page.to_blob(),
            **extra,
        )


def _alternatives(pages: list[PageRecord]) -> list[str]:
    """Each alternative reading once per position, unless the printed token there is the same word.

    What the index holds of them beside the printed tokens, so a book's counts are the
    occurrences its pages' postings hold (#20 with #21).
    """
    found: list[str] = []
    for page in pages:
        placed = {(alt, pos) for alt, pos in zip(page.alternatives, page.alternative_positions, strict=True)}
        found.extend(alt for alt, pos in placed if page.tokens[pos] != alt)
    return found
