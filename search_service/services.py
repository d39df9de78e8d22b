"""Our URL layout, and the search service blocks added to the manifests we serve.

Every URL the search API hands out is built here: the service URLs declared in
manifests (never with a query string: viewers append `?q=`), result page URLs,
annotation ids. `with_search_services` puts our Search 2.0 and 1.0 services first in
a manifest's `service` list and drops any search service it already declared, since
Mirador and UV take the first service whose `profile` matches and Clover the first
whose type is a search service.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

PRESENTATION2_CONTEXT = "http://iiif.io/api/presentation/2/context.json"
PRESENTATION3_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
SEARCH1_CONTEXT = "http://iiif.io/api/search/1/context.json"
SEARCH2_CONTEXT = "http://iiif.io/api/search/2/context.json"
SEARCH1_PROFILE = "http://iiif.io/api/search/1/search"
AUTOCOMPLETE1_PROFILE = "http://iiif.io/api/search/1/autocomplete"

# Search 0.9 and 1.0 profiles (Stanford's manifests still declare search/0), any version.
_SEARCH_PROFILE = re.compile(r"^https?://iiif\.io/api/search/\d+/(search|autocomplete)$")
_SEARCH_TYPES = frozenset({"SearchService1", "SearchService2", "AutoCompleteService1", "AutoCompleteService2"})


# -- URLs -------------------------------------------------------------------------------


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


# -- service blocks in manifests --------------------------------------------------------------


def search_services_v2(base: str, book_id: str) -> list[dict[str, Any]]:
    """The service blocks for a Presentation 2.1 manifest: Search 2.0 first, then 1.0.

    Search 1.0 §3.1 / §4.1: `@context`, `@id` and `profile`, the autocomplete service
    nested in it. The 2.0 block carries its own `@context` so that `id`/`type` mean
    what they do in Search 2.0 §3 inside a 2.1 document. 2.0 comes first because Clover
    takes the first service typed `SearchService1` or `SearchService2` (#12); Mirador
    and UV find the 1.0 block by its `profile`, wherever it is.
    """
    return [_search2_block(base, book_id, with_context=True), _search1_block_v2(base, book_id)]


def _search2_block(base: str, book_id: str, *, with_context: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"@context": SEARCH2_CONTEXT} if with_context else {}
    block["id"] = search_url(base, book_id, 2)
    block["type"] = "SearchService2"
    block["service"] = [{"id": autocomplete_url(base, book_id, 2), "type": "AutoCompleteService2"}]
    return block


def _search1_block_v2(base: str, book_id: str) -> dict[str, Any]:
    return {
        "@context": SEARCH1_CONTEXT,
        "@id": search_url(base, book_id, 1),
        "profile": SEARCH1_PROFILE,
        "label": "Search within this book",
        "service": {"@id": autocomplete_url(base, book_id, 1), "profile": AUTOCOMPLETE1_PROFILE},
    }


def search_services_v3(base: str, book_id: str) -> list[dict[str, Any]]:
    """The service blocks for a Presentation 3.0 manifest: SearchService2 first, then SearchService1.

    P3 §3.3.1: services of older specifications keep `@id`/`@type` (a block with both
    `id` and `@id` fails the P3 schema's oneOf) and carry no `@context` of their own;
    `service` is an array also when nested. Viewers find the 1.0 block by `profile`;
    Clover takes the first search service by type, so 2.0 comes first (#12).
    """
    return [
        _search2_block(base, book_id, with_context=False),
        {
            "@id": search_url(base, book_id, 1),
            "@type": "SearchService1",
            "profile": SEARCH1_PROFILE,
            "service": [
                {
                    "@id": autocomplete_url(base, book_id, 1),
                    "@type": "AutoCompleteService1",
                    "profile": AUTOCOMPLETE1_PROFILE,
                }
            ],
        },
    ]


def is_search_service(service: Any) -> bool:
    """True for a Content Search or autocomplete service block of any version."""
    if not isinstance(service, dict):
        return False
    kinds = {service.get("type"), service.get("@type")}
    if kinds & _SEARCH_TYPES:
        return True
    profiles = service.get("profile")
    for profile in profiles if isinstance(profiles, list) else [profiles]:
        if isinstance(profile, str) and _SEARCH_PROFILE.match(profile):
            return True
    return False


def with_search_services(manifest: dict[str, Any], version: int, base: str, book_id: str) -> dict[str, Any]:
    """A copy of `manifest` as we serve it: our id, our search services first, theirs gone.

    - the id becomes the URL we serve it at (P3 §5.2 / P2.1 §5.1: the id dereferences to
      this very JSON), so a collection-wide hit's `partOf`/`within` leads to a manifest
      that declares our search; canvases keep their ids, which search results target;
    - any search or autocomplete service it declared (Wellcome's, Stanford's search/0)
      is dropped: manifesto's `getService(profile)` takes the first match, so an older
      service left in place would win or confuse; ours come first in `service`, 2.0 before
      1.0 (Clover takes the first search service by type, Mirador and UV the 1.0 profile).

    >>> with_search_services({"id": "x", "type": "Manifest"}, 3, "http://h", "b")["service"][0]["type"]
    'SearchService2'
    """
    served = dict(manifest)
    if version == 3:
        served["id"] = manifest_url(base, book_id)
        ours = search_services_v3(base, book_id)
    else:
        served["@id"] = manifest_url(base, book_id)
        ours = search_services_v2(base, book_id)
    served["service"] = [*ours, *_others(manifest.get("service"))]
    if "services" in manifest and isinstance(manifest["services"], list):
        # P3 §3.3.1 `services`: shared definitions; a search one there would describe a service we removed.
        served["services"] = [s for s in manifest["services"] if not is_search_service(s)]
        if not served["services"]:
            del served["services"]
    return served


def _others(services: Any) -> Sequence[Any]:
    """The declared services that are not search services (P2.1 allows one object or a list)."""
    if services is None:
        return []
    listed = services if isinstance(services, list) else [services]
    return [s for s in listed if not is_search_service(s)]
