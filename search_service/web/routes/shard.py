"""The internal JSON API a shard answers its front under `/shard/` (#20); not in the public API docs.

Every `iiif-search serve` answers it, so any server can be a shard: `info` (its place in
the shard list, its index generation and corpus stats), `list` (its books), `books` and
`hits` (a window of a collection query's answer, ranked with the whole collection's
corpus stats the front sends), `terms` (autocomplete). The logic is
search_service/search/shard_answers.py; answers are kept in the response cache like
any search (the corpus stats are part of the key).

    /shard/info
    /shard/list
    /shard/books?q=&corpus=B,W,K&start=&size=&ranking=&depth=&hits=&fuzzy=&total=
    /shard/hits?q=&corpus=B,W,K&start=&size=&ranking=&depth=&fuzzy=&total=
    /shard/terms?q=&min=&limit=
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from indexer.index.ranking import CorpusStats
from indexer.shards import read_place
from search_service.errors import BadQuery
from search_service.search import shard_answers
from search_service.search.query import Query, parse_query
from search_service.search.shard_wire import book_to_json
from search_service.web.deps import SearchContext, SearchContextDep
from search_service.web.responses import encode_json
from search_service.web.routes.search import cached_json, required_q

router = APIRouter(tags=["shard"], include_in_schema=False)

#: The largest window or ranking prefix a front may ask for (books or hits).
MAX_WINDOW = 1_000_000


def _number(request: Request, name: str, default: int = 0) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise BadQuery(f"{name} must be a whole number", parameter=name)
    return min(int(value), MAX_WINDOW)


def _corpus(request: Request) -> CorpusStats:
    parts = (request.query_params.get("corpus") or "").split(",")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) < 19 for p in parts):
        raise BadQuery("corpus must be books,words,books_with_words (the collection's CorpusStats)", "corpus")
    books, words, with_words = (int(p) for p in parts)
    return CorpusStats(books, words, with_words)


def _query(request: Request, ctx: SearchContext) -> tuple[str, Query]:
    text = required_q(request.query_params.get("q"), ctx.settings)
    query = parse_query(text, max_length=ctx.settings.max_query_length)
    if request.query_params.get("fuzzy") == "1":
        query = query.forgiving()  # the front's fuzzy retry of a search that found nothing (#14)
    return text, query


@router.get("/shard/info")
async def shard_info(ctx: SearchContextDep) -> Response:
    place = read_place(ctx.settings.data_dir)
    body: dict[str, Any] = {
        "position": place.position if place else None,
        "count": place.count if place else None,
        **shard_answers.info(ctx.snapshot),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/shard/list")
async def shard_list(request: Request, ctx: SearchContextDep) -> Response:
    snapshot = ctx.snapshot
    return await cached_json(
        request,
        ctx,
        None,
        ("shard list",),
        False,
        lambda: encode_json(
            {"generation": snapshot.generation, "books": [book_to_json(book) for book in snapshot.books()]}
        ),
    )


@router.get("/shard/books")
async def shard_books(request: Request, ctx: SearchContextDep) -> Response:
    text, query = _query(request, ctx)
    corpus = _corpus(request)
    start, size, ranking = _number(request, "start"), _number(request, "size"), _number(request, "ranking")
    per_book = min(_number(request, "hits", ctx.settings.hits_per_book), 20)
    exact = request.query_params.get("total") == "exact"
    depth = _number(request, "depth")
    key = ("shard books", text, query, corpus, start, size, ranking, per_book, exact, depth)
    snapshot, settings, _ = ctx
    return await cached_json(
        request,
        ctx,
        None,
        key,
        query.may_be_costly,
        lambda: encode_json(
            shard_answers.books_window(
                snapshot, query, corpus, start, size, ranking, per_book, settings.query_time_limit, exact, depth
            )
        ),
    )


@router.get("/shard/hits")
async def shard_hits(request: Request, ctx: SearchContextDep) -> Response:
    text, query = _query(request, ctx)
    corpus = _corpus(request)
    start, size, ranking = _number(request, "start"), _number(request, "size"), _number(request, "ranking")
    exact = request.query_params.get("total") == "exact"
    depth = _number(request, "depth")
    key = ("shard hits", text, query, corpus, start, size, ranking, exact, depth)
    snapshot, settings, _ = ctx
    return await cached_json(
        request,
        ctx,
        None,
        key,
        query.may_be_costly,
        lambda: encode_json(
            shard_answers.hits_window(
                snapshot, query, corpus, start, size, ranking, settings.query_time_limit, exact, depth
            )
        ),
    )


@router.get("/shard/terms")
async def shard_terms(request: Request, ctx: SearchContextDep) -> Response:
    text = required_q(request.query_params.get("q"), ctx.settings)
    least = max(1, _number(request, "min", 1))
    limit = max(1, min(_number(request, "limit", ctx.settings.autocomplete_limit), 1000))
    snapshot = ctx.snapshot
    return await cached_json(
        request,
        ctx,
        None,
        ("shard terms", text, least, limit),
        False,
        lambda: encode_json(shard_answers.terms_window(snapshot, text, least, limit)),
    )
