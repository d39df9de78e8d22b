"""Indexes written before the index package (indexer/index/, #11) still open, read and take new books."""

from __future__ import annotations

import shutil
from pathlib import Path

from indexer.index.records import BookRecord, PageRecord, StoredWord
from indexer.index.schema import document_key
from indexer.index.store import Store

OLD = Path(__file__).with_name("written_before_the_index_package")


def test_an_index_from_before_the_index_package_opens_and_takes_a_new_book(tmp_path: Path) -> None:
    """Regression: its table of contents names indexer.postings_codec, and opening it raised ModuleNotFoundError."""
    # The fixture is what it claims: its table of contents pickles the codec by its old path.
    toc = (OLD / "index" / "_MAIN_1.toc").read_bytes()
    assert b"indexer.postings_codec" in toc and b"indexer.index.postings_codec" not in toc
    shutil.copytree(OLD, tmp_path / "data", ignore=shutil.ignore_patterns("README.md"))
    store = Store(tmp_path / "data")
    snap = store.snapshot()
    book = snap.book("old")
    assert book is not None and book.page_count == 1
    page = snap.page_of("old", 0)
    assert page is not None and page.tokens == ("histoire", "du", "perou")
    pages, counts = snap.count_arrays(["perou"], "old")
    assert snap.searcher is not None
    assert (pages.tolist(), counts.tolist()) == ([snap.searcher.document_number(key=document_key("old", 0))], [1])
    words = [StoredWord("Lima", 10, 10, 60, 20, 0)]
    new = PageRecord.build(
        book_id="new",
        canvas_index=0,
        canvas_id="https://example.org/new/canvas/1",
        label="1",
        width=1000,
        height=1500,
        words=words,
        tokens=["lima"],
        token_words=[(0, 0)],
    )
    record = BookRecord(
        id="new",
        label="new",
        manifest_id="https://example.org/new/manifest",
        version=3,
        source="test",
        manifest={},
        canvas_count=1,
        page_count=1,
        word_count=1,
        language="fra",
        images={},
        indexed_at=0.0,
    )
    store.replace_book(record, [new])
    snap = Store(tmp_path / "data").snapshot()
    assert [b.id for b in snap.books()] == ["new", "old"]
    assert snap.page_of("old", 0) is not None and snap.page_of("new", 0) is not None


def test_an_old_index_takes_a_book_with_alternatives_and_both_answer(tmp_path: Path) -> None:
    """#21: a book with alternative readings goes into an index written before them; old pages still answer."""
    shutil.copytree(OLD, tmp_path / "data", ignore=shutil.ignore_patterns("README.md"))
    store = Store(tmp_path / "data")
    new = PageRecord.build(
        book_id="new",
        canvas_index=0,
        canvas_id="https://example.org/new/canvas/1",
        label="1",
        width=1000,
        height=1500,
        words=[StoredWord("Frciheit", 10, 10, 60, 20, 0), StoredWord("Lima", 80, 10, 60, 20, 0)],
        tokens=["frciheit", "lima"],
        token_words=[(0, 0), (1, 1)],
        alternatives=[("freiheit", 0)],
    )
    record = BookRecord(
        id="new", label="new", manifest_id="m", version=3, source="test", manifest={}, canvas_count=1, page_count=1
    )
    store.replace_book(record, [new])
    snap = Store(tmp_path / "data").snapshot()
    assert snap.searcher is not None
    new_doc = snap.searcher.document_number(key=document_key("new", 0))
    old_doc = snap.searcher.document_number(key=document_key("old", 0))
    for word in ("freiheit", "frciheit"):  # the alternative, and the printed word
        pages, counts = snap.count_arrays([word], None)
        assert (pages.tolist(), counts.tolist()) == ([new_doc], [1])
    pages, _ = snap.count_arrays(["perou"], None)
    assert pages.tolist() == [old_doc]
    # The alternative is at the printed word's position: "freiheit lima" is a phrase on the page.
    alternative = snap.term_arrays("freiheit", positions=True)
    printed = snap.term_arrays("frciheit", positions=True)
    assert alternative.positions is not None and alternative.positions.tolist() == [0]
    assert printed.positions is not None and printed.positions.tolist() == [0]
    page = snap.page_of("new", 0)
    assert page is not None and page.alternatives == ("freiheit",) and list(page.alternative_positions) == [0]
