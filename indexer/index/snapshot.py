"""Reading one committed state of the index: books, manifests, pages, term counts, with caches.

A `Snapshot` never changes, so what it caches never goes stale: a commit makes a new
snapshot (Store.snapshot) with empty caches. Counting hits is counting.py's; the
postings themselves are read by postings.py under this snapshot's I/O lock.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import weakref
import zlib
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
from whoosh.reading import MultiReader
from whoosh.searching import Searcher

from indexer.index import postings
from indexer.index.near_terms import near_terms_of, near_terms_over
from indexer.index.postings_codec import ArrayPositions, BlockDirectory, TermArrays
from indexer.index.records import BookRecord, PageRecord
from indexer.index.schema import BOOK_COUNTS_FIELD, NO_ALTERNATIVES_MARK, PAIRS_FIELD, document_key

T = TypeVar("T")

#: Bytes of decoded pages kept per snapshot (estimated): a viewer's searches revisit the same pages.
PAGE_CACHE_BYTES = 128_000_000
#: Bytes of `Snapshot.cached` results kept per snapshot (a search's matched pages: 16 bytes a page).
RESULT_CACHE_BYTES = 32_000_000
#: Terms (per segment) whose block directory a snapshot keeps: a few KB each at most, ~100 blocks
#: of a common word per segment of 50,000 pages; past this many, they are forgotten and rebuilt.
DIRECTORY_TERMS = 4096
#: What a cache entry costs beyond its weight: the key, the table's node, the objects.
_ENTRY_BYTES = 300


class _Lru:
    """A least-recently-used table bounded by the estimated bytes of what it holds, not by a count.

    A count alone let a few huge entries (a page of 100,000 OCR words, a result of
    100,000 pages) take gigabytes (#16).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()

    def get(self, key: Hashable) -> tuple[bool, Any]:
        found = self._entries.get(key)
        if found is None:
            return False, None
        self._entries.move_to_end(key)
        return True, found[0]

    def put(self, key: Hashable, value: Any, weight: int) -> None:
        weight += _ENTRY_BYTES
        if weight > self.max_bytes // 4:
            return  # one entry must not push out everything else
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (value, weight)
        self.bytes += weight
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped

    def __len__(self) -> int:
        return len(self._entries)


def page_weight(page: PageRecord) -> int:
    """Estimated bytes of a decoded page: its word strings, tokens and int columns, and its image's fields (#20)."""
    image = 300 if page.image else 0  # a small dict: the service URL, version, profile, size
    return 60 * (len(page.texts) + len(page.tokens)) + 4 * (len(page.boxes) + len(page.spans)) + image


class _FairLock:
    """A reentrant lock that a thread which has waited HANDOFF seconds gets before anyone else.

    Python's locks are not fair: a thread that releases one and asks again at once (a
    long search reading term after term) usually gets it back before a waiting thread
    wakes, so a cheap search waited for all of a costly one's reads (seconds under #16's
    flood of costly searches). Handing the lock to the oldest waiter at every release
    fixed that but cost a thread switch per read: a quarter of the collection's search
    throughput when every thread searches. So, as Go's sync.Mutex does: the owner may
    take the lock back at once until the oldest waiter has waited HANDOFF; from then on
    each release hands it over in arrival order. Waiters wake every HANDOFF to take a
    lock left free.
    """

    HANDOFF = 0.001

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiting: deque[tuple[int, threading.Lock, float]] = deque()

    def _starving(self) -> bool:
        return bool(self._waiting) and time.monotonic() - self._waiting[0][2] >= self.HANDOFF

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self._starving():
                self._owner, self._depth = me, 1
                return
            turn = threading.Lock()
            turn.acquire()
            entry = (me, turn, time.monotonic())
            self._waiting.append(entry)
        while not turn.acquire(timeout=self.HANDOFF):  # released by an owner handing the lock over
            with self._mutex:
                if self._owner == me:
                    return  # handed over just as the wait timed out
                if self._owner is None and self._waiting[0] is entry:
                    self._waiting.popleft()  # left free, and this thread is first in line
                    self._owner, self._depth = me, 1
                    return

    def __exit__(self, *exc: object) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            if self._starving():
                self._owner, turn, _ = self._waiting.popleft()
                self._depth = 1
                turn.release()
            else:
                self._owner = None


def _serialized(method: Callable[..., T]) -> Callable[..., T]:
    """Run a Snapshot method under the snapshot's I/O lock.

    Whoosh readers seek and read shared file handles, so two threads reading one
    snapshot at once can get each other's bytes (seen as unpickling and zlib errors
    under load). Reads are CPU-bound Python, so under the GIL the lock costs little;
    it is fair, and held for one read (a term, a page), so long searches take turns
    with short ones.
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
        self._io = _FairLock()
        self._lock = threading.Lock()
        self._books: dict[str, BookRecord] | None = None
        self._book_places: dict[str, int] | None = None
        self._book_docs: dict[str, list[int]] = {}
        self._pages_by_book: tuple[np.ndarray, np.ndarray] | None = None
        # Where each term read within a book has its posting blocks (postings_codec.BlockDirectory).
        self._directories: dict[tuple[int, str, str], BlockDirectory] = {}
        self._images: dict[str, str] | None = None
        self._keys: list[tuple[str, int]] | None = None
        self._ranks: array[int] | None = None
        self._ordinals: np.ndarray | None = None
        self._pages = _Lru(PAGE_CACHE_BYTES)
        self._results = _Lru(RESULT_CACHE_BYTES)
        self._parts: tuple[Snapshot, ...] = ()  # a union's parts (union()), kept alive with it
        self._shares_positions: bool | None = None
        self._marked_books: frozenset[int] | None = None  # book documents marked NO_ALTERNATIVES_MARK

    @classmethod
    def union(cls, parts: Sequence[Snapshot], generation: int) -> Snapshot:
        """One snapshot reading the segments of several indexes at once (#22: the access levels a reader holds).

        Every read goes through the searcher's leaf readers, so the union answers as one
        index holding all the parts' books would: counts, ranking, autocomplete. The parts
        keep their files open (the union does not close their readers) and live as long
        as the union does.
        """
        leaves = [
            leaf for part in parts if part.searcher is not None for leaf, _ in part.searcher.reader().leaf_readers()
        ]
        union = cls(Searcher(MultiReader(leaves, generation=generation), closereader=False))
        union._parts = tuple(parts)
        return union

    def shares_positions(self, book_id: str | None = None) -> bool:
        """Whether two terms may sit at one position: a printed word and its alternative readings (#21).

        With `book_id`, within that book's pages: a book marked as holding no alternative
        shares none, whatever the other books hold (one German book's umlauts written out
        made every book's prefixes read their positions).

        Then a prefix's or fuzzy word's occurrences, summed over its terms, count such a position
        once per term matching there (`schon` and its `schoen` both match `s*`): pages holding two
        of its terms have their positions read to count it once, and a book's counts summed over
        the terms only bound its hits. Only our positions format places alternatives (store.py),
        and a book whose pages hold none is marked so (schema.NO_ALTERNATIVES_MARK): an index
        where every book document ever written carries the mark shares no position.
        """
        if self._shares_positions is None:
            searcher = self.searcher
            with self._io:  # the term dictionary is read through the shared file handles
                self._shares_positions = (
                    searcher is not None
                    and isinstance(searcher.schema["text"].format, ArrayPositions)
                    and not (
                        BOOK_COUNTS_FIELD in searcher.schema
                        and searcher.doc_frequency(BOOK_COUNTS_FIELD, NO_ALTERNATIVES_MARK)
                        == searcher.doc_frequency("kind", "book")  # deleted documents count on both sides
                    )
                )
        if not self._shares_positions or book_id is None:
            return self._shares_positions
        return not self._marked(book_id)

    @_serialized
    def _marked(self, book_id: str) -> bool:
        """Whether the book's document carries NO_ALTERNATIVES_MARK (books indexed before the mark do not)."""
        searcher = self.searcher
        if searcher is None or BOOK_COUNTS_FIELD not in searcher.schema:
            return False
        if self._marked_books is None:  # one posting list, a document per book: ~2 ms for 1,500 books
            self._marked_books = frozenset(searcher.document_numbers(**{BOOK_COUNTS_FIELD: NO_ALTERNATIVES_MARK}))
        docnum = searcher.document_number(key=document_key(book_id))
        return docnum is not None and docnum in self._marked_books

    @property
    def generation(self) -> int:
        return -1 if self.searcher is None else self.searcher.reader().generation()

    def cached(self, key: Hashable, compute: Callable[[], T], weight: Callable[[T], int]) -> T:
        """compute(), remembered for this snapshot under `key` within a byte budget (LRU).

        `weight(result)` estimates its bytes. A snapshot never changes, so nothing here
        goes stale: a commit makes a new snapshot with an empty cache. Paging through
        one search, or many readers running the same one, then costs one count.
        """
        return self._remember(self._results, key, compute, weight)

    def _remember(self, table: _Lru, key: Hashable, compute: Callable[[], T], weight: Callable[[T], int]) -> T:
        """table[key], or compute() and keep it there."""
        with self._lock:
            found, value = table.get(key)
        if found:
            return value  # type: ignore[no-any-return]
        value = compute()  # outside the lock: other readers go on meanwhile
        with self._lock:
            table.put(key, value, weight(value))
        return value

    # -- books ---------------------------------------------------------------

    def _load_books(self) -> dict[str, BookRecord]:
        # Once loaded, no lock: the server checks a book on its event loop for every search,
        # and waiting there for the I/O lock, held by a long search's reads, stalled every
        # request of the worker, /health included (#16).
        books = self._books
        return books if books is not None else self._read_books()

    @_serialized
    def _read_books(self) -> dict[str, BookRecord]:
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

    def book_ordinal(self, book_id: str) -> int | None:
        """A book's place in `books()`, or None."""
        return self._places().get(book_id)

    def _places(self) -> dict[str, int]:
        # Kept once per snapshot: a collection search that counts books apart asks for each
        # book's place, and building this dict per call was ~0.6 ms at 1,000 books (#20).
        places = self._book_places
        if places is None:
            places = {book_id: n for n, book_id in enumerate(self._load_books())}
            self._book_places = places
        return places

    @_serialized
    def manifest(self, book_id: str) -> dict[str, Any] | None:
        """The manifest of a book as it was indexed (decoded on each call: callers edit it)."""
        if self.searcher is None:
            return None
        docnum = self.searcher.document_number(key=document_key(book_id))
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
    def docs_of(self, book_id: str) -> list[int]:
        docs = self._book_docs.get(book_id)
        if docs is None and self.searcher is not None:
            table = self._pages_by_book
            if table is not None:  # a collection search read every book's pages at once (#20)
                ordinal = self.book_ordinal(book_id)
                docs = [] if ordinal is None else table[0][table[1][ordinal] : table[1][ordinal + 1]].tolist()
            else:
                docs = sorted(self.searcher.document_numbers(book=book_id, kind="page"))
            self._book_docs[book_id] = docs
        return docs or []

    def pages_by_book(self) -> tuple[np.ndarray, np.ndarray]:
        """Every live page's docnum grouped by book: (docnums, starts), book n's pages `docnums[starts[n]:starts[n + 1]]`.

        Books by ordinal (`books()` order), pages ascending. Once per snapshot, in O(pages)
        with numpy from the columns `book_ordinals` reads; afterwards `docs_of` answers from
        it instead of asking Whoosh per book, which cost milliseconds for each book a
        collection search counts on its own (#20). One book's search does not build it.
        """
        with self._lock:
            found = self._pages_by_book
        if found is not None:
            return found
        ordinals = self.book_ordinals()
        live = ordinals >= 0
        with self._io:
            if self.searcher is not None:
                books = np.fromiter(self.searcher.document_numbers(kind="book"), np.int64)
                live[books[books < len(live)]] = False
                for leaf, base in self.searcher.reader().leaf_readers():
                    deleted = leaf.deleted_docs_set
                    if deleted:
                        live[np.fromiter(deleted, np.int64, len(deleted)) + base] = False
        docnums = np.flatnonzero(live).astype(np.int64)
        owners = ordinals[docnums]
        order = np.argsort(owners, kind="stable")  # docnums ascending within each book
        docnums = docnums[order]
        starts = np.searchsorted(owners[order], np.arange(len(self.books()) + 1)).astype(np.int64)
        with self._lock:
            self._pages_by_book = (docnums, starts)
        return docnums, starts

    def rank(self) -> array[int]:
        """rank[docnum]: the document's place in reading order (book id, canvas index)."""
        with self._lock:
            rank = self._ranks
        if rank is None:
            keys = self.book_and_canvas()
            places = [0] * len(keys)
            for place, docnum in enumerate(sorted(range(len(keys)), key=keys.__getitem__)):
                places[docnum] = place
            rank = array("q", places)  # an array: nothing in it for the garbage collector to walk
            with self._lock:
                self._ranks = rank
        return rank

    def book_ordinals(self) -> np.ndarray:
        """ordinals[docnum]: the place of the document's book in `books()` (by id), -1 for none.

        Lets ranking.py sum hits per book with numpy instead of a Python pass per page.
        """
        with self._lock:
            found = self._ordinals
        if found is None:
            places = self._places()
            keys = self.book_and_canvas()
            found = np.fromiter((places.get(book, -1) for book, _ in keys), np.int64, count=len(keys))
            with self._lock:
                self._ordinals = found
        return found

    def rank_array(self) -> np.ndarray:
        """`rank()` seen as a numpy array (no copy), to order many docnums at once."""
        return np.frombuffer(self.rank(), dtype=np.int64)

    @_serialized
    def book_and_canvas(self) -> list[tuple[str, int]]:
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

    def near_terms(self, word: str, distance: int) -> list[tuple[str, int]]:
        """Index terms within `distance` edits of `word` as (term, edits), closest first, then alphabetical.

        Each segment's terms are searched through its NearTerms (near_terms.py), built on
        first use and kept across snapshots, or, while the segments hold few terms together,
        through one NearTerms of their union (`near_terms_over`, kept for that set of
        segments); the answer is kept for this snapshot.
        """
        if self.searcher is None or not word or distance < 0:
            return []
        return self.cached(
            ("near", word, distance), lambda: self._near_terms(word, distance), lambda found: 80 * len(found)
        )

    def _near_terms(self, word: str, distance: int) -> list[tuple[str, int]]:
        assert self.searcher is not None
        with self._io:
            segments = [(reader, reader.segment()) for reader, _ in self.searcher.reader().leaf_readers()]
        live = [(f"{segment.segment_id()}:text", reader) for reader, segment in segments if segment is not None]
        parts = [near_terms_of(key, functools.partial(self._segment_terms, reader)) for key, reader in live]
        union = near_terms_over([key for key, _ in live], parts)
        if union is not None:  # one lookup for every segment (few terms in all)
            return union.within(word, distance)
        best: dict[str, int] = {}
        for near in parts:
            for term, edits in near.within(word, distance):
                best[term] = min(edits, best.get(term, edits))
        return sorted(best.items(), key=lambda item: (item[1], item[0]))

    @_serialized
    def _segment_terms(self, reader: Any) -> list[str]:
        """Every `text` term of one segment, in term order."""
        return [term.decode() if isinstance(term, bytes) else term for term in reader.lexicon("text")]

    @_serialized
    def pages_holding(self, terms: Sequence[str], enough: int) -> int:
        """Pages holding each of `terms`, summed (a page counted once per term); stops past `enough`.

        From the term dictionary only (no posting is read): what counting every page would read.
        """
        if self.searcher is None:
            return 0
        reader = self.searcher.reader()
        total = 0
        for term in terms:
            total += int(reader.doc_frequency("text", term))
            if total >= enough:
                break
        return total

    def term_counts(self, terms: Sequence[str], book_id: str | None) -> dict[str, int]:
        """Occurrences of each term in one book, or in the whole index."""
        if self.searcher is None:
            return {}
        if book_id is None:
            return self._index_counts(terms)
        counts: dict[str, int] = {}
        for term in terms:
            total = int(self.count_arrays([term], book_id, "text")[1].sum())
            if total:
                counts[term] = total
        return counts

    @_serialized
    def _index_counts(self, terms: Sequence[str]) -> dict[str, int]:
        assert self.searcher is not None
        reader = self.searcher.reader()
        return {t: int(reader.frequency("text", t)) for t in terms if ("text", t) in reader}

    # -- what counting.py counts with ------------------------------------------

    @property
    def has_pairs(self) -> bool:
        """Whether the index has the `common_pairs` field (indexes made before it do not)."""
        return self.searcher is not None and PAIRS_FIELD in self.searcher.schema

    # Each read below holds the I/O lock for one term only: a long search lets the
    # others' reads in between its own (#16: one costly query held it for seconds).

    @_serialized
    def term_arrays(
        self, term: str, field: str = "text", *, positions: bool = False, book_id: str | None = None
    ) -> TermArrays:
        """Every posting of `term` in `field` as arrays (postings.term_arrays), in one book or all.

        For one book only the posting blocks around its pages are read.
        """
        assert self.searcher is not None
        reader = self.searcher.reader()
        if book_id is None:
            return postings.term_arrays(reader, term, field, positions=positions)
        docs = self.docs_of(book_id)
        if not docs:
            return TermArrays.empty(positions)
        if len(self._directories) >= DIRECTORY_TERMS:
            self._directories.clear()  # a long-lived snapshot's memory stays bounded
        arrays = postings.term_arrays(
            reader, term, field, positions=positions, within=(docs[0], docs[-1]), directories=self._directories
        )
        return arrays.select(self.in_book(arrays.ids, book_id))

    @_serialized
    def blocks(self, term: str, field: str = "text", book_id: str | None = None) -> list[postings.Block]:
        """The posting blocks of `term` (postings.blocks); for one book, those around its pages (ids not filtered)."""
        assert self.searcher is not None
        within = None
        if book_id is not None:
            docs = self.docs_of(book_id)
            if not docs:
                return []
            within = (docs[0], docs[-1])
        return list(postings.blocks(self.searcher.reader(), term, field, within))

    @_serialized
    def postings_among(
        self, term: str, wanted: Sequence[int], *, positions: bool
    ) -> dict[int, tuple[int, list[int] | None]]:
        """docnum -> (frequency, positions or None) of `term` on the `wanted` pages (postings.postings_among)."""
        assert self.searcher is not None
        return postings.postings_among(self.searcher.reader(), term, wanted, positions=positions)

    def decode_positions(self, value: bytes | None) -> list[int]:
        """The positions held by a raw posting value of the `text` field."""
        assert self.searcher is not None
        decoded: list[int] = self.searcher.schema["text"].format.decode_positions(value)
        return decoded

    def in_book(self, ids: np.ndarray, book_id: str) -> np.ndarray:
        """Boolean mask of the docnums in `ids` that are pages of `book_id`."""
        docs = self.docs_of(book_id)
        if not docs:
            return np.zeros(len(ids), bool)
        if docs[-1] - docs[0] + 1 == len(docs):  # a book's pages are usually one run of docnums
            return (ids >= docs[0]) & (ids <= docs[-1])
        return np.isin(ids, np.asarray(docs, np.int64))

    def count_arrays(
        self,
        terms: Sequence[str],
        book_id: str | None,
        field: str = "text",
        check: Callable[[], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(docnums ascending, occurrences of any of `terms` there) in `field`, over one book or all.

        `check` is called before each term is read (a search's time budget).
        """
        ids, counts, _ = self.occurrence_arrays(terms, book_id, field, check)
        return ids, counts

    def occurrence_arrays(
        self,
        terms: Sequence[str],
        book_id: str | None,
        field: str = "text",
        check: Callable[[], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`count_arrays`, and how many of `terms` each of those pages holds, from the same reads.

        A prefix needs the pages holding two of its terms (counting.py's shared positions,
        #21); reading each term's postings again for them made a book's prefix search 1.26x
        the CPU it took before (docs/benchmarks.md).
        """
        empty = np.zeros(0, np.int64)
        if self.searcher is None:
            return empty, empty, empty
        parts = []
        for term in dict.fromkeys(terms):
            if check is not None:
                check()
            parts.append(self.term_arrays(term, field, book_id=book_id))
        if not parts:
            return empty, empty, empty
        ids = np.concatenate([p.ids for p in parts])
        counts = np.concatenate([p.counts for p in parts])
        if len(parts) == 1:
            return ids, counts, np.ones(len(ids), np.int64)
        # A prefix: pages holding several of its terms are summed.
        ids, inverse = np.unique(ids, return_inverse=True)
        counts = np.bincount(inverse, weights=counts, minlength=len(ids)).astype(np.int64)
        return ids, counts, np.bincount(inverse, minlength=len(ids)).astype(np.int64)

    def reading_order(self, ids: np.ndarray) -> np.ndarray:
        """Indices that put the docnums `ids` in reading order."""
        return np.argsort(self.rank_array()[ids], kind="stable")

    def in_reading_order(self, docnums: Iterable[int]) -> list[int]:
        """docnums sorted by book id, then canvas index."""
        rank = self.rank()
        return sorted(docnums, key=rank.__getitem__)

    # -- pages ---------------------------------------------------------------

    def page(self, docnum: int) -> PageRecord:
        """The stored words and tokens of a matched page (decoded once per snapshot, LRU)."""
        return self._remember(self._pages, docnum, lambda: self._read_page(docnum), page_weight)

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
        docnum = self.searcher.document_number(key=document_key(book_id, canvas_index))
        return None if docnum is None else self.page(docnum)

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # closes the searcher once, however often it is called
