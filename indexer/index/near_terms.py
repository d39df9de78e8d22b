"""Index terms within a small edit distance of a word: the lookup behind `word~` (#14).

Whoosh's `FuzzyTerm` compares the word with every term of the vocabulary (its multi-segment
reader has no faster path), and the vocabulary of OCR'd print is large: misreadings
make most distinct terms of a big collection (bench/fuzzy_search.py measures 3 million).
`NearTerms` holds one segment's terms with a trigram index, in numpy arrays:

- candidates: a term within `d` edits of a word of `n` letters shares at least
  `n + 2 - 3d` of the word's `n + 2` trigrams (each padded with two marks at each end,
  and one edit touches at most three trigrams), and its length is within `d` of `n`.
  The trigram lists of the word are read and counted at once (numpy);
- then the Levenshtein distance of each candidate, computed for all of them together,
  one numpy step per cell of the word's row (no Python loop per candidate).

Segments never change, so a segment's `NearTerms` is built once (from its term list, in
numpy) and kept across snapshots (`near_terms_of`), within a byte budget. When the filter
cannot cut (a word of 4 letters at distance 2), every term of a suitable length is a candidate,
which is still one numpy pass.

A lookup costs about the same few dozen numpy calls whatever the size of a segment, so a
snapshot of many segments pays them once per segment. While the segments hold few terms together
(`UNION_TERMS`), `near_terms_over` builds one `NearTerms` of the union of their terms (decoded
from the segments' own, no index read) and keeps it for that set of segments (a new commit
makes a new set, built again on its first fuzzy search: ~0.5 s at the bound); past
that, each segment is searched on its own as before. A term's distance depends on the term only,
so either way the answer is the same.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, pairwise

import numpy as np

#: Bytes of segments' `NearTerms` kept per process (LRU): 70 bytes a term of noisy OCR (bench/fuzzy_search.py), so ~3.6 million terms.
NEAR_TERMS_BYTES = 256_000_000
#: Segments holding at most this many terms together (counted per segment) are searched through one
#: NearTerms of their union (`near_terms_over`): ~0.5 s to build at the bound (docs/benchmarks.md).
UNION_TERMS = 250_000
#: Bytes of those unions kept per process (LRU): an older set of segments is dropped as new ones come.
UNION_BYTES = 64_000_000
#: Past this many candidates the distances are computed in slices (bounded temporary memory).
_CHUNK = 65_536
#: Symbol of the padding marks around a term; real characters are 1..alphabet size.
_PAD = 0
#: Trigram codes stay below this, so that code * (terms + 1) + term fits an int64.
_GRAM_LIMIT = 2**40


class NearTerms:
    """One sorted list of terms, searchable by edit distance.

    >>> near = NearTerms(["freiheit", "freyheit", "frciheit", "frei", "heit", "wahrheit"])
    >>> near.within("freiheit", 2)
    [('freiheit', 0), ('frciheit', 1), ('freyheit', 1)]
    >>> near.within("frey", 1)
    [('frei', 1)]
    """

    def __init__(self, terms: Sequence[str]) -> None:
        self.count = len(terms)
        lengths = np.fromiter((len(t) for t in terms), np.int32, self.count)
        points = np.frombuffer("".join(terms).encode("utf-32-le"), "<u4")
        # Characters as small symbols (1..A), so that a trigram is one integer: (a*B + b)*B + c.
        self._alphabet, symbols = np.unique(points, return_inverse=True)
        self._base = len(self._alphabet) + 2  # + the pad, and a symbol for characters in no term
        self._symbols = (symbols + 1).astype(np.uint16 if self._base < 2**16 else np.int32)
        del points, symbols
        self._starts = np.zeros(self.count + 1, np.int64)
        np.cumsum(lengths, out=self._starts[1:])
        self._lengths = lengths
        # (trigram, term) pairs as one sorted int64 each, every pair once: a term's trigrams count as a set.
        keyed = np.sort(self._keyed_grams(lengths))
        if len(keyed):  # a segment may hold no term at all (its words all deleted, #22)
            keyed = keyed[np.concatenate(([True], keyed[1:] != keyed[:-1]))]
        grams = keyed // (self.count + 1)
        self._gram_terms = (keyed - grams * (self.count + 1)).astype(np.int32)
        del keyed
        self._gram_starts = np.flatnonzero(np.concatenate(([True], grams[1:] != grams[:-1])) if len(grams) else grams)
        self._gram_keys = grams[self._gram_starts]
        del grams
        self._gram_ends = np.append(self._gram_starts[1:], len(self._gram_terms))
        # Terms by length, to take every term of a length range when the trigrams cannot cut.
        self._by_length = np.argsort(lengths, kind="stable").astype(np.int32)
        self._length_starts = np.searchsorted(lengths[self._by_length], np.arange(int(lengths.max(initial=0)) + 2))

    @property
    def nbytes(self) -> int:
        """Bytes held: numpy arrays only (terms are decoded from their symbols when found)."""
        arrays = (
            self._alphabet,
            self._symbols,
            self._starts,
            self._lengths,
            self._gram_keys,
            self._gram_starts,
            self._gram_terms,
            self._gram_ends,
            self._by_length,
            self._length_starts,
        )
        return sum(a.nbytes for a in arrays)

    def _gram(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Trigrams of symbols as int64; folded below 2**40 for huge alphabets (a looser filter, never a miss)."""
        base = np.int64(self._base)
        grams: np.ndarray = (a.astype(np.int64) * base + b) * base + c
        return grams if self._base**3 < _GRAM_LIMIT else grams % _GRAM_LIMIT

    def _keyed_grams(self, lengths: np.ndarray) -> np.ndarray:
        """Every padded trigram of every term (n + 2 for a term of n letters) as trigram * (count + 1) + term."""
        count = self.count
        # Each term padded with two marks at each end: n + 4 symbols, n + 2 trigrams.
        padded_starts = self._starts[:-1] + 4 * np.arange(count, dtype=np.int64)
        padded = np.full(int(self._starts[-1]) + 4 * count, _PAD, np.int32)
        shift = np.repeat(padded_starts + 2 - self._starts[:-1], lengths)
        padded[shift + np.arange(len(self._symbols), dtype=np.int64)] = self._symbols
        del shift
        per_term = lengths.astype(np.int64) + 2
        first_gram = np.zeros(count + 1, np.int64)
        np.cumsum(per_term, out=first_gram[1:])
        at = np.repeat(padded_starts - first_gram[:-1], per_term)
        at += np.arange(int(first_gram[-1]), dtype=np.int64)
        keyed = self._gram(padded[at], padded[at + 1], padded[at + 2])
        del at, padded
        keyed *= count + 1
        keyed += np.repeat(np.arange(count, dtype=np.int64), per_term)
        return keyed

    def term(self, number: int) -> str:
        """Term number `number` (in the order given), decoded from its symbols."""
        symbols = self._symbols[self._starts[number] : self._starts[number + 1]].astype(np.int64) - 1
        return "".join(map(chr, self._alphabet[symbols].tolist()))

    def terms(self) -> list[str]:
        """Every term, in the order given (decoded at once).

        >>> NearTerms(["frei", "heit", "wahrheit"]).terms()
        ['frei', 'heit', 'wahrheit']
        """
        if not self.count:
            return []
        text = self._alphabet[self._symbols.astype(np.int64) - 1].astype("<u4").tobytes().decode("utf-32-le")
        starts = self._starts.tolist()
        return [text[a:b] for a, b in pairwise(starts)]

    def _word_symbols(self, word: str) -> np.ndarray:
        points = np.frombuffer(word.encode("utf-32-le"), "<u4")
        at = np.searchsorted(self._alphabet, points)
        at = np.minimum(at, len(self._alphabet) - 1) if len(self._alphabet) else at
        known = len(self._alphabet) > 0
        found = known & (self._alphabet[at] == points) if known else np.zeros(len(points), bool)
        # A character no term holds gets a symbol of its own (it matches nothing).
        return np.where(found, at + 1, self._base - 1).astype(np.int32)

    def within(self, word: str, distance: int, limit: int | None = None) -> list[tuple[str, int]]:
        """Terms at most `distance` edits (Levenshtein) from `word`, as (term, edits), closest first.

        Ties in alphabetical order. With `limit`, only the candidates' first `limit`
        matches by that order are returned (the bound of a query slot).
        """
        n = len(word)
        if not self.count or not n:
            return []
        symbols = self._word_symbols(word)
        candidates = self._candidates(symbols, distance)
        if not len(candidates):
            return []
        found: list[tuple[str, int]] = []
        for at in range(0, len(candidates), _CHUNK):
            part = candidates[at : at + _CHUNK]
            edits = self._distances(symbols, part, distance)
            keep = edits <= distance
            found.extend((self.term(i), int(e)) for i, e in zip(part[keep].tolist(), edits[keep].tolist(), strict=True))
        found.sort(key=lambda item: (item[1], item[0]))
        return found if limit is None else found[:limit]

    def _candidates(self, symbols: np.ndarray, distance: int) -> np.ndarray:
        """Term numbers that may be within `distance`: length within it, and enough shared trigrams."""
        n = len(symbols)
        lo, hi = max(0, n - distance), n + distance
        top = len(self._length_starts) - 1
        by_length = self._by_length[self._length_starts[min(lo, top)] : self._length_starts[min(hi + 1, top)]]
        padded = np.concatenate(([_PAD, _PAD], symbols, [_PAD, _PAD])).astype(np.int64)
        grams = np.unique(self._gram(padded[:-2], padded[1:-1], padded[2:]))
        need = len(grams) - 3 * distance
        if need <= 0:
            return np.sort(by_length)
        at = np.minimum(np.searchsorted(self._gram_keys, grams), len(self._gram_keys) - 1)
        at = at[self._gram_keys[at] == grams]
        slices = [self._gram_terms[self._gram_starts[a] : self._gram_ends[a]] for a in at.tolist()]
        if len(slices) < need:
            return np.zeros(0, np.int32)
        pooled = np.concatenate(slices)
        if len(pooled) > self.count // 8:
            counts = np.bincount(pooled, minlength=self.count)
            shared = np.flatnonzero(counts >= need)
        else:
            terms, counts = np.unique(pooled, return_counts=True)
            shared = terms[counts >= need]
        lengths = self._lengths[shared]
        return shared[(lengths >= lo) & (lengths <= hi)].astype(np.int64)

    def _distances(self, symbols: np.ndarray, candidates: np.ndarray, distance: int) -> np.ndarray:
        """Levenshtein distance of `symbols` to each candidate term (capped at distance + 1)."""
        lengths = self._lengths[candidates].astype(np.int64)
        width = int(lengths.max())
        # The candidates' symbols in rows, padded with -1 (equal to no symbol).
        columns = np.arange(width, dtype=np.int64)
        inside = columns[None, :] < lengths[:, None]
        at = np.where(inside, self._starts[candidates][:, None] + columns[None, :], 0)
        rows = np.where(inside, self._symbols[at].astype(np.int32), -1)
        k = len(candidates)
        steps = np.arange(width + 1, dtype=np.int32)
        previous = np.broadcast_to(steps, (k, width + 1)).copy()
        current = np.empty_like(previous)
        cap = distance + 1
        for i, symbol in enumerate(symbols.tolist(), start=1):
            current[:, 0] = i
            mismatch = (rows != symbol).astype(np.int32)
            # Substitution or match, and deletion, for every column at once; then insertions
            # along the row: cell j = min over l <= j of (cell l + j - l), a running minimum.
            np.minimum(previous[:, :-1] + mismatch, previous[:, 1:] + 1, out=current[:, 1:])
            current -= steps
            np.minimum.accumulate(current, axis=1, out=current)
            current += steps
            np.minimum(current, cap, out=current)
            previous, current = current, previous
        edits: np.ndarray = previous[np.arange(k), lengths]
        return edits


class _Budget:
    """Segments' NearTerms by segment id, least recently used dropped past the byte budget."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, NearTerms] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def get(self, key: str, build: Callable[[], NearTerms]) -> NearTerms:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one build per segment, however many searches ask at once
            with self._lock:
                found = self._entries.get(key)
            if found is None:
                found = build()
                with self._lock:
                    self._entries[key] = found
                    self._building.pop(key, None)
                    total = sum(entry.nbytes for entry in self._entries.values())
                    while total > self.max_bytes and len(self._entries) > 1:
                        _, dropped = self._entries.popitem(last=False)
                        total -= dropped.nbytes
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def kept(self) -> tuple[int, int, int]:
        """Segments kept, their terms, their bytes."""
        with self._lock:
            entries = list(self._entries.values())
        return len(entries), sum(e.count for e in entries), sum(e.nbytes for e in entries)


_SEGMENTS = _Budget(NEAR_TERMS_BYTES)
_UNIONS = _Budget(UNION_BYTES)


def kept() -> tuple[int, int, int]:
    """The segments' NearTerms this process keeps: (segments, terms, bytes)."""
    return _SEGMENTS.kept()


def kept_unions() -> tuple[int, int, int]:
    """The unions of segments' terms this process keeps (`near_terms_over`): (unions, terms, bytes)."""
    return _UNIONS.kept()


def near_terms_of(segment_key: str, terms: Callable[[], Iterable[str]]) -> NearTerms:
    """The NearTerms of one index segment, built from `terms()` (sorted) on first use, then kept."""
    return _SEGMENTS.get(segment_key, lambda: NearTerms(list(terms())))


def near_terms_over(keys: Sequence[str], parts: Sequence[NearTerms]) -> NearTerms | None:
    """One NearTerms for the segments `keys` (their NearTerms `parts`), or None past `UNION_TERMS`.

    Built from the union of the parts' terms on first use for that set of segments, then kept.

    >>> union = near_terms_over(["a", "b"], [NearTerms(["frei", "heit"]), NearTerms(["frey", "heit"])])
    >>> union.within("frei", 1) if union else None
    [('frei', 0), ('frey', 1)]
    """
    if len(parts) == 1:
        return parts[0]
    if not parts or sum(part.count for part in parts) > UNION_TERMS:
        return None
    return _UNIONS.get(
        "\n".join(sorted(keys)), lambda: NearTerms(sorted(set(chain.from_iterable(part.terms() for part in parts))))
    )
