"""The JSON a shard sends the front (#20): hits, books and rankings as plain dicts, and back.

A sharded collection search is answered by the front with the same renderers as a single
server (search_v1, search_v2, discovery, results_page), so a shard sends the search
logic's own objects (`Hit`, `BookResult`), not rendered answers: the front builds the
very answer one index would. Pure: no HTTP here (search_service/web/shard_client.py
sends and receives). A book travels without its manifest and image map, which no
collection answer shows.

>>> from ocr.model import Box
>>> hit = Hit("b1", 0, "https://example.org/c0", "bird", "The ", "", (Match("bird", Box(25, 0, 30, 10), 0, 1, 1),), 1, 1)
>>> hit_from_json(hit_to_json(hit)) == hit
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from indexer.index.ranking import RankedBook
from indexer.index.records import BookRecord
from ocr.model import Box
from search_service.search.books import BookHit, BookResult, LinePicture
from search_service.search.hits import Hit, Match

#: The BookRecord fields a shard sends (not `manifest` nor `images`: no collection answer reads them).
_BOOK_FIELDS = (
    "id",
    "label",
    "manifest_id",
    "version",
    "source",
    "canvas_count",
    "page_count",
    "word_count",
    "language",
    "indexed_at",
    "first_image",
)


@dataclass(frozen=True, slots=True)
class RankedEntry:
    """One book of a shard's ranking for a query: what the merge orders by, and where it came from.

    `shard` is the shard's position; `place` the book's 0-based place in that shard's own ranking.
    """

    book_id: str
    score: float
    hits: int
    pages: int
    shard: int
    place: int

    @property
    def key(self) -> tuple[float, int, str]:
        """The order of indexer/index/ranking.py: best score, then more hits, then book id."""
        return (-self.score, -self.hits, self.book_id)


def ranking_to_json(books: Sequence[RankedBook]) -> list[list[Any]]:
    """A shard's ranked books as `[id, score, hits, pages]` rows (the score as Python writes it: exact)."""
    return [[book.book_id, book.score, book.hits, book.pages] for book in books]


def ranking_from_json(rows: list[list[Any]], shard: int) -> list[RankedEntry]:
    return [
        RankedEntry(str(book_id), float(score), int(hits), int(pages), shard, place)
        for place, (book_id, score, hits, pages) in enumerate(rows)
    ]


def book_to_json(book: BookRecord) -> dict[str, Any]:
    return {name: getattr(book, name) for name in _BOOK_FIELDS}


def book_from_json(data: dict[str, Any]) -> BookRecord:
    return BookRecord(manifest={}, **{name: data[name] for name in _BOOK_FIELDS if name in data})


def hit_to_json(hit: Hit) -> dict[str, Any]:
    return {
        "book": hit.book_id,
        "canvas_index": hit.canvas_index,
        "canvas": hit.canvas_id,
        "text": hit.text,
        "before": hit.before,
        "after": hit.after,
        "matches": [
            [m.text, m.box.x, m.box.y, m.box.w, m.box.h, m.line, m.first_word, m.last_word] for m in hit.matches
        ],
        "tokens": [hit.first_token, hit.last_token],
        "near": hit.near,
    }


def hit_from_json(data: dict[str, Any]) -> Hit:
    return Hit(
        book_id=data["book"],
        canvas_index=int(data["canvas_index"]),
        canvas_id=data["canvas"],
        text=data["text"],
        before=data["before"],
        after=data["after"],
        matches=tuple(
            Match(text, Box(int(x), int(y), int(w), int(h)), int(line), int(first), int(last))
            for text, x, y, w, h, line, first, last in data["matches"]
        ),
        first_token=int(data["tokens"][0]),
        last_token=int(data["tokens"][1]),
        near=bool(data["near"]),
    )


def book_result_to_json(result: BookResult) -> dict[str, Any]:
    return {
        "rank": result.rank,
        "book": book_to_json(result.book),
        "score": result.score,
        "hits": result.hits,
        "pages": result.pages,
        "first_hits": [
            {
                "hit": hit_to_json(found.hit),
                "page_label": found.page_label,
                "picture": None
                if found.picture is None
                else {
                    "region": list(found.picture.region),
                    "url": found.picture.url,
                    "size": list(found.picture.size),
                    "mark": list(found.picture.mark),
                },
            }
            for found in result.first_hits
        ],
    }


def book_result_from_json(data: dict[str, Any], rank: int | None = None) -> BookResult:
    """The BookResult a shard sent; `rank` replaces its place in the shard by its place in the whole collection."""
    first_hits = []
    for found in data["first_hits"]:
        picture = found["picture"]
        first_hits.append(
            BookHit(
                hit_from_json(found["hit"]),
                found["page_label"],
                None
                if picture is None
                else LinePicture(
                    tuple(int(v) for v in picture["region"]),  # type: ignore[arg-type]
                    picture["url"],
                    tuple(int(v) for v in picture["size"]),  # type: ignore[arg-type]
                    tuple(float(v) for v in picture["mark"]),  # type: ignore[arg-type]
                ),
            )
        )
    return BookResult(
        rank=int(data["rank"]) if rank is None else rank,
        book=book_from_json(data["book"]),
        score=float(data["score"]),
        hits=int(data["hits"]),
        pages=int(data["pages"]),
        first_hits=tuple(first_hits),
    )
