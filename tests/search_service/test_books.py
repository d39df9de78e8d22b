"""The book-level answer's line pictures (#20): drawn from each page's own image, not the whole manifest.

A page keeps its canvas's image when it is indexed, so `/api/search` no longer decodes each
shown book's manifest; pages written before that still draw their pictures from the
manifest, alone or beside new ones in a union of indexes (#22), and every answer is the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.index.records import BookRecord
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store
from search_service.search.books import BookPage, canvas_images, search_books
from search_service.search.query import parse_query
from tests.search_service.conftest import Corpus

QUERIES = ("de", '"de la"', "pérou", "es*", "the")
VERSIONS = {"fish": 3, "stanford": 2, "folder": 3}


def _write(store: Store, corpus: Corpus, book_ids: tuple[str, ...], keep_images: bool) -> None:
    """The corpus's books into `store`; without `keep_images`, their pages as written before #20."""
    for book_id in book_ids:
        manifest = corpus.manifests[book_id]
        pages = corpus.records[book_id]
        if not keep_images:
            pages = [dataclasses.replace(page, image=None) for page in pages]
        manifest_id = manifest.get("id") or manifest["@id"]
        record = BookRecord(
            id=book_id,
            label=book_id,
            manifest_id=manifest_id,
            version=VERSIONS[book_id],
            source=manifest_id,
            manifest=manifest,
            page_count=len(pages),
        )
        store.replace_book(record, pages)


def _answers(snapshot: Snapshot) -> list[BookPage]:
    return [search_books(snapshot, parse_query(q), 0, 10, 3) for q in QUERIES]


@pytest.fixture
def manifest_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ids of the books whose manifest a search decodes."""
    read: list[str] = []
    original = Snapshot.manifest

    def counted(self: Snapshot, book_id: str) -> dict[str, Any] | None:
        read.append(book_id)
        return original(self, book_id)

    monkeypatch.setattr(Snapshot, "manifest", counted)
    yield read


def test_each_page_keeps_the_image_its_manifest_declares(snapshot: Snapshot, corpus: Corpus) -> None:
    """What makes the answers the same: the image kept with a page is the one the manifest gives its canvas."""
    for book_id in VERSIONS:
        book = snapshot.book(book_id)
        assert book is not None
        from_manifest = canvas_images(snapshot, book)
        assert from_manifest, book_id  # every test book has images
        for written in corpus.records[book_id]:
            page = snapshot.page_of(book_id, written.canvas_index)
            assert page is not None and page.image is not None
            assert dict(page.image) == from_manifest.get(page.canvas_index, {})


def test_line_pictures_come_from_the_pages_and_no_manifest_is_decoded(
    tmp_path: Path, corpus: Corpus, manifest_reads: list[str]
) -> None:
    store = Store(tmp_path / "new")
    _write(store, corpus, tuple(VERSIONS), keep_images=True)
    snap = store.snapshot()
    answers = _answers(snap)
    pictures = [hit.picture for page in answers for book in page.books for hit in book.first_hits]
    assert pictures and all(picture is not None for picture in pictures)
    assert {book.book.id for page in answers for book in page.books} == set(VERSIONS)
    assert manifest_reads == []


def test_pages_written_before_keep_their_pictures_from_the_manifest(
    tmp_path: Path, corpus: Corpus, manifest_reads: list[str]
) -> None:
    """An index written before #20 answers exactly as before, alone and in a union with a new index."""
    new = Store(tmp_path / "new")
    _write(new, corpus, tuple(VERSIONS), keep_images=True)
    old = Store(tmp_path / "old")
    _write(old, corpus, tuple(VERSIONS), keep_images=False)
    expected = _answers(new.snapshot())
    assert manifest_reads == []
    assert _answers(old.snapshot()) == expected
    assert set(manifest_reads) == set(VERSIONS)  # the fallback was taken, once per book and snapshot
    assert len(manifest_reads) == len(VERSIONS)

    # Restricted books live in other indexes (#22): old pages in one part, new in the other.
    old_part, new_part = Store(tmp_path / "old-part"), Store(tmp_path / "new-part")
    _write(old_part, corpus, ("fish",), keep_images=False)
    _write(new_part, corpus, ("stanford", "folder"), keep_images=True)
    manifest_reads.clear()
    union = Snapshot.union([old_part.snapshot(), new_part.snapshot()], generation=1)
    assert _answers(union) == expected
    assert manifest_reads == ["fish"]


def test_folder_books_pages_keep_the_image_their_written_manifest_declares(indexed_books: Any) -> None:
    """A folder book's canvases read their files, its manifest declares the served images: the same service."""
    data_dir, _ = indexed_books
    snap = Store(data_dir).snapshot()
    for book in snap.books():
        from_manifest = canvas_images(snap, book)
        pages = [snap.page(docnum) for docnum in snap.docs_of(book.id)]
        assert pages and from_manifest, book.id
        for page in pages:
            assert page.image is not None and page.image.get("service")
            assert dict(page.image) == from_manifest[page.canvas_index]
