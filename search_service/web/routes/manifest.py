"""`/iiif/{book}/manifest`: a book's manifest as indexed, with our search services in it.

Served in the Presentation version of its source (2.1 stays 2.1, 3.0 stays 3.0);
`services.with_search_services` does the editing, `encode_json` puts the public base
URL into folder books' URLs. The body is built once per book, index snapshot and
public URL, in a thread of the costly search lane, and kept in the response cache with
its gzip form (#23): a 4,164-page book's manifest (2.4 MB) cost ~75 ms of CPU on every
request, a conditional one answered 304 included.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from indexer.index.snapshot import Snapshot
from search_service.errors import UnknownBook
from search_service.search.contexts import PRESENTATION2_CONTEXT, PRESENTATION3_CONTEXT
from search_service.search.services import with_search_services
from search_service.web.deps import SearchContextDep
from search_service.web.responses import encode_json
from search_service.web.routes.search import cached_json

router = APIRouter(tags=["manifests"])


@router.api_route("/iiif/{book_id}/manifest", methods=["GET"], summary="A book's manifest with search services")
async def manifest(request: Request, book_id: str, ctx: SearchContextDep) -> Response:
    """The manifest of an indexed book, declaring our Search 1.0 and 2.0 services first."""
    snapshot, _, base = ctx
    book = snapshot.book(book_id)  # the book records are kept by the snapshot: no I/O on the loop
    if book is None:
        raise UnknownBook(f"no book {book_id!r} is indexed here")
    context = PRESENTATION3_CONTEXT if book.version == 3 else PRESENTATION2_CONTEXT
    # Costly: a manifest of thousands of canvases takes tens of milliseconds to decode, edit and encode.
    return await cached_json(
        request,
        ctx,
        context,
        ("manifest", book_id),
        True,
        lambda: _manifest_body(snapshot, book_id, book.version, base),
    )


def _manifest_body(snapshot: Snapshot, book_id: str, version: int, base: str) -> bytes:
    source = snapshot.manifest(book_id)
    if source is None:
        raise UnknownBook(f"no book {book_id!r} is indexed here")
    return encode_json(with_search_services(source, version, base, book_id), base)
