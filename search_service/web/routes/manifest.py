"""`/iiif/{book}/manifest`: a book's manifest as indexed, with our search services in it.

Served in the Presentation version of its source (2.1 stays 2.1, 3.0 stays 3.0);
`services.with_search_services` does the editing, `resolve_markers` puts the public
base URL into folder books' URLs.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from search_service.errors import UnknownBook
from search_service.search.contexts import PRESENTATION2_CONTEXT, PRESENTATION3_CONTEXT
from search_service.search.services import with_search_services
from search_service.web.deps import BaseUrlDep, SettingsDep, SnapshotDep
from search_service.web.responses import json_ld_response, resolve_markers

router = APIRouter(tags=["manifests"])


@router.api_route("/iiif/{book_id}/manifest", methods=["GET"], summary="A book's manifest with search services")
def manifest(
    request: Request, book_id: str, snapshot: SnapshotDep, settings: SettingsDep, base: BaseUrlDep
) -> Response:
    """The manifest of an indexed book, declaring our Search 1.0 and 2.0 services first."""
    book = snapshot.book(book_id)
    source = snapshot.manifest(book_id)
    if book is None or source is None:
        raise UnknownBook(f"no book {book_id!r} is indexed here")
    data = resolve_markers(with_search_services(source, book.version, base, book_id), base)
    context = PRESENTATION3_CONTEXT if book.version == 3 else PRESENTATION2_CONTEXT
    return json_ld_response(request, data, context=context, settings=settings)
