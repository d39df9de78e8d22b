"""Build a large collection quickly from real OCR: the data behind the library-scale measurements (#20).

    .venv/bin/python bench/bulk_collection.py --pages 500000 [--shards 3] [--out bench/out/bulk]

The seed is the 347-page hOCR book of bench/ingest_existing.py (Histoire du Pérou, 1840),
indexed once by `index-manifest --ocr existing`, so its page records are exactly what a
real run makes. Each book of the collection is then a run of that book's pages (a seeded
random length from 60 to 347 pages and a random first page, wrapping around): books of
different lengths and counts, as in a library, not one book repeated (where every book
ties). Books are written 25 to a commit with `Store.replace_books`, as a backlog loaded
at once would be (bench/scale_growth.py measures one commit per book, through the CLI).

With `--shards N` the same books are also written into N shard data directories, each
book into the shard `indexer.shards` places it in, so one index and N shards hold the
same collection. A stopped run resumes where its last commit ended (`progress.json`).
Checkpoint copies are not made: measure at a size, then build on.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PERU_HOCR, REPO, commit, hocr_manifest, split_hocr_pages, write_json
from indexer.index.records import BookRecord, PageRecord
from indexer.index.store import Store

OUT = REPO / "bench" / "out" / "bulk"
BOOKS_PER_COMMIT = 25
SEED = 20


def seed_book(out: Path) -> tuple[BookRecord, dict, list[PageRecord]]:
    """The seed book's record, manifest and pages, indexed once by the real CLI."""
    data_dir = out / "seed"
    if not (data_dir / "index").exists():
        pages = split_hocr_pages(PERU_HOCR, out / "seed-pages")
        with tempfile.TemporaryDirectory() as tmp:
            manifest = write_json(Path(tmp) / "peru.json", hocr_manifest(pages, "https://example.org/bulk/seed"))
            options = ["--ocr", "existing", "--id", "seed", "--data-dir", str(data_dir), "--quiet"]
            subprocess.run([str(REPO / ".venv/bin/index-manifest"), str(manifest), *options], check=True)
    snapshot = Store(data_dir).snapshot()
    book = snapshot.books()[0]
    manifest = snapshot.manifest(book.id) or {}
    records = [snapshot.page(d) for d in snapshot.docs_of(book.id)]
    records.sort(key=lambda r: r.canvas_index)
    return book, manifest, records


def copy_of(n: int, book: BookRecord, manifest: dict, pages: list[PageRecord]) -> tuple[BookRecord, list[PageRecord]]:
    """Book n: a run of the seed's pages of a seeded random length, with its own id and manifest id."""
    rng = random.Random(SEED * 1_000_003 + n)
    length = rng.randint(60, len(pages))
    first = rng.randrange(len(pages))
    chosen = [pages[(first + i) % len(pages)] for i in range(length)]
    book_id = f"b{n:06d}"
    manifest_id = f"https://example.org/bulk/{n}"
    records = [
        PageRecord(
            book_id,
            i,
            f"{manifest_id}/canvas/{i + 1}",
            str(i + 1),
            p.width,
            p.height,
            p.texts,
            p.boxes,
            p.tokens,
            p.spans,
            image=p.image,  # the seed canvas's image, which the copied manifest canvas declares (#20)
        )
        for i, p in enumerate(chosen)
    ]
    canvases = [dict(c, id=r.canvas_id) for c, r in zip(_canvases(manifest, chosen), records, strict=True)]
    copy = dict(manifest, id=manifest_id, label={"fr": [f"Histoire du Pérou, partie {n}"]}, items=canvases)
    record = BookRecord(
        id=book_id,
        label=f"Histoire du Pérou, partie {n}",
        manifest_id=manifest_id,
        version=book.version,
        source=manifest_id,
        manifest=copy,
        canvas_count=len(records),
        page_count=len(records),
        word_count=sum(len(r.texts) for r in records),
        language=book.language,
        indexed_at=time.time(),
        first_image=book.first_image,
    )
    return record, records


def _canvases(manifest: dict, chosen: list[PageRecord]) -> list[dict]:
    items = manifest.get("items", [])
    return [items[p.canvas_index] if p.canvas_index < len(items) else {"id": p.canvas_id} for p in chosen]


def keep_segments(writer: Any, segments: list[Any]) -> list[Any]:
    """A Whoosh merge policy that merges nothing."""
    return segments


def place(book_id: str, count: int) -> int:
    """The shard of a book: rendezvous hashing over the positions, the rule of indexer/shards.py."""
    return max(range(count), key=lambda i: hashlib.sha256(f"{i}:{book_id}".encode()).digest())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500_000, help="build until the collection holds this many pages")
    parser.add_argument("--shards", type=int, default=0, help="also write the books into N shard data directories")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--only", choices=("single", "shards"), help="build one side only (two processes build both on two cores)"
    )
    parser.add_argument(
        "--checkpoints", default="", help="page counts at which to copy the data directories (e.g. 100000,300000)"
    )
    parser.add_argument(
        "--without-page-images",
        action="store_true",
        help="write the pages as an index written before #20 holds them (no image: /api/search reads the manifest)",
    )
    parser.add_argument(
        "--books-per-commit",
        type=int,
        default=BOOKS_PER_COMMIT,
        help="books written per commit, so per segment (nothing is merged): fewer, bigger segments, as a merged index has",
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    book, manifest, pages = seed_book(out)
    progress_path = out / f"progress-{args.only or 'both'}.json"
    checkpoints = sorted(int(c) for c in args.checkpoints.split(",") if c)
    progress = json.loads(progress_path.read_text()) if progress_path.exists() else {"books": 0, "pages": 0, "log": []}
    # A commit of 25 books holds ~1.5 million postings: sorted in memory, not through temporary files.
    # No merges: Whoosh merges a growing index by reading every posting back in Python
    # (one merge took 290 CPU seconds at 100,000 pages); the collection is measured as
    # one segment per commit, which costs searches a little per segment, never less.
    options: dict[str, Any] = {"writer_mb": 2048, "merge_policy": keep_segments}
    single = Store(out / "single", **options) if args.only != "shards" else None
    names = [f"shard{i}" for i in range(args.shards)] if args.only != "single" else []
    shards = [Store(out / name, **options) for name in names]
    while progress["pages"] < args.pages:
        started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
        batch = [
            copy_of(n, book, manifest, pages)
            for n in range(progress["books"], progress["books"] + args.books_per_commit)
        ]
        if args.without_page_images:
            batch = [(record, [dataclasses.replace(p, image=None) for p in records]) for record, records in batch]
        if single is not None:
            single.replace_books(batch)
        for i, store in enumerate(shards):
            mine = [item for item in batch if place(item[0].id, len(shards)) == i]
            if mine:
                store.replace_books(mine)
        progress["books"] += len(batch)
        progress["pages"] += sum(len(p) for _, p in batch)
        seconds = time.perf_counter() - started
        used = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu
        progress["log"].append(
            {"pages": progress["pages"], "seconds": round(seconds, 2), "cpu": round(used, 2), "commit": commit()}
        )
        progress_path.write_text(json.dumps(progress))
        print(
            f"{progress['pages']:>9,} pages, {progress['books']:,} books: {seconds:.1f} s ({used:.1f} s CPU)",
            flush=True,
        )
        for checkpoint in checkpoints:
            if progress["pages"] - sum(len(p) for _, p in batch) < checkpoint <= progress["pages"]:
                # A copy to measure later while the build goes on.
                for name in (["single"] if single is not None else []) + names:
                    shutil.copytree(out / name, out / f"{name}-at-{checkpoint}", dirs_exist_ok=True)
                print(f"copied at {progress['pages']:,} pages (checkpoint {checkpoint:,})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
