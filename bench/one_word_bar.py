"""Where one word's collection search should take the book counts: both paths, for words across frequencies (#20).

    .venv/bin/python bench/one_word_bar.py DATA_DIR [--repeat 2]

For a data directory of bench/bulk_collection.py's collection (the *Histoire du Pérou*
books), prints one JSON line per word: the pages holding it and the CPU ms of its first
page of hits over every book (`hits.search`, 100 hits), through the book counts and by
counting every page, best of `--repeat`, each on a fresh snapshot with its per-snapshot
columns read. The crossing sets `hits.ONE_SLOT_EVERY_PAGE_BELOW` (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale_growth import _fresh_snapshot
from search_service.search import hits
from search_service.search.query import parse_query

#: Words of the seed book, from nearly every page to a few hundred pages per 100,000.
WORDS = (
    *("de", "la", "les", "pour", "balboa", "cuzco", "indiens", "soleil", "guerre", "ville", "espagnols"),
    *("or", "temple", "roi", "chef", "mer", "lima", "fleuve", "pizarre", "inca"),
)


def cost(data_dir: Path, word: str, bar: int, repeat: int) -> float:
    """CPU ms of the word's first page of hits with the one-slot bar set to `bar` (0: always the book counts)."""
    hits.ONE_SLOT_EVERY_PAGE_BELOW = bar
    best = float("inf")
    for _ in range(repeat):
        snapshot = _fresh_snapshot(data_dir)
        try:
            started = time.process_time()
            hits.search(snapshot, parse_query(word), None, 0, 100)
            best = min(best, time.process_time() - started)
        finally:
            snapshot.close()
    return round(best * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    snapshot = _fresh_snapshot(args.data_dir)
    reader = snapshot.searcher.reader()
    segments = len(list(reader.leaf_readers()))
    holding = sorted(((int(reader.doc_frequency("text", w)), w) for w in WORDS), reverse=True)
    print(json.dumps({"pages": sum(b.page_count for b in snapshot.books()), "segments": segments}), flush=True)
    snapshot.close()
    for pages, word in holding:
        row = {"word": word, "pages_holding": pages}
        row["book_counts_ms"] = cost(args.data_dir, word, 0, args.repeat)
        row["every_page_ms"] = cost(args.data_dir, word, 10**12, args.repeat)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
