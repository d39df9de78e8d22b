"""`/iiif/collection`: every indexed book as one IIIF Presentation 3.0 Collection with the collection-wide search (#13).

The body (collection.py) is built once per index snapshot and public URL, in a search
thread, and kept in the response cache like a search answer: 10,000 books are a few
megabytes, served from memory (gzipped when asked) after the first request.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from search_service.search.collection import collection
from search_service.search.contexts import PRESENTATION3_CONTEXT
from search_service.web.deps import SearchContextDep
from search_service.web.responses import encode_json
from search_service.web.routes.search import cached_json

router = APIRouter(tags=["collection"])


@router.get(
    "/iiif/collection",
    summary="Every book as one IIIF Collection",
    description="A Presentation 3.0 Collection of every indexed book (label, thumbnail, manifest), declaring the "
    "collection-wide Search 2.0 and 1.0 services with their autocomplete.",
)
async def collection_of_books(request: Request, ctx: SearchContextDep) -> Response:
    snapshot, settings, base = ctx
    return await cached_json(
        request,
        ctx,
        PRESENTATION3_CONTEXT,
        ("collection", settings.collection_label),
        False,
        lambda: encode_json(collection(snapshot.books(), base, settings.collection_label), base),
    )
