"""A BookPage as the JSON of `/api/search`: the book-level answer for discovery layers (#13).

Pure dict building. Not a IIIF format: Content Search 2.0 has no place for a book's
hit count, its pages with hits, or a link that opens a viewer (docs/api.md says why),
so this is our own small JSON, documented in docs/api.md and on the OpenAPI page.
Text is plain (not HTML-escaped): escape it before putting it into a page. Every URL
is absolute, for use from another site.
"""

from __future__ import annotations

from typing import Any

from search_service.search.books import BookHit, BookPage, BookResult
from search_service.search.urls import ResultLinks, collection_url, hit_target, manifest_url, search_url, url_with
from search_service.web.viewers import viewer_link


def book_results(page: BookPage, links: ResultLinks, base: str, q: str, viewer: str) -> dict[str, Any]:
    """One page of matching books, best first (docs/api.md#book-level-search-for-discovery-layers)."""
    body: dict[str, Any] = {
        "id": links.page(page.number),
        "q": q,
        "total_books": page.total_books,
        "total_hits": page.total_hits,
        "page": page.number,
        "first": links.page(0),
        "last": links.page(page.last),
    }
    if page.prev is not None:
        body["prev"] = links.page(page.prev)
    if page.next is not None:
        body["next"] = links.page(page.next)
    body["start"] = page.start
    body["collection"] = collection_url(base)
    body["search"] = {
        "2": url_with(search_url(base, None, 2), (("q", q),)),
        "1": url_with(search_url(base, None, 1), (("q", q),)),
    }
    body["books"] = [_book(result, base, q, viewer) for result in page.books]
    return body


def _book(result: BookResult, base: str, q: str, viewer: str) -> dict[str, Any]:
    book = result.book
    manifest = manifest_url(base, book.id)
    first = hit_target(result.first_hits[0].hit, base) if result.first_hits else None
    return {
        "rank": result.rank,
        "id": book.id,
        "label": book.label or book.id,
        "manifest": manifest,
        "score": round(result.score, 4),
        "hits": result.hits,
        "pages": result.pages,
        "search": url_with(search_url(base, book.id, 2), (("q", q),)),
        "viewer": base + viewer_link(viewer, manifest, q, first),
        "first_hits": [_hit(hit, base, manifest, q, viewer) for hit in result.first_hits],
    }


def _hit(found: BookHit, base: str, manifest: str, q: str, viewer: str) -> dict[str, Any]:
    hit = found.hit
    return {
        "canvas": hit.canvas_id,
        "page_label": found.page_label,
        "xywh": [match.box.xywh for match in hit.matches],
        "text": hit.text,
        "before": hit.before,
        "after": hit.after,
        "image": found.picture.url if found.picture is not None else None,
        "viewer": base + viewer_link(viewer, manifest, q, hit_target(hit, base)),
    }
