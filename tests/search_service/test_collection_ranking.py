"""Collection search that counts only the books it shows (#20) ranks exactly as counting every page does.

A shelf of 320 small books of real OCR (the 347 pages of *Histoire du Pérou* and a few
newspaper and book pages in German, English and Italian, cut into books of 1 to 7 pages
at varied places, so books share passages and differ in length), searched for 60 queries:
the commonest words, phrases of common and rare words, prefixes, fuzzy words, several
words. Every answer of the new path (`exact_total=False`, the default) is compared with
the exhaustive one (`exact_total=True`, every page counted): the same books in the same
order with the same scores and hits, on the first page and deeper ones, for the
book-level answer and the collection-wide hits. The bounded path is also forced to run
to the end (no falling back), and an index written before book counts answers as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from indexer import paths
from indexer.index.counting import Deadline, count_pages
from indexer.index.ranking import Ranked
from indexer.index.records import BookRecord, PageRecord
from indexer.index.schema import BOOK_COUNTS_FIELD, SCHEMA
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store
from indexer.index.top_books import has_book_counts, top_books
from indexer.model import Canvas
from indexer.page_record import NO_ALTERNATIVES, AlternativePolicy, page_record
from ocr.alto import parse as parse_alto
from ocr.hocr import parse_pages
from ocr.model import Page
from search_service.search import hits as hits_module
from search_service.search.books import search_books
from search_service.search.hits import plan_query, rank_collection, search
from search_service.search.query import parse_query
from tests.conftest import read_test_file

BOOKS = 320

#: The commonest words of the shelf, phrases with them and with rare words, prefixes, fuzzy words, several words.
QUERIES = [
    "de", "la", "et", "les", "le", "des", "en", "du", "que", "a", "il", "pour", "roi", "inca", "indiens",
    "espagnols", "pizarre", "cuzco", "or", "the", "und", "die",
    '"de la"', '"et de"', '"de l"', '"a la"', '"les espagnols"', '"le roi"', '"roi de"', '"des indiens"',
    '"de pizarre"', '"la ville de"', '"il y a"', '"de la ville"', '"du perou"', '"et les"', '"pour le"',
    "de*", "pe*", "es*", "inc*", "r*", "con*", "vil*", "s*",
    "perou~", "espagnol~", "pizare~", "cusco~",
    "roi espagnols", "soleil temple", "de la", "les indiens", '"du soleil"', "ville de", "et de la",
    "roi ind*", '"de la" roi', "inca~ cuzco", "de de",
]  # fmt: skip


def _canvas(book: str, n: int, page: Page) -> Canvas:
    return Canvas(id=f"https://example.org/{book}/c{n}", index=n, label=f"p. {n + 1}", width=page.width,
                  height=page.height, image=None)  # fmt: skip


def _pages() -> list[Page]:
    hocr = Path("ocr/hocr")
    pages = parse_pages(
        read_test_file(hocr / "solr-ocrhighlighting/google1000_histoire_du_perou_1840_347pages.hocr.html")
    )
    for name in (
        "solr-ocrhighlighting/bsb00091144_hyphenation.hocr.html",
        "solr-ocrhighlighting/tesseract411_ordine_nuovo_1924_ita.hocr",
        "hocr-tools/alice_1.tesseract303.hocr",
        "mirador-textoverlay/dta_andreas_fenitschka_1898_p24.tesseract4.hocr.html",
    ):
        pages.extend(parse_pages(read_test_file(hocr / name)))
    for name in ("bnl_lunion_1860-11-30_p1_alto3.xml", "bnl_lunion_1860-11-30_p2_alto3.xml"):
        pages.append(parse_alto(read_test_file(Path("ocr/alto/solr-ocrhighlighting") / name)))
    return pages


def _write_shelf(store: Store, pages: list[Page], count: int = BOOKS, policy: AlternativePolicy | None = None) -> None:
    books = []
    for b in range(count):
        book = f"shelf-{b:03d}"
        first, size = (b * 37) % len(pages), 1 + (b * 5) % 7
        chosen = [pages[(first + k) % len(pages)] for k in range(size)]
        records: list[PageRecord] = [page_record(book, _canvas(book, n, p), p, policy) for n, p in enumerate(chosen)]
        record = BookRecord(
            id=book, label=book, manifest_id=f"https://example.org/{book}", version=3, source="test", manifest={},
            canvas_count=len(records), page_count=len(records), word_count=sum(len(r.words) for r in records),
        )  # fmt: skip
        books.append((record, records))
    # In four commits (one per book took minutes): several segments, as a real index has.
    for part in range(4):
        store.replace_books(books[part::4])


@pytest.fixture(autouse=True)
def book_counts_always(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shelf is small: by default every query would be counted on every page
    # (hits.EVERY_PAGE_BELOW); these tests are about the book-count path, so it always runs.
    monkeypatch.setattr(hits_module, "EVERY_PAGE_BELOW", 0)
    monkeypatch.setattr(hits_module, "ONE_SLOT_EVERY_PAGE_BELOW", 0)
    monkeypatch.setattr(hits_module, "SEVERAL_UNITS_BY_BOOK_COUNTS", True)


@pytest.fixture(scope="module")
def shelf_pages() -> list[Page]:
    return _pages()


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory, shelf_pages: list[Page]) -> Iterator[Snapshot]:
    store = Store(tmp_path_factory.mktemp("shelf"))
    _write_shelf(store, shelf_pages)
    snap = store.snapshot()
    yield snap
    snap.close()


@pytest.fixture(scope="module")
def plain_shelf(tmp_path_factory: pytest.TempPathFactory, shelf_pages: list[Page]) -> Iterator[Snapshot]:
    """A smaller shelf of the same pages without alternative readings, as books from linked OCR have none."""
    store = Store(tmp_path_factory.mktemp("plain-shelf"))
    _write_shelf(store, shelf_pages, BOOKS // 4, NO_ALTERNATIVES)
    snap = store.snapshot()
    yield snap
    snap.close()


@pytest.fixture(scope="module")
def old_shelf(tmp_path_factory: pytest.TempPathFactory, shelf_pages: list[Page]) -> Iterator[Snapshot]:
    """The same shelf in an index written before book counts: its schema has no such field."""
    data_dir = tmp_path_factory.mktemp("old-shelf")
    schema = SCHEMA.copy()
    schema.remove(BOOK_COUNTS_FIELD)
    paths.index_dir(data_dir).mkdir(parents=True)
    whoosh_index.create_in(str(paths.index_dir(data_dir)), schema)
    store = Store(data_dir)
    _write_shelf(store, shelf_pages)
    snap = store.snapshot()
    yield snap
    snap.close()


def _books(ranked: Ranked, stop: int | None = None) -> list[tuple[str, float, int, int]]:
    return [(b.book_id, b.score, b.hits, b.pages) for b in ranked.books(0, stop)]


def _pages_of(ranked: Ranked, books: int) -> list[tuple[int, int]]:
    end = int(ranked.ends[books - 1]) if books else 0
    return list(zip(ranked.docnums[:end], ranked.counts[:end], strict=True))


def test_the_shelf_is_big_and_varied(shelf: Snapshot) -> None:
    assert has_book_counts(shelf)
    assert len(shelf.books()) == BOOKS
    assert len({b.page_count for b in shelf.books()}) == 7
    assert len(QUERIES) >= 50


@pytest.mark.parametrize("q", QUERIES)
def test_book_answers_are_the_exhaustive_ones(shelf: Snapshot, q: str) -> None:
    query = parse_query(q)
    every = search_books(shelf, query, 0, 400, 3, exact_total=True)
    assert every.total_exact
    assert every.total_books > 0, q  # every query finds something on the shelf
    ranked = [(r.book.id, r.score, r.hits, r.pages) for r in every.books]
    for start, size in ((0, 10), (10, 10), (0, 1), (40, 20), ((every.total_books - 1) // 10 * 10, 10)):
        page = search_books(shelf, query, start, size, 3)
        assert [(r.book.id, r.score, r.hits, r.pages) for r in page.books] == ranked[start : start + size], (q, start)
        assert [[h.hit for h in r.first_hits] for r in page.books] == [
            [h.hit for h in r.first_hits] for r in every.books[start : start + size]
        ]
        if page.total_exact:
            assert (page.total_books, page.total_hits) == (every.total_books, every.total_hits), q
        else:
            # A lower bound, and never one that hides the next page.
            assert start + size < page.total_books <= every.total_books, q
            assert page.total_hits <= every.total_hits
        assert (page.next is not None) == (start + size < every.total_books), (q, start)
        plan = plan_query(shelf, query) or ()
        if len(plan) == 1 and len(plan[0]) == 1 and len(plan[0][0]) == 1:
            assert page.total_exact, q  # one word: exact from the book counts


@pytest.mark.parametrize("q", QUERIES)
def test_collection_hits_are_the_exhaustive_ones(shelf: Snapshot, q: str) -> None:
    query = parse_query(q)
    every = search(shelf, query, None, 0, 10_000, exact_total=True)
    for start, size in ((0, 100), (100, 100), (0, 7), ((len(every.hits) - 1) // 100 * 100, 100)):
        page = search(shelf, query, None, start, size)
        assert page.hits == every.hits[start : start + size], (q, start)
        assert (page.next is not None) == (start + size < every.total), (q, start)
        if page.total_exact:
            assert page.total == every.total
        else:
            assert start + size < page.total <= every.total, q


@pytest.mark.parametrize("q", QUERIES)
def test_the_bounded_path_counted_to_the_end_ranks_exactly(shelf: Snapshot, q: str) -> None:
    """Without falling back to counting every page, however many books the bounds leave."""
    plan = plan_query(shelf, parse_query(q))
    assert plan is not None
    every = rank_collection(shelf, plan, Deadline(None))
    for books, hits in ((10, 0), (1, 0), (0, 250), (40, 0)):
        top = top_books(shelf, plan, books, hits, Deadline(None), term_overhead=0, patience=float("inf"))
        assert top is not None
        held = len(top)
        assert held >= min(books, len(every)), q
        assert _books(top) == _books(every, held), (q, books, hits)
        assert _pages_of(top, held) == _pages_of(every, held)
        assert top.total_books <= every.total_books and top.total <= every.total
        if top.total_exact:
            assert (top.total_books, top.total) == (every.total_books, every.total)


def test_bounds_skip_books_on_a_phrase_with_a_rare_word(shelf: Snapshot) -> None:
    plan = plan_query(shelf, parse_query('"les espagnols"'))
    assert plan is not None
    top = top_books(shelf, plan, 10, 0, Deadline(None), term_overhead=0, patience=float("inf"))
    every = rank_collection(shelf, plan, Deadline(None))
    assert top is not None and not top.total_exact
    assert len(top) < len(every)


def test_an_index_without_book_counts_answers_as_before(old_shelf: Snapshot, shelf: Snapshot) -> None:
    assert not has_book_counts(old_shelf)
    for q in ("de", '"de la"', "pe*", "roi espagnols", "perou~"):
        query = parse_query(q)
        plan = plan_query(old_shelf, query)
        assert plan is not None
        assert top_books(old_shelf, plan, 10, 0, Deadline(None)) is None
        old = search_books(old_shelf, query, 0, 10, 3)
        new = search_books(shelf, query, 0, 10, 3, exact_total=True)
        assert old.total_exact
        assert [(r.book.id, r.score, r.hits, r.pages) for r in old.books] == [
            (r.book.id, r.score, r.hits, r.pages) for r in new.books
        ]
        assert (old.total_books, old.total_hits) == (new.total_books, new.total_hits)


def test_an_index_knows_whether_two_terms_may_share_a_position(shelf: Snapshot, plain_shelf: Snapshot) -> None:
    # The shelf's German pages have their umlauts written out as alternatives (#21); the plain one has none.
    assert shelf.shares_positions()
    assert not plain_shelf.shares_positions()


@pytest.mark.parametrize("q", ["de*", "s*", "es*", "con*", "perou~", "pizare~"])
def test_without_alternatives_a_prefix_ranks_from_exact_book_counts(plain_shelf: Snapshot, q: str) -> None:
    """Every book marked as holding no alternative: a prefix's book counts are its hits, totals exact (#20)."""
    plan = plan_query(plain_shelf, parse_query(q))
    assert plan is not None
    every = rank_collection(plain_shelf, plan, Deadline(None))
    top = top_books(plain_shelf, plan, 10, 100, Deadline(None), term_overhead=0, patience=float("inf"))
    assert top is not None and top.total_exact, q
    assert (top.total_books, top.total) == (every.total_books, every.total), q
    assert _books(top) == _books(every, len(top)), q
    page = search(plain_shelf, parse_query(q), None, 0, 100)
    assert page.total_exact and page.hits == search(plain_shelf, parse_query(q), None, 0, 100, exact_total=True).hits


def test_a_book_with_alternatives_among_plain_ones_makes_the_index_share_positions(
    tmp_path: Path, shelf_pages: list[Page]
) -> None:
    store = Store(tmp_path)
    _write_shelf(store, shelf_pages, 8, NO_ALTERNATIVES)
    assert not store.snapshot().shares_positions()
    dta = next(p for p in shelf_pages if any("ä" in w.text for line in p.lines for w in line.words))
    book = "with-alternatives"
    record = page_record(book, _canvas(book, 0, dta), dta)
    assert record.alternatives  # its umlauts written out (#21)
    store.replace_book(
        BookRecord(id=book, label=book, manifest_id=f"https://example.org/{book}", version=3, source="test",
                   manifest={}, canvas_count=1, page_count=1, word_count=len(record.words)),
        [record],
    )  # fmt: skip
    snapshot = store.snapshot()
    assert snapshot.shares_positions()
    # Within one book: only the book with alternatives; the plain books count prefixes without positions.
    assert snapshot.shares_positions(book) and not snapshot.shares_positions("shelf-000")
    for q in ("de*", "s*", "con*"):
        plan = plan_query(snapshot, parse_query(q))
        assert plan is not None
        for book_id in ("shelf-000", "shelf-003", book):
            fast = count_pages(snapshot, plan, book_id)
            with_positions = count_pages(_SharingEverywhere(snapshot), plan, book_id)  # type: ignore[arg-type]
            assert fast == with_positions, (q, book_id)


class _SharingEverywhere:
    """A snapshot that says every book may share positions: counting then reads positions in every book."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def shares_positions(self, book_id: str | None = None) -> bool:
        return True

    def __getattr__(self, name: str) -> object:
        return getattr(self._snapshot, name)
