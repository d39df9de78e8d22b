"""bench/bulk_collection.py's collection written by an older checkout, in its own index format (#20).

    PYTHONPATH=WORKTREE .venv/bin/python bench/bulk_collection_before.py --worktree WORKTREE \
        --pages 300000 --books-per-commit 250 --out DIR

An index written by today's code does not open with the code before #20 (its schema pickles
fields that code does not know), so measuring the old collection search against the new one
on the same books needs the books written twice. This script runs on the old code (the
worktree first on PYTHONPATH): it indexes the seed book with the worktree's own
`index-manifest --ocr existing`, then writes the same books as bench/bulk_collection.py
(`copy_of`'s seeded runs of the seed's pages, the same ids) through the old Store's writer,
N books a commit, merging nothing, into DIR/single. Only the old code's APIs are used.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO))  # bench.common; the worktree's indexer comes first (PYTHONPATH)

from bench.common import PERU_HOCR, hocr_manifest, split_hocr_pages, write_json  # noqa: E402
from indexer.index.postings_codec import ColumnarCodec  # noqa: E402
from indexer.index.records import BookRecord, PageRecord  # noqa: E402
from indexer.index.schema import PAIRS_FIELD, document_key, pairs_text  # noqa: E402
from indexer.index.store import Store  # noqa: E402

SEED = 20  # bench/bulk_collection.py's: the same books


def seed_book(out: Path, worktree: Path) -> tuple[BookRecord, dict, list[PageRecord]]:
    data_dir = out / "seed"
    if not (data_dir / "index").exists():
        pages = split_hocr_pages(PERU_HOCR, out / "seed-pages")
        with tempfile.TemporaryDirectory() as tmp:
            manifest = write_json(Path(tmp) / "peru.json", hocr_manifest(pages, "https://example.org/bulk/seed"))
            options = ["--ocr", "existing", "--id", "seed", "--data-dir", str(data_dir), "--quiet"]
            env = dict(os.environ, PYTHONPATH=str(worktree))
            subprocess.run([str(REPO / ".venv/bin/index-manifest"), str(manifest), *options], check=True, env=env)
    snapshot = Store(data_dir).snapshot()
    book = snapshot.books()[0]
    manifest = snapshot.manifest(book.id) or {}
    records = sorted((snapshot.page(d) for d in snapshot.docs_of(book.id)), key=lambda r: r.canvas_index)
    return book, manifest, records


def copy_of(n: int, book: BookRecord, manifest: dict, pages: list[PageRecord]) -> tuple[BookRecord, list[PageRecord]]:
    """Book n as bench/bulk_collection.py cuts it, in the old records (its own copy_of fills fields they lack).

    Written again rather than imported: with the worktree first on PYTHONPATH, `bench` is the old
    checkout's package, which has no bulk_collection.py (and its records no `image`).
    """
    rng = random.Random(SEED * 1_000_003 + n)
    length = rng.randint(60, len(pages))
    first = rng.randrange(len(pages))
    chosen = [pages[(first + i) % len(pages)] for i in range(length)]
    book_id, manifest_id = f"b{n:06d}", f"https://example.org/bulk/{n}"
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
        )
        for i, p in enumerate(chosen)
    ]
    items = manifest.get("items", [])
    canvases = [
        dict(items[p.canvas_index] if p.canvas_index < len(items) else {}, id=r.canvas_id)
        for p, r in zip(chosen, records, strict=True)
    ]
    copy = dict(manifest, id=manifest_id, label={"fr": [f"Histoire du Pérou, partie {n}"]}, items=canvases)
    fields = {
        "id": book_id,
        "label": f"Histoire du Pérou, partie {n}",
        "manifest_id": manifest_id,
        "version": book.version,
        "source": manifest_id,
        "manifest": copy,
        "canvas_count": len(records),
        "page_count": len(records),
        "word_count": sum(len(r.texts) for r in records),
        "language": book.language,
        "indexed_at": time.time(),
        "first_image": book.first_image,
    }
    known = BookRecord.__dataclass_fields__
    return BookRecord(**{k: v for k, v in fields.items() if k in known}), records


def write_books(store: Store, batch: list[tuple[BookRecord, list[PageRecord]]]) -> None:
    """The old Store.replace_book's documents for several books, one commit, no merge."""
    ix = store._open_for_write()
    writer = ix.writer(timeout=0, compound=False, codec=ColumnarCodec(), limitmb=2048)
    with_pairs = PAIRS_FIELD in writer.schema
    for book, pages in batch:
        writer.delete_by_term("book", book.id)
        writer.add_document(
            key=document_key(book.id),
            kind="book",
            book=book.id,
            canvas=0,
            data=book.to_blob(),
            manifest=book.manifest_blob(),
        )
        for page in pages:
            extra: dict[str, Any] = {PAIRS_FIELD: pairs_text(page.tokens)} if with_pairs else {}
            writer.add_document(
                key=document_key(book.id, page.canvas_index),
                kind="page",
                book=book.id,
                canvas=page.canvas_index,
                text=" ".join(page.tokens),
                data=page.to_blob(),
                **extra,
            )
    writer.commit(mergetype=lambda _writer, segments: segments)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worktree", type=Path, required=True, help="the older checkout, also first on PYTHONPATH")
    parser.add_argument("--pages", type=int, default=300_000)
    parser.add_argument("--books-per-commit", type=int, default=250)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import indexer

    if not Path(indexer.__file__).resolve().is_relative_to(args.worktree.resolve()):
        parser.error(f"put the worktree first on PYTHONPATH (indexer comes from {indexer.__file__})")
    args.out.mkdir(parents=True, exist_ok=True)
    book, manifest, pages = seed_book(args.out, args.worktree)
    store = Store(args.out / "single")
    done_books = done_pages = 0
    while done_pages < args.pages:
        started = time.perf_counter()
        batch = [copy_of(n, book, manifest, pages) for n in range(done_books, done_books + args.books_per_commit)]
        write_books(store, batch)
        done_books += len(batch)
        done_pages += sum(len(p) for _, p in batch)
        print(f"{done_pages:>9,} pages, {done_books:,} books: {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
