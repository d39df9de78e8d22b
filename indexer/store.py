"""The Whoosh index: its schema, atomic writes per book, and the reads the service needs.

With its posting codec (postings_codec.py), the only module that imports whoosh.
One document per book (its manifest and counts) and one per canvas (its tokens,
for matching, and a stored blob with the printed words and their boxes in canvas
units, for highlighting), so a search never re-reads hOCR. Replacing a book is
one Whoosh commit: a reader sees the old book or the new one, never half of each.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import functools
import itertools
import json
import os
import pickle
import random
import string
import threading
import time
import weakref
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from whoosh import index as whoosh_index
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.codec import base as whoosh_codec
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema
from whoosh.index import LockError
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

from indexer import paths
from indexer.common_words import is_common
from indexer.errors import IndexBusy, StoreError
from indexer.postings_codec import ArrayPositions, ColumnarCodec, TermArrays, read_term

T = TypeVar("T")

# Whoosh names each new segment with the global `random` module, so a program that seeds
# it (a notebook's random.seed(0), a test framework) gets the same name for two writes, and
# the second commit fails on, or writes over, the first one's files. Names from the system's
# random source cannot be seeded.
_SEGMENT_NAMES = random.SystemRandom()
_SEGMENT_ALPHABET = string.digits + string.ascii_lowercase


def _segment_id(cls: type, size: int = 16) -> str:
    return "".join(_SEGMENT_NAMES.choice(_SEGMENT_ALPHABET) for _ in range(size))


whoosh_codec.Segment._random_id = classmethod(_segment_id)

_BLOB_VERSION = 2
#: Pairs of adjacent common words; its name changes with the list in common_words.py.
PAIRS_FIELD = "common_pairs"
#: Decoded pages kept per snapshot: a viewer's searches revisit the same pages.
PAGE_CACHE_SIZE = 4096
#: Results of `Snapshot.cached` kept per snapshot (a search's matched pages, say).
RESULT_CACHE_SIZE = 256


def _text_field() -> TEXT:
    """The page text: positions stored as plain uint32 arrays (indexer/postings_codec.py)."""
    text = TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True)
    text.format = ArrayPositions(field_boost=text.format.field_boost)
    return text


# Tokens arrive normalised by ocr.text.tokens() and joined by single spaces, so the
# analyzer only splits: token i of a page is at position i in the index.
SCHEMA = Schema(
    key=ID(unique=True, stored=True),
    kind=ID(stored=True),
    book=ID(stored=True, sortable=True),
    canvas=NUMERIC(stored=True, sortable=True),
    text=_text_field(),
    # Two adjacent common words (indexer/common_words.py) as one term `a_b`, with counts
    # and no positions (Solr's CommonGrams): "de la" is counted like a word, and a longer
    # phrase reads positions only on the pages holding its pairs. Without it, "et a" over
    # 100,000 pages decoded the positions of both words on 50,000 pages (1.8 s).
    common_pairs=TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=False),
    data=STORED,
    # A book's manifest apart from its small record: listing 300 books must not decode
    # 300 manifests (that was 1.5 GB per server worker on a 100,000-page collection).
    manifest=STORED,
)


class StoredWord(NamedTuple):
    """A printed word on a canvas: display text and box in canvas units.

    A page read back from the index holds its words as plain tuples in this field
    order (see `PageRecord.words`); `PageRecord.word(i)` names the fields.
    """

    text: str
    x: int
    y: int
    w: int
    h: int
    line: int  # index of its line on the page, so a match spanning lines gets a box per line


#: A stored word as `(text, x, y, w, h, line)`: a StoredWord's fields in a plain tuple.
WordRow = tuple[str, int, int, int, int, int]
#: Word texts are joined with this in a stored page: a control character, which XML
#: (hOCR, ALTO) cannot carry, so no word holds it.
_TEXT_SEPARATOR = "\x1f"


def _int_column(values: list[int]) -> Sequence[int]:
    """32-bit ints in an array; a plain list if one does not fit (a canvas declared 10^30 wide)."""
    try:
        return array("i", values)
    except OverflowError:
        return values


@dataclass(frozen=True, slots=True)
class PageRecord:
    """One canvas as indexed, held in columns.

    Word i is printed as `texts[i]`, its box and line are `boxes[5*i : 5*i + 5]`
    (x, y, w, h, line number on the page), in canvas units. `tokens` are the
    normalised index tokens in reading order; token t stands for the printed words
    `spans[2*t]..spans[2*t + 1]` (inclusive), two words for a word hyphenated across
    a line end.

    Columns, not an object per word: a search of a big collection decodes a hundred
    pages per response, and a page of 400 word objects cost 90 us to decode and more
    to free, besides making every garbage collection walk them; a list of strings and
    two int arrays decode in about 15 us (tuples of strings, which the garbage collector
    stops tracking). `words`, `token_words` and `word(i)` give
    the per-word view where speed does not matter.
    """

    book_id: str
    canvas_index: int
    canvas_id: str
    label: str
    width: int
    height: int
    texts: Sequence[str]
    boxes: Sequence[int]
    tokens: Sequence[str]
    spans: Sequence[int]

    @classmethod
    def build(
        cls,
        book_id: str,
        canvas_index: int,
        canvas_id: str,
        label: str,
        width: int,
        height: int,
        words: Iterable[WordRow],
        tokens: Iterable[str],
        token_words: Iterable[tuple[int, int]],
    ) -> PageRecord:
        """A record from per-word rows `(text, x, y, w, h, line)` and per-token word spans."""
        rows = list(words)
        return cls(
            book_id=book_id,
            canvas_index=canvas_index,
            canvas_id=canvas_id,
            label=label,
            width=width,
            height=height,
            texts=tuple(row[0].replace(_TEXT_SEPARATOR, " ") for row in rows),
            boxes=_int_column([value for row in rows for value in row[1:6]]),
            tokens=tuple(tokens),
            spans=array("i", [i for span in token_words for i in span]),
        )

    @property
    def words(self) -> tuple[WordRow, ...]:
        """Every word as a `(text, x, y, w, h, line)` row."""
        b = self.boxes
        return tuple(zip(self.texts, b[0::5], b[1::5], b[2::5], b[3::5], b[4::5], strict=True))

    @property
    def token_words(self) -> tuple[tuple[int, int], ...]:
        """Every token's (first word, last word)."""
        return tuple(zip(self.spans[0::2], self.spans[1::2], strict=True))

    def word(self, i: int) -> StoredWord:
        """Word i with named fields."""
        return StoredWord(self.texts[i], *self.boxes[5 * i : 5 * i + 5])

    def to_blob(self) -> bytes:
        # Not compressed here: Whoosh compresses every stored value itself.
        data = (
            _BLOB_VERSION,
            self.canvas_id,
            self.label,
            self.width,
            self.height,
            _TEXT_SEPARATOR.join(self.texts),
            self.boxes.tobytes() if isinstance(self.boxes, array) else list(self.boxes),
            " ".join(self.tokens),
            array("i", self.spans).tobytes(),
        )
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_blob(cls, book_id: str, canvas_index: int, blob: bytes) -> PageRecord:
        try:
            data = pickle.loads(blob) if blob[:1] == b"\x80" else pickle.loads(zlib.decompress(blob))
            version = data[0]
        except (pickle.UnpicklingError, zlib.error, ValueError, TypeError, EOFError, IndexError):
            version = None
        if version == 1:  # zlib'd pickle of per-word rows (indexes written before 2026-11-21)
            _, canvas_id, label, width, height, words, tokens, token_words = data
            return cls.build(book_id, canvas_index, canvas_id, label, width, height, words, tokens, token_words)
        if version != _BLOB_VERSION:
            raise StoreError(f"page {book_id}/{canvas_index} was written by another version; index the book again")
        _, canvas_id, label, width, height, texts, boxes, tokens, spans = data
        box_array: Sequence[int] = boxes  # a list when some value did not fit 32 bits
        if isinstance(boxes, bytes):
            box_array = array("i")
            box_array.frombytes(boxes)
        span_array = array("i")
        span_array.frombytes(spans)
        # Tuples, not lists: the garbage collector stops tracking a tuple of strings, so the
        # thousands of cached pages are not walked at every full collection.
        words = tuple(texts.split(_TEXT_SEPARATOR)) if texts else ()
        return cls(
            book_id,
            canvas_index,
            canvas_id,
            label,
            width,
            height,
            words,
            box_array,
            tuple(tokens.split(" ")) if tokens else (),
            span_array,
        )


@dataclass(frozen=True, slots=True)
class BookRecord:
    """One indexed book: what the server needs without opening its pages."""

    id: str
    label: str
    manifest_id: str
    version: int
    source: str
    manifest: dict[str, Any] = field(repr=False, compare=False)
    canvas_count: int = 0
    page_count: int = 0  # canvases with text in the index
    word_count: int = 0
    language: str | None = None
    images: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    indexed_at: float = 0.0

    def manifest_blob(self) -> bytes:
        return zlib.compress(json.dumps(self.manifest, ensure_ascii=False, separators=(",", ":")).encode(), 6)

    def to_blob(self) -> bytes:
        """The record without its manifest (see `manifest_blob`)."""
        data = {
            "id": self.id,
            "label": self.label,
            "manifest_id": self.manifest_id,
            "version": self.version,
            "source": self.source,
            "canvas_count": self.canvas_count,
            "page_count": self.page_count,
            "word_count": self.word_count,
            "language": self.language,
            "images": self.images,
            "indexed_at": self.indexed_at,
        }
        return zlib.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), 6)

    @classmethod
    def from_blob(cls, blob: bytes) -> BookRecord:
        """The record as stored; its `manifest` is empty (read it with Snapshot.manifest)."""
        data = json.loads(zlib.decompress(blob))
        data.pop("manifest", None)  # indexes written before the manifest had its own field
        return cls(manifest={}, **data)


@dataclass(frozen=True, slots=True)
class PageMatch:
    """A canvas that holds every group of a query.

    `positions` maps each matched index term to its token positions on the page;
    it is filled only when asked for (counting hits of one word needs none).
    """

    docnum: int
    book_id: str
    canvas_index: int
    counts: dict[str, int]
    positions: dict[str, list[int]] | None = None


def pair_term(first: str, second: str) -> str:
    """The `common_pairs` term for two adjacent tokens (tokens hold no `_`: ocr.text)."""
    return f"{first}_{second}"


def is_indexed_pair(first: str, second: str) -> bool:
    """Whether the `common_pairs` field holds this pair wherever it occurs."""
    return is_common(first) and is_common(second)


def _pairs_text(tokens: Sequence[str]) -> str:
    return " ".join(pair_term(a, b) for a, b in itertools.pairwise(tokens) if is_indexed_pair(a, b))


def _key(book_id: str, canvas_index: int | None = None) -> str:
    return f"b:{book_id}" if canvas_index is None else f"p:{book_id}:{canvas_index}"


def _holds(sorted_keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Boolean mask: which of `wanted` are in `sorted_keys` (ascending)."""
    if not len(sorted_keys):
        return np.zeros(len(wanted), bool)
    at = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
    return sorted_keys[at] == wanted  # type: ignore[no-any-return]


def _int_array(values: np.ndarray) -> array[int]:
    """A numpy int array as array('q'): compact, and no Python int per item for the GC to walk."""
    return array("q", values.astype(np.int64, copy=False).tobytes())


def _merged(parts: list[np.ndarray]) -> np.ndarray:
    """Sorted keys of several terms together."""
    if len(parts) == 1:
        return parts[0]
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def _per_page(keys: np.ndarray, pages: np.ndarray) -> np.ndarray:
    """How many of `keys` fall on each of `pages` (ascending docnums); keys elsewhere are dropped."""
    docs = keys >> 32
    docs = docs[_holds(pages, docs)]
    return np.bincount(np.searchsorted(pages, docs), minlength=len(pages)).astype(np.int64)


class Store:
    """A Whoosh index in `DATA_DIR/index`, created on first write.

    >>> store = Store(Path("data"))              # doctest: +SKIP
    >>> store.replace_book(book, pages)          # doctest: +SKIP
    >>> with store.snapshot() as snap: snap.books()  # doctest: +SKIP
    """

    def __init__(self, data_dir: Path, *, refresh_interval: float = 0.25) -> None:
        self.data_dir = Path(data_dir)
        self.path = paths.index_dir(self.data_dir)
        self._refresh_interval = refresh_interval
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
        if whoosh_index.exists_in(str(self.path)):
            ix = whoosh_index.open_dir(str(self.path))
            if "manifest" not in ix.schema:  # an index from before the field existed
                with ix.writer() as writer:
                    writer.add_field("manifest", STORED)
                ix = whoosh_index.open_dir(str(self.path))
            return ix
        return whoosh_index.create_in(str(self.path), SCHEMA)

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
            return ix.writer(timeout=wait, delay=0.25, compound=False, codec=ColumnarCodec())
        except LockError as exc:
            raise IndexBusy(
                f"another index job is writing to {self.path}; "
                "wait for it to finish (or pass --wait SECONDS) and run again"
            ) from exc
        except OSError as exc:  # e.g. no room for the writer's temporary folder
            raise StoreError(f"cannot start writing the index in {self.path}: {exc}") from exc

    def _commit(self, change: Callable[[Any], T], wait: float) -> T:
        """Run `change(writer)` and commit it, or leave the index exactly as it was."""
        before = self._files()
        writer = self._writer(wait)
        try:
            result = change(writer)
            writer.commit()
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

        def change(writer: Any) -> None:
            # An index made before the pairs field keeps its schema (then every page
            # lacks pairs, and phrases are counted from positions, more slowly).
            with_pairs = PAIRS_FIELD in writer.schema
            writer.delete_by_term("book", book.id)
            writer.add_document(
                key=_key(book.id),
                kind="book",
                book=book.id,
                canvas=0,
                data=book.to_blob(),
                manifest=book.manifest_blob(),
            )
            for page in pages:
                extra = {PAIRS_FIELD: _pairs_text(page.tokens)} if with_pairs else {}
                writer.add_document(
                    key=_key(book.id, page.canvas_index),
                    kind="page",
                    book=book.id,
                    canvas=page.canvas_index,
                    text=" ".join(page.tokens),
                    data=page.to_blob(),
                    **extra,
                )

        self._commit(change, wait)

    def remove_book(self, book_id: str, *, wait: float = 0.0) -> bool:
        """Delete a book and its pages; False when it was not indexed."""
        if not whoosh_index.exists_in(str(self.path)):
            return False
        return bool(self._commit(lambda writer: writer.delete_by_term("book", book_id), wait))

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
                    if not self.exists():
                        return Snapshot(None)
                    snap = Snapshot(whoosh_index.open_dir(str(self.path)).searcher())
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


def _serialized(method: Callable[..., T]) -> Callable[..., T]:
    """Run a Snapshot method under the snapshot's I/O lock.

    Whoosh readers seek and read shared file handles, so two threads reading one
    snapshot at once can get each other's bytes (seen as unpickling and zlib errors
    under load). Reads are CPU-bound Python, so under the GIL the lock costs little.
    """

    @functools.wraps(method)
    def locked(self: Snapshot, *args: Any, **kwargs: Any) -> T:
        with self._io:
            return method(self, *args, **kwargs)

    return locked


class Snapshot:
    """One committed state of the index, for any number of concurrent reads (serialised inside)."""

    def __init__(self, searcher: Searcher | None) -> None:
        self.searcher = searcher
        # Closes the searcher's files once no request holds this snapshot any more.
        self._finalizer = weakref.finalize(self, searcher.close) if searcher is not None else None
        self._io = threading.RLock()
        self._lock = threading.Lock()
        self._books: dict[str, BookRecord] | None = None
        self._book_docs: dict[str, list[int]] = {}
        self._images: dict[str, str] | None = None
        self._keys: list[tuple[str, int]] | None = None
        self._ranks: array[int] | None = None
        self._pages: OrderedDict[int, PageRecord] = OrderedDict()
        self._results: OrderedDict[Hashable, Any] = OrderedDict()

    @property
    def generation(self) -> int:
        return -1 if self.searcher is None else self.searcher.reader().generation()

    def cached(self, key: Hashable, compute: Callable[[], T], *, keep: Callable[[T], bool] = lambda _: True) -> T:
        """compute(), remembered for this snapshot under `key` (LRU) when keep(result).

        A snapshot never changes, so nothing here goes stale: a commit makes a new
        snapshot with an empty cache. Paging through one search, or many readers
        running the same one, then costs one match.
        """
        return self._remember(self._results, key, compute, RESULT_CACHE_SIZE, keep)

    def _remember(
        self,
        table: OrderedDict[Any, Any],
        key: Hashable,
        compute: Callable[[], T],
        size: int,
        keep: Callable[[T], bool] = lambda _: True,
    ) -> T:
        """table[key] (an LRU of at most `size`), or compute() and keep it there when keep(result)."""
        with self._lock:
            if key in table:
                table.move_to_end(key)
                return table[key]  # type: ignore[no-any-return]
        value = compute()  # outside the lock: other readers go on meanwhile
        if keep(value):
            with self._lock:
                table[key] = value
                while len(table) > size:
                    table.popitem(last=False)
        return value

    # -- books ---------------------------------------------------------------

    @_serialized
    def _load_books(self) -> dict[str, BookRecord]:
        with self._lock:
            if self._books is None:
                books: dict[str, BookRecord] = {}
                if self.searcher is not None:
                    for docnum in self.searcher.document_numbers(kind="book"):
                        record = BookRecord.from_blob(self.searcher.stored_fields(docnum)["data"])
                        books[record.id] = record
                self._books = dict(sorted(books.items()))
            return self._books

    def books(self) -> list[BookRecord]:
        """Every indexed book, by id."""
        return list(self._load_books().values())

    def book(self, book_id: str) -> BookRecord | None:
        return self._load_books().get(book_id)

    @_serialized
    def manifest(self, book_id: str) -> dict[str, Any] | None:
        """The manifest of a book as it was indexed (decoded on each call: callers edit it)."""
        if self.searcher is None:
            return None
        docnum = self.searcher.document_number(key=_key(book_id))
        if docnum is None:
            return None
        fields = self.searcher.stored_fields(docnum)
        blob = fields.get("manifest")
        if blob is None:  # written before the manifest had its own field
            manifest: dict[str, Any] = json.loads(zlib.decompress(fields["data"])).get("manifest", {})
            return manifest
        return json.loads(zlib.decompress(blob))  # type: ignore[no-any-return]

    def images(self) -> dict[str, str]:
        """Image API identifier -> local file, over every book indexed from a folder."""
        if self._images is None:
            merged: dict[str, str] = {}
            for record in self.books():
                merged.update(record.images)
            self._images = merged
        return self._images

    @_serialized
    def _docs_of(self, book_id: str) -> list[int]:
        docs = self._book_docs.get(book_id)
        if docs is None and self.searcher is not None:
            docs = sorted(self.searcher.document_numbers(book=book_id, kind="page"))
            self._book_docs[book_id] = docs
        return docs or []

    def _rank(self) -> array[int]:
        """rank[docnum]: the document's place in reading order (book id, canvas index)."""
        with self._lock:
            rank = self._ranks
        if rank is None:
            keys = self._order_keys()
            places = [0] * len(keys)
            for place, docnum in enumerate(sorted(range(len(keys)), key=keys.__getitem__)):
                places[docnum] = place
            rank = array("q", places)  # an array: nothing in it for the garbage collector to walk
            with self._lock:
                self._ranks = rank
        return rank

    def _rank_array(self) -> np.ndarray:
        """`_rank()` seen as a numpy array (no copy), to order many docnums at once."""
        return np.frombuffer(self._rank(), dtype=np.int64)

    @_serialized
    def _order_keys(self) -> list[tuple[str, int]]:
        """(book id, canvas index) of every docnum, read from the columns once per snapshot.

        Per-document column reads were half the cost of matching a common word
        over 100,000 pages; one pass over the columns is a few tens of ms.
        """
        with self._lock:
            if self._keys is None:
                assert self.searcher is not None
                reader = self.searcher.reader()
                books = reader.column_reader("book")
                canvases = reader.column_reader("canvas")
                self._keys = [
                    (b.decode() if isinstance(b, bytes) else b, int(c)) for b, c in zip(books, canvases, strict=True)
                ]
            return self._keys

    # -- terms ---------------------------------------------------------------

    @_serialized
    def has_term(self, term: str) -> bool:
        return self.searcher is not None and ("text", term) in self.searcher.reader()

    @_serialized
    def expand_prefix(self, prefix: str, limit: int) -> list[str]:
        """Index terms that start with `prefix`, in term order, at most `limit`."""
        if self.searcher is None or not prefix:
            return []
        out: list[str] = []
        for term in self.searcher.reader().expand_prefix("text", prefix):
            out.append(term.decode() if isinstance(term, bytes) else term)
            if len(out) >= limit:
                break
        return out

    @_serialized
    def term_counts(self, terms: Sequence[str], book_id: str | None) -> dict[str, int]:
        """Occurrences of each term in one book, or in the whole index."""
        if self.searcher is None:
            return {}
        reader = self.searcher.reader()
        if book_id is None:
            return {t: int(reader.frequency("text", t)) for t in terms if ("text", t) in reader}
        counts: dict[str, int] = {}
        for term in terms:
            total = int(self._count_arrays([term], book_id, "text")[1].sum())
            if total:
                counts[term] = total
        return counts

    # -- matching ------------------------------------------------------------

    @property
    def has_pairs(self) -> bool:
        """Whether the index has the `common_pairs` field (indexes made before it do not)."""
        return self.searcher is not None and PAIRS_FIELD in self.searcher.schema

    def _blocks(
        self, term: str, field: str = "text"
    ) -> Iterator[tuple[Sequence[int], Sequence[float], Sequence[bytes | None]]]:
        """(docnums, frequencies, raw values) of `term`, a posting block at a time, deleted documents dropped.

        Reads whole blocks from Whoosh's W3 posting format (whoosh-reloaded 2.7.5, pinned)
        instead of stepping its matcher one posting at a time: counting a common word over
        100,000 pages drops from ~100 ms to a few. A value holds a posting's positions
        (`format.decode_positions`). Falls back to the matcher if the format is not the
        one this was written against.
        """
        assert self.searcher is not None
        for leaf, base in self.searcher.reader().leaf_readers():
            if (field, term) not in leaf:
                continue
            deleted = leaf.deleted_docs_set
            try:
                raw = leaf._terms.matcher(field, leaf._text_to_bytes(field, term), leaf.schema[field].format)
                while raw.is_active():
                    if raw._ids is None:
                        raw._read_ids()
                    if raw._weights is None:
                        raw._read_weights()
                    if raw._values is None:
                        raw._read_values()  # the block is already unpickled: no decoding here
                    ids, weights, values = raw._ids[raw._i :], raw._weights[raw._i :], raw._values[raw._i :]
                    if deleted:
                        kept = [i for i, d in enumerate(ids) if d not in deleted]
                        ids, weights, values = (
                            [ids[i] for i in kept],
                            [weights[i] for i in kept],
                            [values[i] for i in kept],
                        )
                    yield ([d + base for d in ids] if base else ids), weights, values
                    raw._next_block()
            except AttributeError:  # another posting format: the slow, public way
                matcher = leaf.postings(field, term)
                ids, weights, values = [], [], []
                while matcher.is_active():
                    ids.append(matcher.id() + base)
                    weights.append(matcher.weight())
                    values.append(matcher.value())
                    matcher.next()
                yield ids, weights, values

    def _term_arrays(self, term: str, field: str = "text", *, positions: bool = False) -> TermArrays:
        """Every posting of `term` in `field` as arrays (global docnums, deleted documents dropped).

        Segments written by ColumnarCodec decode in a few numpy calls per block
        (indexer/postings_codec.py); others (indexes from before it) posting by posting.
        """
        assert self.searcher is not None
        parts: list[TermArrays] = []
        for leaf, base in self.searcher.reader().leaf_readers():
            try:
                # One term lookup (not `in`, then another for the matcher): a prefix asks for
                # up to 200 terms in every segment.
                matcher = leaf._terms.matcher(field, leaf._text_to_bytes(field, term), leaf.schema[field].format)
            except TermNotFound:
                continue
            except AttributeError:  # not a segment reader: the public, slow way below
                if (field, term) not in leaf:
                    continue
                matcher = None
            arrays = read_term(matcher, positions) if matcher is not None else None
            if arrays is None:
                arrays = self._term_arrays_slowly(leaf, field, term, positions)
            deleted = leaf.deleted_docs_set
            if deleted:
                arrays = arrays.select(~np.isin(arrays.ids, np.fromiter(deleted, np.int64, len(deleted))))
            parts.append(arrays.shifted(base))
        return TermArrays.concat(parts, positions)

    @staticmethod
    def _term_arrays_slowly(leaf: Any, field: str, term: str, positions: bool) -> TermArrays:
        matcher = leaf.postings(field, term)
        ids: list[int] = []
        counts: list[int] = []
        found: list[int] = []
        while matcher.is_active():
            ids.append(matcher.id())
            if positions:
                these = matcher.value_as("positions")
                found.extend(these)
                counts.append(len(these))
            else:
                counts.append(round(matcher.weight()))
            matcher.next()
        return TermArrays(
            np.array(ids, np.int64), np.array(counts, np.int64), np.array(found, np.int64) if positions else None
        )

    def _in_book(self, ids: np.ndarray, book_id: str) -> np.ndarray:
        """Boolean mask of the docnums in `ids` that are pages of `book_id`."""
        docs = self._docs_of(book_id)
        if not docs:
            return np.zeros(len(ids), bool)
        if docs[-1] - docs[0] + 1 == len(docs):  # a book's pages are usually one run of docnums
            return (ids >= docs[0]) & (ids <= docs[-1])
        return np.isin(ids, np.asarray(docs, np.int64))

    def _count_arrays(self, terms: Sequence[str], book_id: str | None, field: str) -> tuple[np.ndarray, np.ndarray]:
        """(docnums ascending, occurrences of any of `terms` there) in `field`, over one book or all."""
        parts = [self._term_arrays(term, field) for term in dict.fromkeys(terms)]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ids = np.concatenate([p.ids for p in parts])
        counts = np.concatenate([p.counts for p in parts])
        if len(parts) > 1:  # a prefix: pages holding several of its terms are summed
            ids, inverse = np.unique(ids, return_inverse=True)
            counts = np.bincount(inverse, weights=counts, minlength=len(ids)).astype(np.int64)
        if book_id is not None:
            keep = self._in_book(ids, book_id)
            ids, counts = ids[keep], counts[keep]
        return ids, counts

    def _reading_order(self, ids: np.ndarray) -> np.ndarray:
        """Indices that put the docnums `ids` in reading order."""
        return np.argsort(self._rank_array()[ids], kind="stable")

    def _postings_among(
        self, term: str, wanted: Sequence[int], field: str = "text", *, positions: bool = True
    ) -> dict[int, tuple[int, list[int] | None]]:
        """docnum -> (frequency, positions or None) of `term` on the `wanted` pages (sorted docnums).

        Walks the posting blocks, skipping by each block's largest id those that hold
        none of `wanted`, and decodes only the postings of wanted pages. Whoosh's
        matcher.skip_to costs a Python call per posting passed over: reading the
        positions of three words on 1,500 pages of 100,000 took 180 ms that way.
        """
        assert self.searcher is not None
        out: dict[int, tuple[int, list[int] | None]] = {}
        if not wanted:
            return out
        for leaf, base in self.searcher.reader().leaf_readers():
            if (field, term) not in leaf:
                continue
            # `wanted` is sorted: this leaf's part of it is one slice.
            part = wanted[bisect.bisect_left(wanted, base) : bisect.bisect_left(wanted, base + leaf.doc_count_all())]
            local = [d - base for d in part] if base else part
            if not local:
                continue
            deleted = leaf.deleted_docs_set
            fmt = leaf.schema[field].format
            try:
                raw = leaf._terms.matcher(field, leaf._text_to_bytes(field, term), fmt)
                want = set(local)
                k = 0  # local[k] is the next wanted id not yet passed
                while raw.is_active() and k < len(local):
                    if raw._maxid < local[k]:
                        raw._next_block()  # reads only the block's header
                        continue
                    if raw._ids is None:
                        raw._read_ids()
                    if raw._weights is None:
                        raw._read_weights()
                    if positions and raw._values is None:
                        raw._read_values()
                    ids, weights, values = raw._ids, raw._weights, raw._values
                    for i, docnum in enumerate(ids):
                        if docnum in want and docnum not in deleted:
                            value = fmt.decode_positions(values[i]) if positions else None
                            out[docnum + base] = (int(weights[i]), value)
                    while k < len(local) and local[k] <= raw._maxid:
                        k += 1
                    raw._next_block()
            except AttributeError:  # another posting format: the slow, public way
                matcher = leaf.postings(field, term)
                for docnum in local:
                    if not matcher.is_active():
                        break
                    if matcher.id() < docnum:
                        matcher.skip_to(docnum)
                        if not matcher.is_active():
                            break
                    if matcher.id() == docnum and docnum not in deleted:
                        out[docnum + base] = (
                            int(matcher.weight()),
                            list(matcher.value_as("positions")) if positions else None,
                        )
        return out

    @_serialized
    def page_counts(self, terms: Sequence[str], book_id: str | None) -> tuple[array[int], array[int]]:
        """Pages holding any of `terms` in reading order, with the terms' occurrences on each.

        The fast path for a one-word (or one-prefix) query, where each occurrence is
        one hit: no positions, no per-page objects.
        """
        if self.searcher is None:
            return array("q"), array("q")
        ids, counts = self._count_arrays(terms, book_id, "text")
        order = self._reading_order(ids)
        return _int_array(ids[order]), _int_array(counts[order])

    @_serialized
    def term_counts_by_page(self, term: str, book_id: str | None, *, pair: bool = False) -> dict[int, int]:
        """docnum -> occurrences of one term (or, with `pair`, one indexed `pair_term`) on that page."""
        if self.searcher is None or (pair and not self.has_pairs):
            return {}
        ids, counts = self._count_arrays([term], book_id, PAIRS_FIELD if pair else "text")
        return dict(zip(ids.tolist(), counts.tolist(), strict=True))

    def in_reading_order(self, docnums: Iterable[int]) -> list[int]:
        """docnums sorted by book id, then canvas index."""
        rank = self._rank()
        return sorted(docnums, key=rank.__getitem__)

    @_serialized
    def match(
        self,
        groups: Sequence[Sequence[str]],
        book_id: str | None,
        *,
        positions: bool,
        pairs: Sequence[tuple[str, str]] = (),
    ) -> list[PageMatch]:
        """Pages holding at least one term of every group (and every `pairs` term), in reading order.

        Reading order is book id, then canvas index. With `positions`, each match
        carries the token positions of its terms; otherwise only their counts.
        `pairs` (two tokens that must be adjacent somewhere on the page; used when the
        index holds them, see `is_indexed_pair`) only narrow the pages.
        """
        if self.searcher is None or not groups:
            return []
        docs = self._docs_of(book_id) if book_id is not None else None
        if docs is not None and not docs:
            return []
        # First the pages holding every group, from document ids alone (whole posting
        # blocks, cheap); then counts and positions for just those pages. A phrase of a
        # common word and a rare one no longer decodes the common word's positions on
        # every page of the collection.
        allowed = set(docs) if docs is not None else None
        candidates: set[int] | None = None
        required: list[tuple[Sequence[str], str]] = [(group, "text") for group in groups]
        pairs = [pair for pair in pairs if is_indexed_pair(*pair)]
        if self.has_pairs and pairs:
            # A page holding the pair `a_b` holds `a` and `b`: those groups need no reading.
            # Pairs are rarer than their words, so few pages are left to check positions on.
            covered = {token for pair in pairs for token in pair}
            required = [((pair_term(*pair),), PAIRS_FIELD) for pair in dict.fromkeys(pairs)] + [
                (group, name) for group, name in required if not covered.intersection(group)
            ]
        # The word blocks read for the ids are kept for their positions (read once, not twice).
        read: dict[str, list[tuple[Sequence[int], Sequence[float], Sequence[bytes | None]]]] = {}
        for group, field_name in required:
            ids: set[int] = set()
            for term in dict.fromkeys(group):
                blocks = list(self._blocks(term, field_name))
                if field_name == "text" and positions:
                    read[term] = blocks
                for block_ids, _, _ in blocks:
                    ids.update(block_ids)
            if allowed is not None:
                ids &= allowed
            candidates = ids if candidates is None else candidates & ids
            if not candidates:
                return []
        assert candidates is not None
        wanted = sorted(candidates)
        per_doc: dict[int, dict[str, tuple[int, list[int] | None]]] = {d: {} for d in wanted}
        decode = self.searcher.schema["text"].format.decode_positions
        for term in dict.fromkeys(t for group in groups for t in group):
            if term in read:
                for block_ids, weights, values in read[term]:
                    for i, docnum in enumerate(block_ids):
                        if docnum in per_doc:
                            per_doc[docnum][term] = (int(weights[i]), decode(values[i]))
                continue
            for docnum, value in self._postings_among(term, wanted, positions=positions).items():
                per_doc[docnum][term] = value
        assert per_doc is not None
        keys = self._order_keys()
        matches = []
        for docnum, terms in per_doc.items():
            book, canvas = keys[docnum]
            matches.append(
                PageMatch(
                    docnum=docnum,
                    book_id=book,
                    canvas_index=canvas,
                    counts={t: f for t, (f, _) in terms.items()},
                    positions={t: p or [] for t, (_, p) in terms.items()} if positions else None,
                )
            )
        rank = self._rank()
        matches.sort(key=lambda m: rank[m.docnum])
        return matches

    @_serialized
    def sequence_counts(
        self, units: Sequence[Sequence[Collection[str]]], book_id: str | None
    ) -> tuple[array[int], array[int]]:
        """Pages holding every unit, in reading order, with their hits, when no term fills two slots.

        A unit is slots that must follow each other (a phrase, or one word); a slot is
        the terms that may fill it (one word, or a prefix's terms). With no term in two
        slots, occurrences never overlap, and an occurrence of unit k+1 right after one
        of unit k joins it into one hit, so a page holds (its units' occurrences) -
        (such joins) hits: the rule of `hits.hit_spans`, counted with numpy over
        `docnum << 32 | position` keys instead of page by page. "pour balboa" over
        100,000 pages went from ~400 ms to a few tens.
        """
        terms = [term for unit in units for slot in unit for term in slot]
        if len(set(terms)) != len(terms) or not units or not all(units) or not all(all(unit) for unit in units):
            raise ValueError("sequence_counts needs non-empty units whose slots share no term")  # use match()
        if self.searcher is None:
            return array("q"), array("q")
        reader = self.searcher.reader()
        term_keys: dict[str, np.ndarray] = {}
        for term in terms:
            if ("text", term) not in reader:
                continue
            arrays = self._term_arrays(term, positions=True)
            if book_id is not None:
                arrays = arrays.select(self._in_book(arrays.ids, book_id))
            term_keys[term] = arrays.keys()
        # A slot's keys: its terms' keys merged (a position holds one term: no duplicates).
        keys = [[_merged([term_keys[t] for t in slot if t in term_keys]) for slot in unit] for unit in units]
        starts = []  # per unit: the keys where an occurrence of it starts
        for unit in keys:
            # From the unit's rarest slot: few keys to look up in the others' long lists.
            rarest = min(range(len(unit)), key=lambda i: len(unit[i]))
            found = unit[rarest] - rarest
            for offset, slot in enumerate(unit):
                if offset != rarest:
                    found = found[_holds(slot, found + offset)]
            starts.append(found)
        pages = functools.reduce(np.intersect1d, [np.unique(found >> 32) for found in starts])
        if not len(pages):
            return array("q"), array("q")
        hits = np.zeros(len(pages), np.int64)
        for k, found in enumerate(starts):
            hits += _per_page(found, pages)
            if k + 1 < len(starts):
                joined = found[_holds(starts[k + 1], found + len(units[k]))]
                hits -= _per_page(joined, pages)
        order = self._reading_order(pages)
        return _int_array(pages[order]), _int_array(hits[order])

    def page(self, docnum: int) -> PageRecord:
        """The stored words and tokens of a matched page (decoded once per snapshot, LRU)."""
        return self._remember(self._pages, docnum, lambda: self._read_page(docnum), PAGE_CACHE_SIZE)

    @_serialized
    def _read_page(self, docnum: int) -> PageRecord:
        assert self.searcher is not None
        fields = self.searcher.stored_fields(docnum)
        return PageRecord.from_blob(fields["book"], int(fields["canvas"]), fields["data"])

    @_serialized
    def page_of(self, book_id: str, canvas_index: int) -> PageRecord | None:
        """A page by book and canvas index, or None."""
        if self.searcher is None:
            return None
        docnum = self.searcher.document_number(key=_key(book_id, canvas_index))
        return None if docnum is None else self.page(docnum)

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # closes the searcher once, however often it is called
