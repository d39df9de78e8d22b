"""The book-level answer to a query over every book: the matching books best first, with counts and first hits (#13).

What a discovery layer, or a reader who does not yet know which book to open, asks:
which of our books talk about this, where, and how much. One `BookPage` holds a page of
books in rank order (indexer/index/ranking.py; the same order as the collection-wide
Search 2.0 and 1.0 answers), each with its number of hits and of pages with hits (the
`total` its own search service gives), and its first few hits in reading order with
their snippet, canvas and boxes, and a picture of the printed line each is on (a region
of the page image on the book's own IIIF Image service).

Knows no output format: `discovery.py` writes it as JSON (`/api/search`),
`results_page.py` as the HTML results page (`/search`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from indexer.errors import IndexerError
from indexer.index.counting import Deadline, Plan
from indexer.index.ranking import CorpusStats, Ranked, RankedBook
from indexer.index.records import BookRecord, PageRecord
from indexer.index.snapshot import Snapshot
from indexer.sources import read_manifest_v2, read_manifest_v3
from ocr.model import Box
from search_service.search.hits import Hit, page_hits_of, plan_query, rank_collection, warm_collection_columns
from search_service.search.image_links import fitted_size, padded, region_url
from search_service.search.paging import Paged
from search_service.search.query import Query

#: The picture of a hit's line fits this box (pixels): a line of a book page, readable on a phone.
LINE_IMAGE_BOX = (800, 80)
#: Room around the line in its picture, as a share of the line's height.
LINE_PADDING = 0.2


@dataclass(frozen=True, slots=True)
class LinePicture:
    """The printed line a hit starts on, as a region of the page image.

    `region` is in canvas units; `url` asks the image service for it fitted into
    LINE_IMAGE_BOX (it may start with BASE_URL_MARKER, like folder books' URLs);
    `size` is the picture's size in pixels; `mark` is where the matched words are in
    it, as fractions (left, top, width, height) of the picture.
    """

    region: tuple[int, int, int, int]
    url: str
    size: tuple[int, int]
    mark: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class BookHit:
    """One of a book's first hits, with its page's label and the picture of its line."""

    hit: Hit
    page_label: str
    picture: LinePicture | None


@dataclass(frozen=True, slots=True)
class BookResult:
    """One matching book: its place (1-based), score, hits, pages with hits and first hits."""

    rank: int
    book: BookRecord
    score: float
    hits: int
    pages: int
    first_hits: tuple[BookHit, ...]


@dataclass(frozen=True, slots=True)
class BookPage(Paged):
    """One page of books: `books[0]` is book number `start` (0-based) of `total_books`.

    `total_exact` is False when `total_books` and `total_hits` are lower bounds (#20).
    """

    books: tuple[BookResult, ...]
    total_books: int
    total_hits: int
    start: int
    size: int
    total_exact: bool = True

    @property
    def items(self) -> int:
        return self.total_books


def search_books(
    snapshot: Snapshot,
    query: Query,
    start: int,
    size: int,
    hits_per_book: int,
    time_limit: float | None = None,
    corpus: CorpusStats | None = None,
    exact_total: bool = False,
) -> BookPage:
    """Books `start`..`start + size` of those matching `query`, best first, with their first hits.

    Counting and ranking are shared with the collection-wide Search services (one cached
    `Ranked` per query and snapshot), so the counts here are theirs. Raises
    QueryTooCostly past `time_limit` seconds. `corpus`: the whole collection's stats when
    this index is one shard of it (the scores are then the one index's). Only the books up
    to this page are counted page by page, so the totals may be lower bounds
    (`total_exact` False); `exact_total` counts every page of every book for exact ones.
    """
    plan = plan_query(snapshot, query)
    if plan is None:
        return BookPage((), 0, 0, start, size)
    depth = None if exact_total else (start + size, 0)
    warm_collection_columns(snapshot)  # the index's once-per-snapshot cost, outside the query's time limit
    ranked = rank_collection(snapshot, plan, Deadline(time_limit), corpus, depth)
    return book_page(snapshot, plan, ranked, start, size, hits_per_book)


def book_page(snapshot: Snapshot, plan: Plan, ranked: Ranked, start: int, size: int, hits_per_book: int) -> BookPage:
    """Books `start`..`start + size` of a ranking, with their first `hits_per_book` hits and its totals."""
    results: list[BookResult] = []
    for place, ranked_book in enumerate(ranked.books(start, start + size), start=start + 1):
        record = snapshot.book(ranked_book.book_id)
        if record is None:
            continue  # the ranking and the book list come from one snapshot: cannot happen
        first = _first_hits(snapshot, plan, ranked, ranked_book, record, hits_per_book)
        results.append(BookResult(place, record, ranked_book.score, ranked_book.hits, ranked_book.pages, tuple(first)))
    return BookPage(tuple(results), ranked.total_books, ranked.total, start, size, ranked.total_exact)


def _first_hits(
    snapshot: Snapshot, plan: Plan, ranked: Ranked, book: RankedBook, record: BookRecord, wanted: int
) -> list[BookHit]:
    """The book's first `wanted` hits in reading order, each with its line's picture."""
    found: list[BookHit] = []
    if wanted <= 0:
        return found
    for i in range(book.start, book.end):
        if ranked.counts[i] == 0:
            continue
        page = snapshot.page(ranked.docnums[i])
        image = page.image
        if image is None:  # a page written before #20 kept its image: the manifest has it
            image = canvas_images(snapshot, record).get(page.canvas_index)
        for hit in page_hits_of(page, plan):
            found.append(BookHit(hit, page.label, line_picture(page, hit, image)))
            if len(found) >= wanted:
                return found
    return found


def canvas_images(snapshot: Snapshot, book: BookRecord) -> Mapping[int, Mapping[str, Any]]:
    """Canvas index -> its painting image (`ImageRef.service_fields()`), from the stored manifest, once per snapshot.

    Only for pages written before #20, which do not keep their image (`PageRecord.image`):
    it decodes the whole manifest, ~14 ms for a 347-canvas book. Read with the indexer's
    own manifest readers, so the canvases are numbered as the pages were when indexed. A
    manifest they cannot read any more gives no pictures.
    """

    def compute() -> dict[int, dict[str, Any]]:
        manifest = snapshot.manifest(book.id)
        if not manifest:
            return {}
        read = read_manifest_v3 if book.version == 3 else read_manifest_v2
        try:
            parsed = read(manifest, book.source, book.id)
        except IndexerError:
            return {}
        return {canvas.index: canvas.image.service_fields() for canvas in parsed.canvases if canvas.image is not None}

    return snapshot.cached(("canvas images", book.id), compute, lambda found: 300 * len(found))


def line_picture(page: PageRecord, hit: Hit, image: Mapping[str, Any] | None) -> LinePicture | None:
    """The picture of the printed line the hit starts on, its matched words marked; None without an image service."""
    if image is None or not hit.matches:
        return None
    match = hit.matches[0]
    line = _line_box(page, match.first_word, match.last_word)
    canvas = (page.width, page.height)
    region = padded(line, canvas, LINE_PADDING)
    url = region_url(image, canvas, region, LINE_IMAGE_BOX)
    if url is None:
        return None
    x, y, w, h = region
    box = match.box
    mark = (
        max(0.0, (box.x - x) / w),
        max(0.0, (box.y - y) / h),
        min(1.0, box.w / w),
        min(1.0, box.h / h),
    )
    return LinePicture(region, url, fitted_size(region, canvas, image, LINE_IMAGE_BOX), mark)


def _line_box(page: PageRecord, first: int, last: int) -> Box:
    """The box of every word on the printed line of words first..last (words of a line are consecutive)."""
    boxes = page.boxes
    line = boxes[5 * first + 4]
    count = len(page.texts)
    while first > 0 and boxes[5 * (first - 1) + 4] == line:
        first -= 1
    while last + 1 < count and boxes[5 * (last + 1) + 4] == line:
        last += 1
    xs = boxes[5 * first : 5 * last + 5 : 5]
    ys = boxes[5 * first + 1 : 5 * last + 5 : 5]
    ws = boxes[5 * first + 2 : 5 * last + 5 : 5]
    hs = boxes[5 * first + 3 : 5 * last + 5 : 5]
    x0, y0 = min(xs), min(ys)
    x1 = max(x + w for x, w in zip(xs, ws, strict=True))
    y1 = max(y + h for y, h in zip(ys, hs, strict=True))
    return Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))
