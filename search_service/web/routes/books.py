"""The book-level answer over every book: `/api/search` (JSON for discovery layers) and `/search` (the results page).

Both ask `books.search_books` (the same counts and rank order as `/iiif/search/{2,1}`)
in a search thread, with the limits of #16: `q` as the Search routes check it, the
query time limit, costly shapes in their own threads. The JSON is kept in the response
cache; the page is rendered per request (it is `no-cache`, like every page), from the
same cached counting.

    /api/search?q=&page=&viewer=      JSON, docs/api.md
    /search?q=&page=&viewer=          HTML, the home page's search box
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from indexer.errors import QueryTooCostly
from search_service.errors import BadQuery, Overloaded, ServiceError
from search_service.search.books import BookPage, search_books
from search_service.search.query import parse_query
from search_service.search.urls import ResultLinks
from search_service.web.deps import SearchContext, SearchContextDep
from search_service.web.discovery import book_results
from search_service.web.pages import esc, render_page
from search_service.web.responses import encode_json
from search_service.web.results_page import DEFAULT_VIEWER, results_html, search_form
from search_service.web.routes.search import build_in_thread, cached_json, page_number, required_q
from search_service.web.viewers import VIEWERS

router = APIRouter(tags=["discovery"])

Q = Annotated[str | None, Query(description='Words, "quoted phrases" and prefix* (docs/query-language.md).')]
PageParam = Annotated[str | None, Query(description="Page of books, 0-based.")]
ViewerParam = Annotated[
    str | None,
    Query(description=f"Viewer the links open: {', '.join(VIEWERS)} (default {DEFAULT_VIEWER})."),
]


def _viewer(value: str | None) -> str:
    if value is None or value == "":
        return DEFAULT_VIEWER
    if value not in VIEWERS:
        raise BadQuery(f"viewer must be one of {', '.join(VIEWERS)}", parameter="viewer")
    return value


def _books(ctx: SearchContext, text: str, number: int) -> BookPage:
    snapshot, settings, _ = ctx
    query = parse_query(text, max_length=settings.max_query_length)
    size = settings.books_page_size
    return search_books(
        snapshot, query, number * size, size, settings.hits_per_book, time_limit=settings.query_time_limit
    )


@router.get(
    "/api/search",
    summary="Books matching a query, best first (for discovery layers)",
    description="The book-level answer over every book: each matching book in rank order with its hit count, "
    "pages with hits, first hits (snippet, canvas, boxes, a picture of the line) and links that open it in a "
    "viewer at a hit. Same counts and order as /iiif/search/2. Shape: docs/api.md.",
)
async def api_search(
    request: Request, ctx: SearchContextDep, q: Q = None, page: PageParam = None, viewer: ViewerParam = None
) -> Response:
    _, settings, base = ctx
    text = required_q(q, settings)
    query = parse_query(text, max_length=settings.max_query_length)
    number = page_number(page)
    chosen = _viewer(viewer)
    params: list[tuple[str, str]] = [("q", text)]
    if viewer:
        params.append(("viewer", chosen))
    links = ResultLinks(f"{base}/api/search", tuple(params))

    def build() -> bytes:
        return encode_json(book_results(_books(ctx, text, number), links, base, text, chosen), base)

    key = ("books", text, number, chosen, bool(viewer))
    return await cached_json(request, ctx, None, key, query.may_be_costly, build)


@router.get("/search", response_class=HTMLResponse, summary="Results page: books matching a query, best first")
async def search_page(
    request: Request, ctx: SearchContextDep, q: Q = None, page: PageParam = None, viewer: ViewerParam = None
) -> Response:
    """The home page's search over every book as a page of books, each hit a picture of its line."""
    _, settings, base = ctx
    chosen = viewer if viewer in VIEWERS else DEFAULT_VIEWER
    if q is None or not q.strip():
        body = (
            '<nav class="bar"><a class="home" href="/">iiif-search</a></nav><main class="page results-page">'
            f"<h1>Search every book</h1>{search_form('', chosen, autofocus=True)}</main>"
        )
        return render_page("Search every book", body, body_class="results")
    try:
        text = required_q(q, settings)
        query = parse_query(text, max_length=settings.max_query_length)
        number = page_number(page)
        # The search threads' lanes and their wait (#16), as /iiif/search and /api/search.
        found = await build_in_thread(request, settings, query.may_be_costly, lambda: _books(ctx, text, number))
        if found is None:
            return Response(status_code=499)  # the client left while its search waited
    except Overloaded:
        raise  # 503 with Retry-After, as every search
    except (ServiceError, QueryTooCostly) as exc:
        message = exc.message if isinstance(exc, ServiceError) else str(exc)
        body = (
            '<nav class="bar"><a class="home" href="/">iiif-search</a></nav><main class="page results-page">'
            f"<h1>Search every book</h1>{search_form(q[: settings.max_query_length], chosen)}"
            f'<p class="notice" role="alert">{esc(message)}</p></main>'
        )
        return render_page("Search every book", body, status_code=400, body_class="results")
    title = f"{q.strip()} · search every book"
    page_html = results_html(found, text, chosen, base)
    return render_page(title, page_html, body_class="results")
