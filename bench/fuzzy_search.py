"""Fuzzy words (`word~`, #14): latency over the 100,000-page collection beside a prefix and an exact word,
and the near-term lookup over a vocabulary of millions of noisy OCR terms.

    .venv/bin/python bench/fuzzy_search.py [--words 200] [--terms 3000000] [--part collection|vocabulary|both]

collection: the index bench/search_latency.py builds (bench/out/search-collection, 100,283
pages; built here when missing, ~10 minutes on 2 cores). For each of `--words` words
sampled over the vocabulary's frequency ranks (four letters or more), in one process and
one run, interleaved: the exact word, its four-letter prefix (`abcd*`), and the fuzzy word
(`word~`), each a new search (a fresh snapshot per round, so no result cache answers):
the first result page of 100 hits, drawn, as the search API computes it before JSON.
Prints median and p95 per kind and the ratio fuzzy / prefix.

vocabulary: the collection repeats one book, so it has only ~7,000 terms; a real collection
of OCR'd print has millions, most of them misreadings. This part builds a vocabulary of
`--terms` distinct terms from the real words of tests/data's OCR and ground truth, with
OCR-like errors (c/e, n/u, rn/m, f/s, i/l, ...), fragments and random letters, and times
`NearTerms` (indexer/index/near_terms.py) on it: build seconds, bytes, and lookups of real
words at the default distance by length, against the same distance computed for every term
of a suitable length (what a full walk of the vocabulary costs, done in numpy).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.common import REPO, commit, machine

TEST_DATA = REPO / "tests" / "data"
COLLECTION = REPO / "bench" / "out" / "search-collection"


def collection(words: int, seed: int = 4) -> None:
    from bench.search_latency import build
    from indexer.index.near_terms import kept, kept_unions
    from indexer.index.store import Store
    from search_service.search.hits import search
    from search_service.search.query import auto_distance, parse_query

    data_dir = build("collection", books=289, repeat=1, workers=2)
    store = Store(data_dir)
    snapshot = store.snapshot()
    vocabulary = [t for letter in "abcdefghijklmnopqrstuvwxyz" for t in snapshot.expand_prefix(letter, 10**7)]
    counts = snapshot.term_counts(vocabulary, None)
    ranked = sorted((t for t in counts if len(t) >= 4 and t.isalpha()), key=lambda t: (-counts[t], t))
    # Spread over the frequency ranks, one word per four-letter stem (so every prefix is new too).
    stems: dict[str, str] = {}
    for term in ranked:
        stems.setdefault(term[:4], term)
    pool = sorted(stems.values(), key=lambda t: (-counts[t], t))
    sample = [pool[int(len(pool) * (i + 0.5) / words)] for i in range(min(words, len(pool)))]
    random.Random(seed).shuffle(sample)
    kinds = {"exact": lambda w: w, "prefix": lambda w: w[:4] + "*", "fuzzy": lambda w: w + "~"}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    hits: dict[str, list[int]] = {kind: [] for kind in kinds}
    # What a server has done before its first search: reading order, and each segment's
    # trigram index (built once per process and segment; timed here on its own), with the
    # index of their union (near_terms_over; built once per set of segments).
    snapshot.rank()
    started = time.perf_counter()
    snapshot.near_terms("warmup", 1)
    segments, terms, nbytes = kept()
    print(
        f"trigram index of the collection's {segments} segments ({terms:,} terms in all) built in "
        f"{time.perf_counter() - started:.2f} s; {nbytes / 1e6:.1f} MB ({nbytes / max(terms, 1):.0f} bytes a term)"
    )
    unions, terms, nbytes = kept_unions()
    if unions:
        print(f"  and searched through one index of their union: {terms:,} distinct terms, {nbytes / 1e6:.1f} MB")
    # Every query is new (a word, its stem and its fuzzy form once each), so no cache of results answers.
    # The order of the three kinds turns from word to word: the pages one search loads are kept
    # (decoded) for the next, which would favour whichever kind comes later.
    for n, word in enumerate(sample):
        order = list(kinds.items())
        for kind, shape in order[n % 3 :] + order[: n % 3]:
            query = parse_query(shape(word))
            started = time.perf_counter()
            found = search(snapshot, query, None, 0, 100)
            times[kind].append(time.perf_counter() - started)
            hits[kind].append(found.total)
    print(f"\ncollection: {len(sample)} words over the frequency ranks ({data_dir}); per search, ms:")
    for kind in kinds:
        ms = sorted(t * 1000 for t in times[kind])
        p95 = ms[int(len(ms) * 0.95) - 1]
        print(
            f"  {kind:7} median {statistics.median(ms):6.1f}  p95 {p95:6.1f}  mean {statistics.fmean(ms):6.1f}  "
            f"hits median {statistics.median(hits[kind]):.0f}"
        )
    ratio = statistics.median(times["fuzzy"]) / statistics.median(times["prefix"])
    print(f"  fuzzy / prefix (medians): {ratio:.2f}; distances used: {sorted({auto_distance(w) for w in sample})}")


def real_words() -> dict[str, int]:
    """Every token of tests/data's OCR files and ground truth, with its count."""
    from ocr.text import tokens

    words: dict[str, int] = {}
    files = [*TEST_DATA.rglob("*.hocr*"), *TEST_DATA.rglob("*.xml*"), *TEST_DATA.rglob("*.txt")]
    for path in sorted(files):
        data = path.read_bytes()
        text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8", "replace")
        text = re.sub(r"<[^>]+>", " ", re.sub(r'CONTENT="([^"]*)"', r" \1 ", text))
        for token in tokens(text):
            words[token] = words.get(token, 0) + 1
    return words


#: Confusions of OCR (and of Fraktur: f for long s), applied at random.
CONFUSIONS = [
    ("e", "c"), ("c", "e"), ("n", "u"), ("u", "n"), ("i", "l"), ("l", "i"), ("l", "1"), ("h", "b"),
    ("b", "h"), ("f", "s"), ("s", "f"), ("rn", "m"), ("m", "rn"), ("o", "0"), ("a", "o"), ("t", "f"),
    ("in", "m"), ("ii", "u"), ("cl", "d"), ("d", "cl"), ("e", "o"), ("r", "t"),
]  # fmt: skip
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def noisy_vocabulary(size: int, seed: int = 7) -> list[str]:
    """`size` distinct terms: the real words, their misreadings, fragments and random letters; sorted."""
    words = real_words()
    rng = random.Random(seed)
    base = [w for w in words if w.isalpha() and len(w) >= 3]
    weights = list(itertools.accumulate(words[w] for w in base))

    def misread(word: str) -> str:
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            roll = rng.random()
            if roll < 0.6:
                a, b = rng.choice(CONFUSIONS)
                places = [m.start() for m in re.finditer(re.escape(a), word)]
                if places:
                    i = rng.choice(places)
                    word = word[:i] + b + word[i + len(a) :]
                    continue
            if roll < 0.8 and len(word) > 2:
                i = rng.randrange(len(word))
                word = word[:i] + word[i + 1 :]
            else:
                i = rng.randrange(len(word) + 1)
                word = word[:i] + rng.choice(LETTERS) + word[i:]
        return word

    vocabulary = set(words)
    while len(vocabulary) < size:
        roll = rng.random()
        word = rng.choices(base, cum_weights=weights)[0]
        if roll < 0.75:
            word = misread(word)
        elif roll < 0.87:
            cut = rng.randrange(1, len(word))
            word = word[:cut] if rng.random() < 0.5 else word[cut:]
        else:
            word = "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 12)))
        vocabulary.add(word)
    return sorted(vocabulary)


def vocabulary(size: int, per_length: int = 20, seed: int = 3) -> None:
    from indexer.index.near_terms import NearTerms
    from search_service.search.query import auto_distance

    started = time.perf_counter()
    terms = noisy_vocabulary(size)
    made = time.perf_counter() - started
    started = time.perf_counter()
    near = NearTerms(terms)
    built = time.perf_counter() - started
    print(
        f"\nvocabulary: {len(terms):,} distinct terms (made in {made:.0f} s); NearTerms built in {built:.1f} s, "
        f"{near.nbytes / 1e6:.0f} MB ({near.nbytes / len(terms):.0f} bytes a term)"
    )
    rng = random.Random(seed)
    real = [t for t in real_words() if t.isalpha()]
    print("  length  distance  lookup median ms  p95 ms  near terms  full walk ms  walk / lookup")
    for length in (4, 5, 6, 7, 8, 10, 13):
        words = rng.sample([w for w in real if len(w) == length], per_length)
        distance = auto_distance(words[0])
        times, found = [], []
        for word in words:
            t0 = time.perf_counter()
            found.append(len(near.within(word, distance)))
            times.append(time.perf_counter() - t0)
        # The reference: the same distances for every term of a length within reach (no trigrams).
        lengths = near._lengths
        walks = []
        for word in words[:3]:
            t0 = time.perf_counter()
            symbols = near._word_symbols(word)
            every = np.flatnonzero(np.abs(lengths - length) <= distance)
            for at in range(0, len(every), 65_536):
                near._distances(symbols, every[at : at + 65_536], distance)
            walks.append(time.perf_counter() - t0)
        ms = sorted(t * 1000 for t in times)
        walk = statistics.median(walks) * 1000
        print(
            f"  {length:6}  {distance:8}  {statistics.median(ms):16.1f}  {ms[int(len(ms) * 0.95) - 1]:6.1f}  "
            f"{statistics.median(found):10.0f}  {walk:12.0f}  {walk / statistics.median(ms):13.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["collection", "vocabulary", "both"], default="both")
    parser.add_argument("--words", type=int, default=200, help="words asked of the collection (default 200)")
    parser.add_argument("--terms", type=int, default=3_000_000, help="size of the noisy vocabulary (default 3,000,000)")
    args = parser.parse_args()
    print(f"machine: {machine()}; commit {commit()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if args.part in ("collection", "both"):
        collection(args.words)
    if args.part in ("vocabulary", "both"):
        vocabulary(args.terms)


if __name__ == "__main__":
    main()
