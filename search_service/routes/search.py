"""Content Search 2.0 and 1.0, and their autocomplete, for one book or across every book.

Thin handlers: check the parameters, `parse_query` -> `hits.search` -> `search_v1` or
`search_v2`, then `encode_json`, the body kept in the response cache for the next
identical request. Parameters are plain strings so that odd input gets our 400 with
a JSON body rather than a validation error.

    /iiif/{book}/search/{1,2}?q=&motivation=&page=     one book's hits
    /iiif/search/{1,2}?q=&motivation=&page=            every book's hits, each naming its manifest
    /iiif/{book}/autocomplete/{1,2}?q=&motivation=&min=
    /iiif/autocomplete/{1,2}?q=&motivation=&min=
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from indexer.index.snapshot import Snapshot
from search_service.deps import SearchContext, SearchContextDep
from search_service.errors import BadQuery, UnknownBook
from search_service.hits import HitPage, search, terms
from search_service.query import parse_query
from search_service.response_cache import GZIP_MINIMUM, CachedBody, ResponseCache
from search_service.responses import encode_json, etag_for, json_body_response
from search_service.search_v1 import annotation_list, term_list
from search_service.search_v2 import annotation_page, term_page
from search_service.services import (
    PRESENTATION2_CONTEXT,
    SEARCH1_CONTEXT,
    SEARCH2_CONTEXT,
    ManifestRef,
    ResultLinks,
    autocomplete_url,
    manifest_url,
    search_url,
    url_with,
)
from search_service.settings import Settings

router = APIRouter(tags=["search"])

Version = Literal[1, 2]

#: Search 2.0 §4.1.1 / 1.0 §3.2.1 parameters we accept but do not implement: reported in `ignored`.
IGNORED_PARAMETERS = ("date", "user")
#: The motivation values our annotations answer to: 2.0 `highlighting`, 1.0 `sc:painting`.
_MOTIVATIONS: dict[int, frozenset[str]] = {
    2: frozenset({"highlighting", "oa:highlighting"}),
    1: frozenset({"painting", "sc:painting"}),
}

Q = Annotated[str | None, Query(description='Words, "quoted phrases" and prefix* (docs/query-language.md).')]
Motivation = Annotated[
    str | None, Query(description="Space-separated motivations; ours are `highlighting` (2.0) and `painting` (1.0).")
]
PageParam = Annotated[str | None, Query(description="Result page, 0-based.")]
Ignored = Annotated[str | None, Query(description="Accepted and reported in `ignored`; not implemented.")]
Min = Annotated[str | None, Query(alias="min", description="Least number of occurrences of a term (default 1).")]


@dataclass
class SearchParams:
    """The query parameters of a search request (Search 2.0 §4.1, 1.0 §3.2)."""

    q: Q = None
    motivation: Motivation = None
    page: PageParam = None
    date: Ignored = None
    user: Ignored = None


@dataclass
class AutocompleteParams:
    """The query parameters of an autocomplete request (Search 2.0 §5.1, 1.0 §4.2)."""

    q: Q = None
    motivation: Motivation = None
    min: Min = None
    date: Ignored = None
    user: Ignored = None


SearchParamsDep = Annotated[SearchParams, Depends()]
AutocompleteParamsDep = Annotated[AutocompleteParams, Depends()]


# -- helpers ---------------------------------------------------------------------------------


def _check_book(snapshot: Snapshot, book_id: str | None) -> None:
    if book_id is not None and snapshot.book(book_id) is None:
        raise UnknownBook(f"no book {book_id!r} is indexed here")


def _required_q(q: str | None, settings: Settings) -> str:
    if q is None or not q.strip():
        raise BadQuery("q is required: the words to look for", parameter="q")
    if len(q) > settings.max_query_length:
        raise BadQuery(f"q is {len(q)} characters long; the limit is {settings.max_query_length}", parameter="q")
    return q


def _page_number(page: str | None) -> int:
    if page is None or page == "":
        return 0
    try:
        number = int(page)
    except ValueError:
        raise BadQuery("page must be a whole number, 0 for the first page", parameter="page") from None
    if number < 0 or number > 10**9:
        raise BadQuery("page must be between 0 and 1000000000", parameter="page")
    return number


def _min_count(value: str | None) -> int:
    if value is None or value == "":
        return 1
    try:
        number = int(value)
    except ValueError:
        raise BadQuery("min must be a whole number", parameter="min") from None
    return max(1, number)


def _motivation_allows(motivation: str | None, version: int) -> bool:
    """Search 2.0 §4.1.1: any-of; an empty or absent parameter does not restrict."""
    wanted = set((motivation or "").split())
    return not wanted or bool(wanted & _MOTIVATIONS[version])


def _ignored(request: Request) -> list[str]:
    return [name for name in IGNORED_PARAMETERS if name in request.query_params]


def _kept_params(q: str | None, motivation: str | None) -> tuple[tuple[str, str], ...]:
    """The parameters every page URL repeats; ignored ones are dropped (2.0 §4.2.4, 1.0 §3.3.1 MAY)."""
    params: list[tuple[str, str]] = []
    if q is not None:
        params.append(("q", q))
    if motivation:
        params.append(("motivation", motivation))
    return tuple(params)


async def _cached(
    request: Request, ctx: SearchContext, context: str, in_pool: bool, build: Callable[[], bytes]
) -> Response:
    """The response body for this request from the response cache, or build() and keep it.

    The body depends only on the snapshot, the base URL, the path and the query
    string; the headers (negotiation, 304) are worked out per request. A kept answer
    is served on the event loop; building one runs there too for one book (about a
    millisecond, less than a hop to the thread pool) and in a thread for every book
    (tens of milliseconds on a big collection, which must not stall the loop), one
    at a time: the work is CPU-bound Python under one lock per snapshot, so more
    threads only fought over the GIL (78 -> N requests/s on the 100,000-page bench). A client
    accepting gzip gets the kept gzip form (the GZip middleware leaves an encoded
    response alone), with the same ETag, as the middleware would give.
    """
    snapshot, settings, base = ctx
    cache: ResponseCache = request.app.state.responses
    key = (request.scope["path"], request.scope["query_string"], base)
    generation = snapshot.generation
    found = cache.get(generation, key)
    if found is None:
        # Raises BadQuery / UnknownBook: errors are not kept.
        body = await anyio.to_thread.run_sync(build, limiter=request.app.state.search_threads) if in_pool else build()
        found = CachedBody(body, etag_for(body))
        cache.put(generation, key, found)
    if len(found.body) < GZIP_MINIMUM or "gzip" not in request.headers.get("accept-encoding", ""):
        return json_body_response(request, found.body, context=context, settings=settings, etag=found.etag)
    response = json_body_response(request, found.gzipped(), context=context, settings=settings, etag=found.etag)
    if response.status_code == 200:
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept, Accept-Encoding"
    return response


# -- search -----------------------------------------------------------------------------------


async def _search(
    request: Request,
    version: Version,
    book_id: str | None,
    q: str | None,
    motivation: str | None,
    page: str | None,
    ctx: SearchContext,
) -> Response:
    context = SEARCH2_CONTEXT if version == 2 else PRESENTATION2_CONTEXT
    return await _cached(
        request,
        ctx,
        context,
        book_id is None,
        lambda: _search_body(request, version, book_id, q, motivation, page, ctx),
    )


def _search_body(
    request: Request,
    version: Version,
    book_id: str | None,
    q: str | None,
    motivation: str | None,
    page: str | None,
    ctx: SearchContext,
) -> bytes:
    snapshot, settings, base = ctx
    _check_book(snapshot, book_id)
    text = _required_q(q, settings)
    query = parse_query(text, max_length=settings.max_query_length)
    number = _page_number(page)
    size = settings.page_size
    if _motivation_allows(motivation, version):
        results = search(snapshot, query, book_id, number * size, size)
    else:
        results = HitPage((), 0, number * size, size)  # none of our annotations has that motivation
    links = ResultLinks(search_url(base, book_id, version), _kept_params(text, motivation))
    manifests = None
    if book_id is None:
        manifests = {}
        for hit_book in {hit.book_id for hit in results.hits}:
            record = snapshot.book(hit_book)
            manifests[hit_book] = ManifestRef(manifest_url(base, hit_book), record.label if record else hit_book)
    render = annotation_page if version == 2 else annotation_list
    data = render(results, links, base, manifests=manifests, ignored=_ignored(request))
    # Canvas ids of folder books start with BASE_URL_MARKER, like their manifests.
    return encode_json(data, base)


# -- autocomplete ---------------------------------------------------------------------------------


async def _autocomplete(
    request: Request,
    version: Version,
    book_id: str | None,
    q: str | None,
    motivation: str | None,
    min_count: str | None,
    ctx: SearchContext,
) -> Response:
    context = SEARCH2_CONTEXT if version == 2 else SEARCH1_CONTEXT
    return await _cached(
        request,
        ctx,
        context,
        book_id is None,
        lambda: _autocomplete_body(request, version, book_id, q, motivation, min_count, ctx),
    )


def _autocomplete_body(
    request: Request,
    version: Version,
    book_id: str | None,
    q: str | None,
    motivation: str | None,
    min_count: str | None,
    ctx: SearchContext,
) -> bytes:
    snapshot, settings, base = ctx
    _check_book(snapshot, book_id)
    text = _required_q(q, settings)  # 2.0 §5.1, 1.0 §4.2: q MUST be present
    least = _min_count(min_count)
    found = (
        terms(snapshot, text, book_id, least, settings.autocomplete_limit)
        if _motivation_allows(motivation, version)
        else []
    )
    params = list(_kept_params(text, motivation))
    if min_count:
        params.append(("min", str(least)))
    request_id = url_with(autocomplete_url(base, book_id, version), params)
    kept = [(k, v) for k, v in params if k == "motivation"]
    render = term_page if version == 2 else term_list
    data = render(found, request_id, search_url(base, book_id, version), params=kept, ignored=_ignored(request))
    return encode_json(data)


# -- the routes: two versions, one book or every book ------------------------------------------------

_SUMMARIES = {2: "Content Search 2.0", 1: "Content Search 1.0"}
_SHAPES = {2: "a Search 2.0 AnnotationPage", 1: "a Search 1.0 sc:AnnotationList (what Mirador and UV read)"}
_TERM_SHAPES = {2: "a TermPage", 1: "a search:TermList"}


def _search_routes(version: Version) -> None:
    async def search_book(request: Request, book_id: str, ctx: SearchContextDep, params: SearchParamsDep) -> Response:
        return await _search(request, version, book_id, params.q, params.motivation, params.page, ctx)

    async def search_all(request: Request, ctx: SearchContextDep, params: SearchParamsDep) -> Response:
        return await _search(request, version, None, params.q, params.motivation, params.page, ctx)

    async def autocomplete_book(
        request: Request, book_id: str, ctx: SearchContextDep, params: AutocompleteParamsDep
    ) -> Response:
        return await _autocomplete(request, version, book_id, params.q, params.motivation, params.min, ctx)

    async def autocomplete_all(request: Request, ctx: SearchContextDep, params: AutocompleteParamsDep) -> Response:
        return await _autocomplete(request, version, None, params.q, params.motivation, params.min, ctx)

    name = _SUMMARIES[version]
    routes: list[tuple[str, Callable[..., Any], str, str]] = [
        (
            "/iiif/search/{v}",
            search_all,
            f"Search every book ({name})",
            f"Hits in every indexed book as {_SHAPES[version]}; each hit names its manifest.",
        ),
        (
            "/iiif/{{book_id}}/search/{v}",
            search_book,
            f"Search one book ({name})",
            f"Hits in one book as {_SHAPES[version]}.",
        ),
        (
            "/iiif/autocomplete/{v}",
            autocomplete_all,
            f"Autocomplete over every book ({name})",
            f"Terms of every book that start with `q`, as {_TERM_SHAPES[version]}.",
        ),
        (
            "/iiif/{{book_id}}/autocomplete/{v}",
            autocomplete_book,
            f"Autocomplete in one book ({name})",
            f"Terms of one book that start with `q`, as {_TERM_SHAPES[version]}.",
        ),
    ]
    for path, endpoint, summary, description in routes:
        router.add_api_route(
            path.format(v=version),
            endpoint,
            methods=["GET"],
            summary=summary,
            description=description,
            name=f"{endpoint.__name__}_v{version}",
        )


_search_routes(2)
_search_routes(1)
