"""The search service blocks added to the manifests we serve.

`with_search_services` puts our Search 2.0 and 1.0 services first in a manifest's
`service` list and drops any search service it already declared, since Mirador and UV
take the first service whose `profile` matches and Clover the first whose type is a
search service. URLs come from urls.py, context URIs from contexts.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from search_service.search.contexts import AUTOCOMPLETE1_PROFILE, SEARCH1_CONTEXT, SEARCH1_PROFILE, SEARCH2_CONTEXT
from search_service.search.urls import autocomplete_url, manifest_url, search_url

# Search 0.9 and 1.0 profiles (Stanford's manifests still declare search/0), any version.
_SEARCH_PROFILE = re.compile(r"^https?://iiif\.io/api/search/\d+/(search|autocomplete)$")
_SEARCH_TYPES = frozenset({"SearchService1", "SearchService2", "AutoCompleteService1", "AutoCompleteService2"})


def search_services_v2(base: str, book_id: str) -> list[dict[str, Any]]:
    """The service blocks for a Presentation 2.1 manifest: Search 2.0 first, then 1.0.

    Search 1.0 §3.1 / §4.1: `@context`, `@id` and `profile`, the autocomplete service
    nested in it. The 2.0 block carries its own `@context` so that `id`/`type` mean
    what they do in Search 2.0 §3 inside a 2.1 document. 2.0 comes first because Clover
    takes the first service typed `SearchService1` or `SearchService2` (#12); Mirador
    and UV find the 1.0 block by its `profile`, wherever it is.
    """
    return [_search2_block(base, book_id, with_context=True), _search1_block_v2(base, book_id)]


def _search2_block(base: str, book_id: str | None, *, with_context: bool) -> dict[str, Any]:
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


def search_services_v3(base: str, book_id: str | None) -> list[dict[str, Any]]:
    """The service blocks for a Presentation 3.0 manifest: SearchService2 first, then SearchService1.

    P3 §3.3.1: services of older specifications keep `@id`/`@type` (a block with both
    `id` and `@id` fails the P3 schema's oneOf) and carry no `@context` of their own;
    `service` is an array also when nested. Viewers find the 1.0 block by `profile`;
    Clover takes the first search service by type, so 2.0 comes first (#12). With
    `book_id` None, the services of every book, for the Collection of every book (#13).
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
