"""The front of a sharded collection (#20): every public route of a single server, answered by the shards.

The one place a front dispatches: a book's routes (its
manifest, search, autocomplete, and its images, `{book}~{stem}` for folder books) go
to the shard its id hashes to, streamed back as the shard answered; a collection answer
(`/iiif/search/{2,1}`, `/api/search`, `/search`, `/iiif/autocomplete/{2,1}`,
`/iiif/collection`, the home page) asks every shard at once with the collection's corpus
stats, merges (search/shards.py) and renders with the renderers a single server uses,
so its answer is the one index's. Access (#22) is checked by the one check, reader_of: the
front sends the reader's token on to every shard it asks, and each shard answers with
what that reader may read, as it would to the reader itself. A shard that does not answer leaves a partial answer
that says so (docs/api.md#shards), never a silently smaller total; a book on it is a 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response

from indexer.index.records import BookRecord
from search_service.errors import BadQuery, NotFound, ServiceError, ShardUnavailable
from search_service.search.books import BookPage
from search_service.search.collection import collection
from search_service.search.contexts import (
    PRESENTATION2_CONTEXT,
    PRESENTATION3_CONTEXT,
    SEARCH1_CONTEXT,
    SEARCH2_CONTEXT,
)
from search_service.search.hits import HitPage, Term
from search_service.search.query import parse_query
from search_service.search.search_v1 import annotation_list, term_list
from search_service.search.search_v2 import annotation_page, term_page
from search_service.search.shard_wire import (
    RankedEntry,
    book_from_json,
    book_result_from_json,
    hit_from_json,
    ranking_from_json,
)
from search_service.search.shards import (
    ShardFailure,
    book_windows,
    first_window,
    hit_windows,
    merge_rankings,
    merged_books,
    merged_hits,
    total_corpus,
    within,
)
from search_service.search.urls import ManifestRef, ResultLinks, autocomplete_url, manifest_url, search_url, url_with
from search_service.settings import Settings
from search_service.web.auth.reader import reader_of
from search_service.web.deps import BaseUrlDep, SettingsDep
from search_service.web.discovery import book_results
from search_service.web.pages import esc, render_page
from search_service.web.responses import encode_json, json_body_response
from search_service.web.results_page import DEFAULT_VIEWER, results_html, search_form
from search_service.web.routes.books import _refused, _viewer, _viewer_message
from search_service.web.routes.home import home_page
from search_service.web.routes.search import (
    AutocompleteParamsDep,
    SearchParamsDep,
    Version,
    _ignored,
    _kept_params,
    _min_count,
    _motivation,
    _motivation_allows,
    exact_total,
    fallback_label,
    near_label,
    page_number,
    required_q,
)
from search_service.web.shard_client import READER, Shards


async def _reader(request: Request) -> None:
    """The reader's levels and token, for every shard this request asks (#22): checked once, by reader_of."""
    reader = reader_of(request)
    READER.set((reader.levels, reader.token))


router = APIRouter(dependencies=[Depends(_reader)])


def _shards(request: Request) -> Shards:
    shards: Shards = request.app.state.shards
    return shards


# -- a book's routes: forwarded to its shard ----------------------------------------------------------


@router.get("/iiif/{book_id}/manifest", summary="A book's manifest with search services (from its shard)")
async def book_manifest(request: Request, book_id: str) -> Response:
    return await _forward(request, book_id)


@router.get("/iiif/{book_id}/search/{version}", summary="Search one book (from its shard)")
async def book_search(request: Request, book_id: str, version: str) -> Response:
    return await _forward(request, book_id)


@router.get("/iiif/{book_id}/autocomplete/{version}", summary="Autocomplete in one book (from its shard)")
async def book_autocomplete(request: Request, book_id: str, version: str) -> Response:
    return await _forward(request, book_id)


@router.get("/iiif/image/{version}/{path:path}", summary="IIIF Image API (a folder book's images, from its shard)")
async def book_image(request: Request, version: str, path: str) -> Response:
    raw = request.scope.get("raw_path")
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else request.url.path
    identifier = unquote(text.split(f"/iiif/image/{version}/", 1)[-1].split("/", 1)[0])
    # Folder books' images are `{book}~{file stem}` (docs/architecture.md#folder-books).
    if "~" not in identifier:
        raise NotFound(f"no image {identifier!r} here: a front of shards serves the images of folder books only")
    return await _forward(request, identifier.split("~", 1)[0])


async def _forward(request: Request, book_id: str) -> Response:
    shards = _shards(request)
    return await shards.forward(request, shards.position_of(book_id))


# -- collection answers: every shard, merged -------------------------------------------------------


def _partial(failures: list[ShardFailure], shards: Shards) -> dict[str, Any]:
    """The fields that say an answer lacks some shards (docs/api.md#shards)."""
    return {
        "partial": True,
        "unavailable": [
            {"shard": f.shard + 1, "of": len(shards), "reason": f.reason}
            for f in sorted(failures, key=lambda f: f.shard)
        ],
    }


def _check_failures(failures: list[ShardFailure], shards: Shards, answered: int) -> None:
    """A 400 from a shard is the query's fault (answered as such); no shard answering at all is a 503."""
    for failure in failures:
        if failure.status == 400:
            raise BadQuery(failure.reason, parameter="q")
    if failures and not answered:
        reasons = "; ".join(f.reason for f in failures)
        raise ShardUnavailable(f"no shard of the collection answered ({reasons}); try again in a moment")


def _answer(
    request: Request, data: dict[str, Any], base: str, settings: Settings, context: str | None, partial: bool
) -> Response:
    response = json_body_response(request, encode_json(data, base), context=context, settings=settings)
    if partial:
        # A partial answer must not be kept by any cache, nor revalidated as if it were whole.
        response.headers["Cache-Control"] = "no-store"
        del response.headers["ETag"]
    return response


async def _ranked_windows(
    shards: Shards,
    path: str,
    params: dict[str, str],
    start: int,
    stop: int,
    extra: Mapping[str, str],
) -> tuple[list[RankedEntry], dict[int, dict[str, Any]], dict[int, tuple[int, int]], list[ShardFailure]]:
    """Ask every shard for its ranking prefix and a guess of its window at once, merge, and fill in what the guess missed.

    Returns the merged ranking, each shard's answer with exactly its window's items (`hits`
    or `books`, none for a shard with nothing on the page), the windows, and the failures.
    One request per shard on the first pages (search/shards.py, `first_window`); deeper, a
    second one only to the shards whose window the guess missed. The corpus stats are
    re-read and the shards asked again once when a shard's changed (a commit there)
    during the answer.
    """
    items = "hits" if path == "/shard/hits" else "books"
    for attempt in range(2):
        corpus = await shards.corpus()
        common = {**params, **extra, "corpus": f"{corpus.books},{corpus.words},{corpus.books_with_words}"}
        sent_from, sent_to = first_window(start, stop, len(shards))
        first = {**common, "start": str(sent_from), "size": str(sent_to - sent_from), "ranking": str(stop)}
        answers, failures = await shards.fan_out(path, shards.every(first))
        if attempt == 0 and total_corpus([shards.stats[p] for p in sorted(shards.stats)]) != corpus:
            continue  # a shard committed meanwhile: rank again with the collection's new stats
        merged = merge_rankings([ranking_from_json(answer["ranking"], p) for p, answer in answers.items()])
        windows = hit_windows(merged, start, stop) if items == "hits" else book_windows(merged, start, stop)
        missed: dict[int, Mapping[str, str]] = {}
        for p, answer in answers.items():
            window = windows.get(p)
            if window is None:
                answer[items] = []  # nothing of this shard on the page
                continue
            sent = answer.get(items, [])
            found = within(sent, sent_from, window)
            if found is None:
                # What was sent of the window is kept; only the rest is asked for.
                kept = within(sent, sent_from, (window[0], sent_from + len(sent))) or []
                answer[items] = list(kept)
                low = window[0] + len(kept)
                # At the first request's depth: the shard finds that ranking in its cache.
                missed[p] = {**common, "start": str(low), "size": str(window[1] - low), "depth": str(stop)}
            else:
                answer[items] = found
        if missed:
            second, more = await shards.fan_out(path, missed)
            for p in missed:
                if p in second:
                    answers[p][items] = answers[p][items] + second[p].get(items, [])
                    answers[p]["labels"] = {**answers[p].get("labels", {}), **second[p].get("labels", {})}
                else:
                    answers.pop(p)  # answered the ranking, then not its window: counted as missing
            failures += more
        return merged, answers, windows, failures
    raise AssertionError("unreachable")


def _hits_of(answers: dict[int, dict[str, Any]]) -> dict[int, list[Any]]:
    return {p: [hit_from_json(h) for h in answer.get("hits", [])] for p, answer in answers.items()}


def _exact(answers: dict[int, dict[str, Any]], failures: list[ShardFailure]) -> bool:
    return not failures and all(answer.get("total_exact", True) for answer in answers.values())


def _collection_search_route(version: Version) -> None:
    async def search_all(
        request: Request, settings: SettingsDep, base: BaseUrlDep, params: SearchParamsDep
    ) -> Response:
        shards = _shards(request)
        text = required_q(params.q, settings)
        query = parse_query(text, max_length=settings.max_query_length)
        number = page_number(params.page)
        motivation = _motivation(params.motivation)
        ignored = _ignored(request)
        size = settings.page_size
        start, stop = number * size, number * size + size
        context = SEARCH2_CONTEXT if version == 2 else PRESENTATION2_CONTEXT
        exact = exact_total(request.query_params.get("total"))
        extra = {"total": "exact"} if exact else {}
        label = None
        failures: list[ShardFailure] = []
        labels: dict[str, str] = {}
        if not _motivation_allows(motivation, version):
            results = HitPage((), 0, start, size)  # none of our annotations has that motivation
        else:
            results, labels, failures = await _hit_page(shards, {"q": text}, start, stop, size, extra)
            if not results.total and not failures and settings.fuzzy_fallback and query.forgiving() != query:
                # As a single server does (#14): nothing as typed, so the words made fuzzy, and said so.
                results, labels, failures = await _hit_page(shards, {"q": text, "fuzzy": "1"}, start, stop, size, extra)
                label = fallback_label(text) if results.total else None
        links = ResultLinks(search_url(base, None, version), _kept_params(text, motivation, exact))
        manifests = {book: ManifestRef(manifest_url(base, book), labels.get(book, book)) for book in labels}
        render = annotation_page if version == 2 else annotation_list
        data = render(
            results, links, base, manifests=manifests, ignored=ignored, label=label, near_label=near_label(text)
        )
        if failures:
            data.update(_partial(failures, shards))
        return _answer(request, data, base, settings, context, bool(failures))

    async def autocomplete_all(
        request: Request, settings: SettingsDep, base: BaseUrlDep, params: AutocompleteParamsDep
    ) -> Response:
        shards = _shards(request)
        text = required_q(params.q, settings)
        least = _min_count(params.min)
        motivation = _motivation(params.motivation)
        ignored = _ignored(request)
        counts: dict[str, int] = {}
        failures: list[ShardFailure] = []
        if _motivation_allows(motivation, version):
            # Each shard's most frequent terms, summed: a term below every shard's cut is left out.
            answers, failures = await shards.fan_out(
                "/shard/terms", shards.every({"q": text, "min": "1", "limit": str(2 * settings.autocomplete_limit)})
            )
            _check_failures(failures, shards, len(answers))
            for answer in answers.values():
                for term, count in answer["terms"]:
                    counts[term] = counts.get(term, 0) + int(count)
        found = [Term(term, count) for term, count in counts.items() if count >= least]
        top = sorted(
            sorted(found, key=lambda t: (-t.count, t.text))[: settings.autocomplete_limit], key=lambda t: t.text
        )
        kept_params = list(_kept_params(text, motivation))
        if params.min:
            kept_params.append(("min", str(least)))
        request_id = url_with(autocomplete_url(base, None, version), kept_params)
        kept = [(k, v) for k, v in kept_params if k == "motivation"]
        render = term_page if version == 2 else term_list
        data = render(top, request_id, search_url(base, None, version), params=kept, ignored=ignored)
        if failures:
            data.update(_partial(failures, shards))
        context = SEARCH2_CONTEXT if version == 2 else SEARCH1_CONTEXT
        return _answer(request, data, base, settings, context, bool(failures))

    router.add_api_route(
        f"/iiif/search/{version}", search_all, methods=["GET"], summary=f"Search every book (Search {version}, shards)"
    )
    router.add_api_route(
        f"/iiif/autocomplete/{version}",
        autocomplete_all,
        methods=["GET"],
        summary=f"Autocomplete over every book (Search {version}, shards)",
    )


async def _hit_page(
    shards: Shards, params: dict[str, str], start: int, stop: int, size: int, extra: Mapping[str, str]
) -> tuple[HitPage, dict[str, str], list[ShardFailure]]:
    merged, answers, _, failures = await _ranked_windows(shards, "/shard/hits", params, start, stop, extra)
    _check_failures(failures, shards, len(answers))
    hits = merged_hits(merged, start, stop, _hits_of(answers))
    labels: dict[str, str] = {}
    for answer in answers.values():
        labels.update(answer.get("labels", {}))
    total = sum(int(answer["total_hits"]) for answer in answers.values())
    page = HitPage(tuple(hits), total, start, size, _exact(answers, failures))
    return page, {hit.book_id: labels.get(hit.book_id, hit.book_id) for hit in hits}, failures


async def _book_page(
    shards: Shards, settings: Settings, text: str, number: int, extra: Mapping[str, str]
) -> tuple[BookPage, list[ShardFailure]]:
    size = settings.books_page_size
    start, stop = number * size, number * size + size
    params = {"q": text, "hits": str(settings.hits_per_book)}
    merged, answers, windows, failures = await _ranked_windows(shards, "/shard/books", params, start, stop, extra)
    _check_failures(failures, shards, len(answers))
    books = {p: [book_result_from_json(b) for b in answer.get("books", [])] for p, answer in answers.items()}
    chosen = [entry for entry in merged[start:stop] if entry.shard in books]
    results = merged_books(chosen, 0, len(chosen), windows, books)
    results = [type(r)(start + i + 1, r.book, r.score, r.hits, r.pages, r.first_hits) for i, r in enumerate(results)]
    page = BookPage(
        tuple(results),
        sum(int(answer["total_books"]) for answer in answers.values()),
        sum(int(answer["total_hits"]) for answer in answers.values()),
        start,
        size,
        _exact(answers, failures),
    )
    return page, failures


_collection_search_route(2)
_collection_search_route(1)


@router.get("/api/search", summary="Books matching a query, best first (every shard)")
async def api_search(request: Request, settings: SettingsDep, base: BaseUrlDep) -> Response:
    shards = _shards(request)
    q, viewer = request.query_params.get("q"), request.query_params.get("viewer")
    text = required_q(q, settings)
    parse_query(text, max_length=settings.max_query_length)
    number = page_number(request.query_params.get("page"))
    chosen = _viewer(viewer)
    params: list[tuple[str, str]] = [("q", text)]
    if viewer:
        params.append(("viewer", chosen))
    exact = exact_total(request.query_params.get("total"))
    if exact:
        params.append(("total", "exact"))
    links = ResultLinks(f"{base}/api/search", tuple(params))
    extra = {"total": "exact"} if exact else {}
    page, failures = await _book_page(shards, settings, text, number, extra)
    data = book_results(page, links, base, text, chosen)
    if failures:
        data.update(_partial(failures, shards))
    return _answer(request, data, base, settings, None, bool(failures))


@router.get("/search", response_class=HTMLResponse, summary="Results page: books matching a query (every shard)")
async def search_page(request: Request, settings: SettingsDep, base: BaseUrlDep) -> Response:
    shards = _shards(request)
    q, viewer = request.query_params.get("q"), request.query_params.get("viewer")
    chosen = viewer if viewer and viewer in _viewers() else DEFAULT_VIEWER
    if viewer and viewer not in _viewers():  # as a single server refuses it (#23)
        return _refused(q or "", chosen, _viewer_message(), settings.max_query_length)
    if q is None or not q.strip():
        body = (
            '<nav class="bar"><a class="home" href="/">iiif-search</a></nav><main class="page results-page">'
            f"<h1>Search every book</h1>{search_form('', chosen, autofocus=True)}</main>"
        )
        return render_page("Search every book", body, body_class="results")
    try:
        text = required_q(q, settings)
        parse_query(text, max_length=settings.max_query_length)
        number = page_number(request.query_params.get("page"))
        exact = exact_total(request.query_params.get("total"))
        extra = {"total": "exact"} if exact else {}
        page, failures = await _book_page(shards, settings, text, number, extra)
    except ShardUnavailable:
        raise
    except ServiceError as exc:
        body = (
            '<nav class="bar"><a class="home" href="/">iiif-search</a></nav><main class="page results-page">'
            f"<h1>Search every book</h1>{search_form(q[: settings.max_query_length], chosen)}"
            f'<p class="notice" role="alert">{esc(exc.message)}</p></main>'
        )
        return render_page("Search every book", body, status_code=400, body_class="results")
    if page.number > page.last and not failures:
        # A page past the last one is a 400 that links the last, as on a single server (#23).
        last = url_with("/search", [("q", text), *([("viewer", chosen)] if viewer else []), ("page", str(page.last))])
        return _refused(
            q,
            chosen,
            f"There is no page {page.number + 1:,} of these results: they fill {page.last + 1:,} "
            f"page{'s' if page.last else ''}.",
            settings.max_query_length,
            f' <a rel="last" href="{esc(last)}">Go to the last page</a>.',
        )
    page_html = results_html(page, text, chosen, base, exact)
    if failures:
        page_html = page_html.replace("</h1>", f"</h1>{_partial_notice(failures, shards)}", 1)
    response = render_page(f"{q.strip()} · search every book", page_html, body_class="results")
    if failures:
        response.headers["Cache-Control"] = "no-store"
    return response


def _partial_notice(failures: list[ShardFailure], shards: Shards) -> str:
    """The results page's warning that some books are missing (docs/api.md#shards)."""
    parts = ", ".join(f"{f.shard + 1}" for f in sorted(failures, key=lambda f: f.shard))
    return (
        f'<p class="notice partial" role="alert">Part of the collection did not answer (shard {parts} of '
        f"{len(shards)}): its books are missing below and the counts leave them out. Try again in a moment.</p>"
    )


def _viewers() -> Mapping[str, Any]:
    from search_service.web.viewers import VIEWERS

    return VIEWERS


async def _all_books(shards: Shards) -> tuple[list[BookRecord], list[ShardFailure]]:
    answers, failures = await shards.fan_out("/shard/list", shards.every({}))
    books = [book_from_json(book) for answer in answers.values() for book in answer["books"]]
    return sorted(books, key=lambda book: book.id), failures


@router.get("/iiif/collection", summary="Every book as one IIIF Collection (every shard)")
async def collection_of_books(request: Request, settings: SettingsDep, base: BaseUrlDep) -> Response:
    shards = _shards(request)
    books, failures = await _all_books(shards)
    _check_failures(failures, shards, len(shards) - len(failures))
    data = collection(books, base, settings.collection_label)
    if failures:
        data.update(_partial(failures, shards))
    return _answer(request, data, base, settings, PRESENTATION3_CONTEXT, bool(failures))


@router.get("/", response_class=HTMLResponse, summary="Landing page listing the indexed books (every shard)")
async def home(request: Request, base: BaseUrlDep) -> Response:
    shards = _shards(request)
    books, failures = await _all_books(shards)
    notice = _partial_notice(failures, shards) if failures else ""
    response = home_page(request, books, base, notice)
    if failures:
        response.headers["Cache-Control"] = "no-store"
    return response
