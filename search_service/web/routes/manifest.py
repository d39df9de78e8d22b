"""`/iiif/{book}/manifest`: a book's manifest as indexed, with our search services in it.

Served in the Presentation version of its source (2.1 stays 2.1, 3.0 stays 3.0);
`services.with_search_services` does the editing, `encode_json` puts the public base
URL into folder books' URLs. The body is built once per book, index snapshot and
public URL, in a thread of the costly search lane, and kept in the response cache with
its gzip form (#23): a 4,164-page book's manifest (2.4 MB) cost ~75 ms of CPU on every
request, a conditional one answered 304 included.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from indexer.index.snapshot import Snapshot
from indexer.model import BASE_URL_MARKER
from search_service.errors import UnknownBook
from search_service.search.contexts import PRESENTATION2_CONTEXT, PRESENTATION3_CONTEXT
from search_service.search.services import with_search_services
from search_service.web.auth.gate import library_of
from search_service.web.auth.services import auth_services
from search_service.web.deps import SearchContextDep
from search_service.web.responses import encode_json
from search_service.web.routes.search import cached_json

router = APIRouter(tags=["manifests"])


@router.api_route("/iiif/{book_id}/manifest", methods=["GET"], summary="A book's manifest with search services")
async def manifest(request: Request, book_id: str, ctx: SearchContextDep) -> Response:
    """The manifest of an indexed book, declaring our Search 1.0 and 2.0 services first."""
    _, _, base = ctx
    # Every reader gets the manifest, a restricted book's too (#22): its labels are the
    # catalogue's, and the viewer finds there the login its images and search ask for.
    library = library_of(request)
    access = library.access_of(book_id)
    snapshot = library.store(access).snapshot() if access is not None else None
    book = snapshot.book(book_id) if snapshot is not None else None  # kept by the snapshot: no I/O on the loop
    if snapshot is None or book is None or access is None:
        raise UnknownBook(f"no book {book_id!r} is indexed here")
    context = PRESENTATION3_CONTEXT if book.version == 3 else PRESENTATION2_CONTEXT
    # Costly: a manifest of thousands of canvases takes tens of milliseconds to decode, edit and encode.
    return await cached_json(
        request,
        ctx,
        context,
        ("manifest", book_id),
        True,
        lambda: _manifest_body(snapshot, book_id, book.version, base, access),
    )


def _manifest_body(snapshot: Snapshot, book_id: str, version: int, base: str, access: str) -> bytes:
    source = snapshot.manifest(book_id)
    if source is None:
        raise UnknownBook(f"no book {book_id!r} is indexed here")
    manifest = with_search_services(source, version, base, book_id)
    if access != "public":
        _add_auth_services(
            manifest, auth_services(base, book_id, access), (f"{BASE_URL_MARKER}/iiif/image/", f"{base}/iiif/image/")
        )
    return encode_json(manifest, base)


def _add_auth_services(node: Any, services: list[dict[str, Any]], prefixes: tuple[str, ...]) -> None:
    """Give every image service of ours in the manifest the book's auth services (#22).

    Viewers read them there or from info.json; only our own image endpoint's services
    are guarded, so only they say so (a remote image server has its own rules).
    """
    if isinstance(node, list):
        for item in node:
            _add_auth_services(item, services, prefixes)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _add_auth_services(value, services, prefixes)
    service_id = node.get("id", node.get("@id"))
    kind = str(node.get("type", node.get("@type", "")))
    if (
        isinstance(service_id, str)
        and service_id.startswith(prefixes)
        and (kind.startswith("ImageService") or "profile" in node)
    ):
        existing = node.get("service", [])
        node["service"] = [*(existing if isinstance(existing, list) else [existing]), *services]
