"""create_app(settings) -> FastAPI: routers, middleware and error handlers; nothing else."""

from __future__ import annotations

import gc

import anyio
from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from indexer.index.library import Library
from search_service.settings import Settings
from search_service.web.auth.headers import AccessHeaders
from search_service.web.auth.reader import Access
from search_service.web.error_handlers import install_error_handlers
from search_service.web.load_sharing import ShareLoad
from search_service.web.middleware import IiifHttpMiddleware
from search_service.web.response_cache import GZIP_LEVEL, GZIP_MINIMUM, ResponseCache
from search_service.web.routes import (
    admin,
    auth,
    books,
    collection,
    docs,
    front,
    health,
    home,
    image,
    manifest,
    search,
    shard,
    viewer,
)
from search_service.web.shard_client import Shards

__version__ = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application around one Settings object and the Library of its data directory."""
    settings = settings or Settings()
    app = FastAPI(
        title="IIIF Content Search",
        version=__version__,
        description="IIIF Content Search 2.0 and 1.0 with autocomplete over OCR'd books, "
        "collection-wide search, and an embedded IIIF Image API (level 1).",
        # Our own /docs (routes/docs.py) serves Swagger UI from npm, not from a CDN; no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    if settings.gc_threshold:
        # Per process: collections of the youngest generation walked the thousands of
        # short-lived objects each search builds (measured: 14.5 -> 12.4 ms a search).
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(settings.gc_threshold, older, oldest)
    # One index per access level (#22); the public one is the Store most code needs.
    app.state.library = Library(settings.data_dir)
    app.state.store = app.state.library.store("public")
    # Who may read restricted books (#22): the one access check every route asks (web/auth/reader.py).
    app.state.access = Access.for_settings(settings.auth_secret, settings.data_dir)
    app.state.responses = ResponseCache(settings.response_cache_mb * 1_000_000)
    # Searches not answered from the cache are built in threads, costly ones apart (routes/search.py).
    app.state.search_threads = anyio.CapacityLimiter(settings.search_threads)
    app.state.costly_search_threads = anyio.CapacityLimiter(settings.heavy_search_threads)
    install_error_handlers(app)
    # Routes are matched in order, a few microseconds each: the searches come first, the rarely
    # asked (login, admin, docs) last; a cached search's cost grew by a third with them ahead (#22).
    app.include_router(health.router)
    if settings.shard_urls():
        # The front of a sharded collection (#20): books and collection answers come from the shards.
        shards = Shards(settings.shard_urls(), settings.shard_timeout)
        app.state.shards = shards
        app.router.on_shutdown.append(shards.close)
        app.include_router(front.router)
    else:
        app.include_router(search.router)
        app.include_router(image.router)
        app.include_router(manifest.router)
        app.include_router(books.router)
        app.include_router(home.router)
        app.include_router(collection.router)
        # Adding and removing books over HTTP (#22): API keys, the job queue and its runner.
        admin.install(app)
    # Every server can be a shard: the internal API its front asks (routes/shard.py).
    app.include_router(shard.router)
    # The login, clickthrough, token, probe and logout services of restricted books (#22).
    app.include_router(auth.router)
    app.include_router(viewer.router)
    app.include_router(docs.router)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM, compresslevel=GZIP_LEVEL)
    # With a public URL configured the Host changes nothing in a response, so it is not checked.
    allowed_hosts = None if settings.public_url else settings.allowed_hosts
    app.add_middleware(AccessHeaders)  # Vary and private caching once books are restricted (#22)
    app.add_middleware(IiifHttpMiddleware, allow_origin=settings.cors_origins, allowed_hosts=allowed_hosts)
    app.add_middleware(ShareLoad)  # outermost: counts every request a worker has in flight
    return app
