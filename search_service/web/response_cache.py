"""Serialised search and autocomplete responses, kept per index snapshot within a byte budget.

A response is a pure function of the index snapshot, the public base URL and the
request's checked parameters (routes/search.py builds the key), so a repeated request (the next reader typing the
same word, a viewer asking again) is answered from its stored bytes and ETag
without searching, rendering or serialising again. A new snapshot (a book
added, replaced or removed) empties the cache, so nothing served is ever stale.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Hashable

#: gzip level and smallest body compressed, as the GZip middleware does for everything else.
GZIP_LEVEL = 5
GZIP_MINIMUM = 1000


class CachedBody:
    """A response body, its ETag, and its gzip form, compressed once on first demand.

    Browsers (Mirador, UV) always accept gzip: compressing a 100-hit response again for
    every request would cost more than the rest of answering it from the cache.
    """

    __slots__ = ("_gzipped", "body", "etag")

    def __init__(self, body: bytes, etag: str) -> None:
        self.body = body
        self.etag = etag
        self._gzipped: bytes | None = None

    def gzipped(self) -> bytes:
        if self._gzipped is None:  # two threads may both compress: same bytes, no harm
            self._gzipped = gzip.compress(self.body, GZIP_LEVEL, mtime=0)
        return self._gzipped

    @property
    def weight(self) -> int:
        """Bytes counted against the budget: the body and room for its gzip form (JSON: ~1/4)."""
        return len(self.body) * 5 // 4 + ENTRY_BYTES


#: What an entry costs besides its body and key: the CachedBody, the ETag, the table's node.
ENTRY_BYTES = 400


def key_bytes(key: Hashable) -> int:
    """Estimated bytes of a key made of tuples, strings, numbers and None.

    >>> key_bytes(("search", 2, "b1", "bird", None, 0, ())) > len("search") + len("b1") + len("bird")
    True
    """
    if isinstance(key, str | bytes):
        return 50 + len(key)
    if isinstance(key, tuple):
        return 40 + 8 * len(key) + sum(key_bytes(part) for part in key)
    return 32


class ResponseCache:
    """An LRU of response bodies for one index generation at a time, at most `max_bytes` in all.

    The budget counts each entry's key and bookkeeping too, not only its body.

    >>> cache = ResponseCache(1_000_000)
    >>> cache.put(7, ("/iiif/b/search/1", b"q=bird"), CachedBody(b"{}", '"e"'))
    >>> cache.get(7, ("/iiif/b/search/1", b"q=bird")).body
    b'{}'
    >>> cache.get(8, ("/iiif/b/search/1", b"q=bird")) is None  # the index changed
    True
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[CachedBody, int]] = OrderedDict()
        self._generation: int | None = None
        self._bytes = 0
        self._lock = threading.Lock()

    def _switch(self, generation: int) -> None:
        if generation != self._generation:
            self._entries.clear()
            self._bytes = 0
            self._generation = generation

    def get(self, generation: int, key: Hashable) -> CachedBody | None:
        with self._lock:
            self._switch(generation)
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, generation: int, key: Hashable, value: CachedBody) -> None:
        size = value.weight + key_bytes(key)
        if size > self.max_bytes // 8:
            return  # one huge response must not push out everything else
        with self._lock:
            self._switch(generation)
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
