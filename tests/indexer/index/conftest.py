"""Fixtures of the index tests: a small synthetic index (`snap`) and the real corpus (`snapshot`).

`snap`: a book of 1,553 pages, so every word spans several posting blocks, and small books
of which one is replaced and one removed (deleted documents). `corpus` and `snapshot` are
the search service's index of real OCR (tests/search_service/conftest.py), shared here.
"""

from __future__ import annotations

import pytest

from indexer.index.postings_codec import BLOCK_LIMIT
from indexer.index.records import BookRecord, PageRecord, StoredWord
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store
from tests.search_service.conftest import corpus, snapshot  # noqa: F401 (fixtures shared with the service tests)

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "and", "then", "the", "fox", "sleeps"]


def make_book(store: Store, book_id: str, pages: int, shift: int = 0) -> None:
    records = []
    for n in range(pages):
        # Pages differ in length and content, so blocks mix counts and weights.
        tokens = tuple(WORDS[(n * 7 + i + shift) % len(WORDS)] for i in range(20 + n % 23))
        words = tuple(StoredWord(t, i * 5, 10, 4, 20, 0) for i, t in enumerate(tokens))
        records.append(
            PageRecord.build(
                book_id, n, f"c{n}", str(n), 1000, 1000, words, tokens, tuple((i, i) for i in range(len(tokens)))
            )
        )
    store.replace_book(
        BookRecord(id=book_id, label=book_id, manifest_id="m", version=3, source="s", manifest={}), records
    )


def truth(snap: Snapshot, term: str) -> tuple[list[int], list[int], list[int]]:
    assert snap.searcher is not None
    ids, counts, positions = [], [], []
    for docnum in sorted(snap.searcher.document_numbers(kind="page")):
        found = [i for i, t in enumerate(snap.page(docnum).tokens) if t == term]
        if found:
            ids.append(docnum)
            counts.append(len(found))
            positions.extend(found)
    return ids, counts, positions


@pytest.fixture(scope="session")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    store = Store(tmp_path_factory.mktemp("codec"))
    make_book(store, "big", 3 * BLOCK_LIMIT + 17)  # every word spans several blocks
    for n in range(4):
        make_book(store, f"small{n}", 40, shift=n)
    make_book(store, "small1", 25, shift=5)  # replaced: its old pages are deleted documents
    store.remove_book("small2")
    return store.snapshot()
