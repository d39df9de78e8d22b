"""Our URL layout: every URL the search API hands out, and the links of a paged result set.

Service URLs never carry a query string (viewers append `?q=`); annotation ids are
stable, the same words giving the same id in every response whatever the query.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from indexer.model import BASE_URL_MARKER
from search_service.search.hits import Hit


def _scope(base: str, book_id: str | None) -> str:
    return f"{base}/iiif" if book_id is None else f"{base}/iiif/{_quoted(book_id)}"


@functools.lru_cache(maxsize=4096)
def _quoted(book_id: str) -> str:
    """A book id as one URL path segment (cached: a result page names a book in every id)."""
    return quote(book_id, safe="")


def search_url(base: str, book_id: str | None, version: int) -> str:
    """The search service of one book (or of every book when None), Search `version`."""
    return f"{_scope(base, book_id)}/search/{version}"


def autocomplete_url(base: str, book_id: str | None, version: int) -> str:
    """The autocomplete service of one book (or of every book when None)."""
    return f"{_scope(base, book_id)}/autocomplete/{version}"


def manifest_url(base: str, book_id: str) -> str:
    """Where we serve a book's manifest, with our services in it."""
    return f"{_scope(base, book_id)}/manifest"


def resolved(url: str, base: str) -> str:
    """A stored URL with the public base URL in place of BASE_URL_MARKER (folder books' canvases and images).

    For URLs that end up inside another URL's query string, where `encode_json`'s
    replacement cannot find the marker any more (it is percent-encoded there).
    """
    return url.replace(BASE_URL_MARKER, base) if url.startswith(BASE_URL_MARKER) else url


def hit_target(hit: Hit, base: str) -> str:
    """Where a viewer opens to show a hit: `<canvas>#xywh=` of its first line, the `on` of its
    first annotation in one book's Search 1.0 answer (the viewer pages' `canvas` parameter)."""
    return (
        f"{resolved(hit.canvas_id, base)}#xywh={hit.matches[0].box.xywh}"
        if hit.matches
        else resolved(hit.canvas_id, base)
    )


def collection_url(base: str) -> str:
    """The IIIF Collection of every indexed book, which declares the collection-wide search."""
    return f"{base}/iiif/collection"


def annotation_id(base: str, book_id: str, canvas_index: int, first_word: int, last_word: int, line: int) -> str:
    """A stable id for the annotation of printed words first..last (one line) of a canvas.

    The same words give the same id in every response, whatever the query.
    """
    return f"{_scope(base, book_id)}/annotation/{canvas_index}-{first_word}-{last_word}-{line}"


def match_id(base: str, book_id: str, canvas_index: int, first_token: int, last_token: int) -> str:
    """A stable id for the annotation describing one hit (Search 2.0 `contextualizing`).

    Counted in index tokens, not printed words: two hits may fall in one printed word
    ("c'est-à-dire") but never share a token.
    """
    return f"{_scope(base, book_id)}/match/{canvas_index}-{first_token}-{last_token}"


def url_with(service: str, params: Iterable[tuple[str, str]]) -> str:
    """`service` with a query string; `q=hand is` is written `q=hand+is`, as the specs' examples do."""
    query = urlencode(list(params))
    return f"{service}?{query}" if query else service


@dataclass(frozen=True, slots=True)
class ResultLinks:
    """The URLs of one result set: the whole collection and each of its pages.

    `params` are the request parameters every page repeats (`q`, `motivation`); the
    page number is the `page` parameter, 0-based.
    """

    service: str
    params: tuple[tuple[str, str], ...]

    @property
    def collection(self) -> str:
        """The result set as a whole (2.0 AnnotationCollection, 1.0 sc:Layer)."""
        return url_with(self.service, self.params)

    def page(self, number: int) -> str:
        """Page `number` of the result set."""
        return url_with(self.service, (*self.params, ("page", str(number))))


@dataclass(frozen=True, slots=True)
class ManifestRef:
    """The manifest a hit's canvas is part of, for collection-wide results."""

    id: str
    label: str
