"""Annotated dependencies shared by the routes: the settings, the index snapshot, the base URL.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread
pool, a hop per dependency per request that cost more than the work they do.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

from fastapi import Depends, Request

from indexer.index.library import Library
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store
from search_service.settings import Settings
from search_service.web.auth.reader import reader_of
from search_service.web.responses import base_url


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_snapshot(request: Request) -> Snapshot:
    # At most one stat of each index directory every 0.25 s: cheap enough for the loop.
    # What the reader may read (#22): the public index, or the union of the levels it holds.
    library: Library = request.app.state.library
    return library.snapshot(reader_of(request).levels)


async def get_base_url(request: Request) -> str:
    return base_url(request, request.app.state.settings)


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]
BaseUrlDep = Annotated[str, Depends(get_base_url)]


class SearchContext(NamedTuple):
    """What every search and autocomplete handler needs, as one dependency.

    One dependency instead of three: FastAPI spends ~15 us solving each, a tenth of
    the cost of answering a repeated search from the response cache.
    """

    snapshot: Snapshot  # what the request's reader may read (#22)
    settings: Settings
    base: str


async def get_search_context(request: Request) -> SearchContext:
    settings: Settings = request.app.state.settings
    library: Library = request.app.state.library
    return SearchContext(library.snapshot(reader_of(request).levels), settings, base_url(request, settings))


SearchContextDep = Annotated[SearchContext, Depends(get_search_context)]
