"""Every indexed book as one IIIF Presentation 3.0 Collection, with the search services of all of them (#13).

A IIIF client finds the collection-wide search here: the Search specifications say
that a service on a Collection searches the Collection (Search 2.0 §3, 1.0 §3.1), so
the Collection carries `SearchService2` first and `SearchService1` (by `profile`), each
with its autocomplete, as our manifests do (services.py).

Kept small per book, so that 10,000 books stay a few megabytes that build in a
fraction of a second: each item is the book's manifest reference (P3 §3.4: `id`,
`type`, `label`) and a `thumbnail` from the first canvas's image, read from the book's
record, never from its manifest. A Presentation 3.0 Collection has no paging of its
own (its `items` are the whole list); nothing here needs it, see docs/api.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from indexer.index.records import BookRecord
from search_service.search.contexts import PRESENTATION3_CONTEXT
from search_service.search.image_links import thumbnail
from search_service.search.services import search_services_v3
from search_service.search.urls import collection_url, manifest_url


def collection(books: Iterable[BookRecord], base: str, label: str) -> dict[str, Any]:
    """The Collection of `books` (in the order given) with the collection-wide search services.

    >>> data = collection([], "http://h", "Books")
    >>> data["id"], data["type"], [s.get("type") or s["@type"] for s in data["service"]]
    ('http://h/iiif/collection', 'Collection', ['SearchService2', 'SearchService1'])
    """
    items: list[dict[str, Any]] = []
    for book in books:
        item: dict[str, Any] = {
            "id": manifest_url(base, book.id),
            "type": "Manifest",
            "label": {"none": [book.label or book.id]},
        }
        pictures = thumbnail(book.first_image)
        if pictures is not None:
            item["thumbnail"] = pictures
        items.append(item)
    return {
        "@context": PRESENTATION3_CONTEXT,
        "id": collection_url(base),
        "type": "Collection",
        "label": {"none": [label]},
        "summary": {"en": [f"{len(items):,} books, searchable together through the services of this Collection."]},
        "service": search_services_v3(base, None),
        "items": items,
    }
