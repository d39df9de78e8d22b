"""Content Search 2.0 and 1.0, and their autocomplete, for one book or across every book.

Thin handlers: check the parameters, `parse_query` -> `hits.search` -> `search_v1` or
`search_v2`, then `encode_json`, the body kept in the response cache for the next
identical request. Parameters are plain strings so that odd input gets our 400 with
a JSON body rather than a validation error.

    /iiif/{book}/search/{1,2}?q=&motivation=&page=     one book's hits
    /iiif/search/{1,2}?q=&motivation=&page=&total=     every book's hits, each naming its manifest
    /iiif/{book}/autocomplete/{1,2}?q=&motivation=&min=
    /iiif/autocomplete/{1,2}?q=&motivation=&min=
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from indexer.index.library import PUBLIC, Library
from indexer.index.snapshot import Snapshot
from search_service.errors import BadQuery, Overloaded, UnknownBook
from search_service.search.contexts import PRESENTATION2_CONTEXT, SEARCH1_CONTEXT, SEARCH2_CONTEXT
from search_service.search.hits import HitPage, search, terms
from search_service.search.query import Query as ParsedQuery
from search_service.search.query import parse_query
from search_service.search.search_v1 import annotation_list, term_list
from search_service.search.search_v2 import annotation_page, term_page
from search_service.search.urls import ManifestRef, ResultLinks, autocomplete_url, manifest_url, search_url, url_with
from search_service.settings import Settings
from search_service.web.auth.gate import check_book
from search_service.web.auth.reader import reader_of
from search_service.web.deps import SearchContext, SearchContextDep
from search_service.web.response_cache import GZIP_MINIMUM, CachedBody, ResponseCache
from search_service.web.responses import encode_json, etag_for, json_body_response

router = APIRouter(tags=["search"])

Version = Literal[1, 2]

#: Search 2.0 §4.1.1 / 1.0 §3.2.1 parameters we accept but do not implement: reported in `ignored`.
IGNORED_PARAMETERS = ("date", "user")
#: Longest motivation parameter accepted (the spec's values are single words).
MAX_MOTIVATION_LENGTH = 200
_DIGITS = re.compile(r"[0-9]{1,12}")
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
Total = Annotated[
    str | None,
    Query(
        description="`exact`: count every hit of every book for an exact total (slower on a big collection); "
        "by default a collection-wide total may be a lower bound (docs/api.md#totals)."
    ),
]


@dataclass
class SearchParams:
    """The query parameters of a search request (Search 2.0 §4.1, 1.0 §3.2)."""

    q: Q = None
    motivation: Motivation = None
    page: PageParam = None
    date: Ignored = None
    user: Ignored = None
    total: Total = None


@dataclass
class AutocompleteParams:
    """The query parameters of an autocomplete request (Search 2.0 §5.1, 1.0 §4.2)."""

    q: Q = None
    motivation: Motivation = None
    min: Min = None
    date: Ignored = None
    user: Ignored = None


# Coroutines, not the dataclasses themselves as dependencies: FastAPI runs a class (any
# plain callable) in its thread pool, a thread handover per request that took 40% of a
# kept answer's time (its requests/s went from 5,100 to 2,900 on the book).


async def search_params(
    q: Q = None,
    motivation: Motivation = None,
    page: PageParam = None,
    date: Ignored = None,
    user: Ignored = None,
    total: Total = None,
) -> SearchParams:
    return SearchParams(q, motivation, page, date, user, total)


async def autocomplete_params(
    q: Q = None, motivation: Motivation = None, least: Min = None, date: Ignored = None, user: Ignored = None
) -> AutocompleteParams:
    return AutocompleteParams(q, motivation, least, date, user)


SearchParamsDep = Annotated[SearchParams, Depends(search_params)]
AutocompleteParamsDep = Annotated[AutocompleteParams, Depends(autocomplete_params)]


# -- helpers ---------------------------------------------------------------------------------


def _check_book(request: Request, snapshot: Snapshot, book_id: str | None) -> None:
    """A book the reader may not read is a 401, one nobody indexed a 404 (#22); before anything else."""
    if book_id is not None and snapshot.book(book_id) is None:
        check_book(request, book_id)
        raise UnknownBook(f"no book {book_id!r} is indexed here")  # removed meanwhile


def required_q(q: str | None, settings: Settings) -> str:
    """`q` checked, its runs of white space made one space: the cache key and the answer's ids use this form."""
    if q is None or not q.strip():
        raise BadQuery("q is required: the words to look for", parameter="q")
    if len(q) > settings.max_query_length:
        raise BadQuery(f"q is {len(q)} characters long; the limit is {settings.max_query_length}", parameter="q")
    return " ".join(q.split())


def _whole_number(value: str, parameter: str, largest: int, hint: str = "") -> int:
    """ASCII digits only: Python's int() also takes `1_0` and other scripts' digits, which the docs don't."""
    if not _DIGITS.fullmatch(value):
        raise BadQuery(f"{parameter} must be a whole number{hint}", parameter=parameter)
    number = int(value)
    if number > largest:
        raise BadQuery(f"{parameter} must be at most {largest}", parameter=parameter)
    return number


def page_number(page: str | None) -> int:
    if page is None or page == "":
        return 0
    return _whole_number(page, "page", 10**9, ", 0 for the first page")


def exact_total(value: str | None) -> bool:
    """The `total` parameter (#20): `exact` asks a collection-wide search for an exact total; absent or empty, the fast answer."""
    if value is None or value == "":
        return False
    if value != "exact":
        raise BadQuery("total must be exact, or left out for the fast answer", parameter="total")
    return True


def _min_count(value: str | None) -> int:
    if value is None or value == "":
        return 1
    return max(1, _whole_number(value, "min", 10**9))


def _motivation(value: str | None) -> str | None:
    """The motivation parameter, bounded: it is repeated in every page URL of the answer."""
    if value is not None and len(value) > MAX_MOTIVATION_LENGTH:
        raise BadQuery(f"motivation is longer than {MAX_MOTIVATION_LENGTH} characters", parameter="motivation")
    return value


def _motivation_allows(motivation: str | None, version: int) -> bool:
    """Search 2.0 §4.1.1: any-of; an empty or absent parameter does not restrict."""
    wanted = set((motivation or "").split())
    return not wanted or bool(wanted & _MOTIVATIONS[version])


def _ignored(request: Request) -> list[str]:
    return [name for name in IGNORED_PARAMETERS if name in request.query_params]


def _kept_params(q: str | None, motivation: str | None, exact: bool = False) -> tuple[tuple[str, str], ...]:
    """The parameters every page URL repeats; ignored ones are dropped (2.0 §4.2.4, 1.0 §3.3.1 MAY)."""
    params: list[tuple[str, str]] = []
    if q is not None:
        params.append(("q", q))
    if motivation:
        params.append(("motivation", motivation))
    if exact:
        params.append(("total", "exact"))
    return tuple(params)


async def cached_json(
    request: Request,
    ctx: SearchContext,
    context: str | None,
    key: Hashable,
    costly: bool,
    build: Callable[[], bytes],
    retry: Callable[[], bytes] | None = None,
) -> Response:
    """The response body for this request from the response cache, or build() and keep it.

    `key` names what the body depends on besides the snapshot and the base URL: the
    checked parameters, never the raw query string (#16: unknown parameters made every
    request a new entry). The headers (negotiation, 304) are worked out per request.
    A kept answer is served on the event loop; building one always runs in a thread,
    so the loop keeps answering `/health` and kept answers meanwhile. Builds that may
    be costly (`Query.may_be_costly`) have threads of their own, so they never hold
    every thread that cheap ones need. A client accepting gzip gets the kept gzip form
    (the GZip middleware leaves an encoded response alone), with its own ETag.
    When build() answers NOTHING_AS_TYPED, retry() builds the body instead, in the
    costly threads (the fuzzy retry of #14: a fuzzy word is a costly shape).
    """
    _, settings, base = ctx
    cache: ResponseCache = request.app.state.responses
    # What the reader may read is part of the key (#22): a collection answer built with a
    # restricted book is never served to a reader who may not read it.
    levels = reader_of(request).levels
    full_key = (key, base) if levels == PUBLIC else (key, base, levels)
    library: Library = request.app.state.library
    generation = library.generation()
    found = cache.get(generation, full_key)
    if found is None:
        found = await _build_once(request, cache, generation, full_key, settings, costly, build, retry)
        if found is None:
            return Response(status_code=499)  # the client left while its search waited: nobody to answer
    if len(found.body) < GZIP_MINIMUM:
        return json_body_response(request, found.body, context=context, settings=settings, etag=found.etag)
    # The answer depends on Accept-Encoding whichever form is sent: every answer says so, 304s too (#23).
    vary = "Accept, Accept-Encoding"
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return json_body_response(request, found.body, context=context, settings=settings, etag=found.etag, vary=vary)
    response = json_body_response(
        request, found.gzipped(), context=context, settings=settings, etag=found.etag, gzipped=True, vary=vary
    )
    if response.status_code == 200:
        response.headers["Content-Encoding"] = "gzip"
    return response


async def _build_once(
    request: Request,
    cache: ResponseCache,
    generation: int,
    key: Hashable,
    settings: Settings,
    costly: bool,
    build: Callable[[], bytes],
    retry: Callable[[], bytes] | None,
) -> CachedBody | None:
    """The body for `key`, built by one request while the others asking for it meanwhile wait for it.

    Fifty clients asking at once for a manifest not kept yet (after a commit, #23) made
    fifty builds of 2.4 MB, one after another in the costly lane; now one builds and the
    others get its body (or its error). None when the builder's client left and so did ours.
    """
    pending = cache.pending.get((generation, key))
    if pending is not None:
        found = await asyncio.shield(pending)
        if found is not None:
            return found  # else the builder's client left before its turn: build it ourselves
    future: asyncio.Future[CachedBody | None] = asyncio.get_running_loop().create_future()
    cache.pending[(generation, key)] = future
    try:
        body = await build_in_thread(request, settings, costly, build)
        if body == NOTHING_AS_TYPED and retry is not None:
            body = await build_in_thread(request, settings, True, retry)
        found = None if body is None else CachedBody(body, etag_for(body))
        if found is not None:
            cache.put(generation, key, found)
        future.set_result(found)
        return found
    except asyncio.CancelledError:
        future.set_result(None)  # the waiting requests build it themselves
        raise
    except Exception as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: no "never retrieved" log when nobody was waiting
        raise
    finally:
        if cache.pending.get((generation, key)) is future:
            del cache.pending[(generation, key)]


_Built = TypeVar("_Built")


async def build_in_thread(
    request: Request, settings: Settings, costly: bool, build: Callable[[], _Built]
) -> _Built | None:
    """build() in a thread of its lane, or None when the client left before a thread was free.

    A search waits for a thread of its lane at most `search_wait` seconds, then gets a
    503 with Retry-After. Waiting costs nothing but a parked coroutine, so a flood of
    costly searches is slowed to the pace of their threads rather than answered at once
    (refused at once, 200 connections came straight back and kept the loop busy), and a
    search whose client left is dropped when its turn comes (a queue of them kept workers
    busy for minutes after an attack had ended) (#16).
    """
    lane: anyio.CapacityLimiter = (
        request.app.state.costly_search_threads if costly else request.app.state.search_threads
    )
    acquired = False
    with anyio.move_on_after(settings.search_wait):
        await lane.acquire()
        acquired = True
    if not acquired:
        raise Overloaded(f"every search thread here was busy for {settings.search_wait:g} s; try again in a moment")
    try:
        if await request.is_disconnected():
            return None
        # Raises BadQuery, UnknownBook, QueryTooCostly: errors are not kept. The lane bounds the threads.
        return await anyio.to_thread.run_sync(build)
    finally:
        lane.release()


# -- search -----------------------------------------------------------------------------------


async def _search(
    request: Request,
    version: Version,
    book_id: str | None,
    q: str | None,
    motivation: str | None,
    page: str | None,
    ctx: SearchContext,
    total: str | None = None,
) -> Response:
    snapshot, settings, _ = ctx
    # Checked here, cheaply: a bad request never takes a thread, and the cache key is built from these.
    _check_book(request, snapshot, book_id)
    text = required_q(q, settings)
    query = parse_query(text, max_length=settings.max_query_length)
    number = page_number(page)
    motivation = _motivation(motivation)
    # One book's total is always exact (#20): the parameter only matters over every book.
    exact = exact_total(total) and book_id is None
    ignored = _ignored(request)
    key = ("search", version, book_id, text, motivation, number, tuple(ignored), exact)
    context = SEARCH2_CONTEXT if version == 2 else PRESENTATION2_CONTEXT
    # With the fuzzy retry on (#14), a search that finds nothing is asked again with its words
    # made fuzzy, in the costly threads, and its response says so.
    forgiving = query.forgiving() if settings.fuzzy_fallback else query
    retry = None
    if forgiving != query:
        label = fallback_label(text)
        retry = lambda: _search_body(  # noqa: E731
            version, book_id, text, forgiving, motivation, number, ignored, ctx, label=label, exact=exact
        )
    return await cached_json(
        request,
        ctx,
        context,
        key,
        query.may_be_costly,
        lambda: _search_body(
            version, book_id, text, query, motivation, number, ignored, ctx, then_retry=retry is not None, exact=exact
        ),
        retry,
    )


#: What _search_body answers for a search that found nothing when the fuzzy retry will be asked.
NOTHING_AS_TYPED = b""


def _search_body(
    version: Version,
    book_id: str | None,
    text: str,
    query: ParsedQuery,
    motivation: str | None,
    number: int,
    ignored: list[str],
    ctx: SearchContext,
    *,
    then_retry: bool = False,
    label: str | None = None,
    exact: bool = False,
) -> bytes:
    """The response body; NOTHING_AS_TYPED when nothing is found and `then_retry` (the fuzzy retry follows).

    `label` is the result page's label (the retry's, fallback_label); `exact`: `total=exact`.
    """
    snapshot, settings, base = ctx
    size = settings.page_size
    if _motivation_allows(motivation, version):
        results = search(snapshot, query, book_id, number * size, size, settings.query_time_limit, exact_total=exact)
        if then_retry and not results.total:
            return NOTHING_AS_TYPED
    else:
        results = HitPage((), 0, number * size, size)  # none of our annotations has that motivation
    links = ResultLinks(search_url(base, book_id, version), _kept_params(text, motivation, exact))
    manifests = None
    if book_id is None:
        manifests = {}
        for hit_book in {hit.book_id for hit in results.hits}:
            record = snapshot.book(hit_book)
            manifests[hit_book] = ManifestRef(manifest_url(base, hit_book), record.label if record else hit_book)
    render = annotation_page if version == 2 else annotation_list
    data = render(
        results,
        links,
        base,
        manifests=manifests,
        ignored=ignored,
        label=label,
        near_label=near_label(text),
        alternative_label=alternative_label(text),
    )
    # Canvas ids of folder books start with BASE_URL_MARKER, like their manifests.
    return encode_json(data, base)


def fallback_label(q: str) -> str:
    """The label of a result found by the fuzzy retry (settings.fuzzy_fallback): what was done."""
    return f"No hits for {q!r} as typed: near matches shown, as for the same words with ~ (fuzzy)"


def near_label(q: str) -> str:
    """The label of each annotation of a near match (`Hit.near`): Mirador shows it above the hit."""
    return f"near match for {q!r}"


def alternative_label(q: str) -> str:
    """The label of each annotation of a hit found through an alternative reading (`Hit.alternative`, #21)."""
    return f"alternative reading for {q!r}: the OCR read the highlighted word otherwise"


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
    snapshot, settings, _ = ctx
    _check_book(request, snapshot, book_id)
    text = required_q(q, settings)  # 2.0 §5.1, 1.0 §4.2: q MUST be present
    least = _min_count(min_count)
    motivation = _motivation(motivation)
    ignored = _ignored(request)
    key = ("autocomplete", version, book_id, text, motivation, least, bool(min_count), tuple(ignored))
    context = SEARCH2_CONTEXT if version == 2 else SEARCH1_CONTEXT
    return await cached_json(
        request,
        ctx,
        context,
        key,
        False,
        lambda: _autocomplete_body(version, book_id, text, motivation, least, bool(min_count), ignored, ctx),
    )


def _autocomplete_body(
    version: Version,
    book_id: str | None,
    text: str,
    motivation: str | None,
    least: int,
    min_given: bool,
    ignored: list[str],
    ctx: SearchContext,
) -> bytes:
    snapshot, settings, base = ctx
    found = (
        terms(snapshot, text, book_id, least, settings.autocomplete_limit)
        if _motivation_allows(motivation, version)
        else []
    )
    params = list(_kept_params(text, motivation))
    if min_given:
        params.append(("min", str(least)))
    request_id = url_with(autocomplete_url(base, book_id, version), params)
    kept = [(k, v) for k, v in params if k == "motivation"]
    render = term_page if version == 2 else term_list
    data = render(found, request_id, search_url(base, book_id, version), params=kept, ignored=ignored)
    return encode_json(data)


# -- the routes: two versions, one book or every book ------------------------------------------------

_SUMMARIES = {2: "Content Search 2.0", 1: "Content Search 1.0"}
_SHAPES = {2: "a Search 2.0 AnnotationPage", 1: "a Search 1.0 sc:AnnotationList (what Mirador and UV read)"}
_TERM_SHAPES = {2: "a TermPage", 1: "a search:TermList"}


def _search_routes(version: Version) -> None:
    async def search_book(request: Request, book_id: str, ctx: SearchContextDep, params: SearchParamsDep) -> Response:
        return await _search(request, version, book_id, params.q, params.motivation, params.page, ctx, params.total)

    async def search_all(request: Request, ctx: SearchContextDep, params: SearchParamsDep) -> Response:
        return await _search(request, version, None, params.q, params.motivation, params.page, ctx, params.total)

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
