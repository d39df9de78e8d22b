"""/iiif/{book}/manifest: the source manifest, same Presentation version, with our search services first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from indexer.model import BASE_URL_MARKER
from search_service.search.services import is_search_service, with_search_services
from tests.search_service.conftest import Corpus, same_shape, total_v2

SEARCH1 = "http://iiif.io/api/search/1/search"
AUTOCOMPLETE1 = "http://iiif.io/api/search/1/autocomplete"


def example(spec_examples: Path, name: str) -> Any:
    return json.loads((spec_examples / name).read_text(encoding="utf-8"))


async def get(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


SEARCH_TYPES = ("SearchService1", "SearchService2")


def first_search_by_type(services: list[Any]) -> dict[str, Any] | None:
    """What Clover 3.3.8 takes (`Viewer.tsx`): the first service typed SearchService1 or SearchService2."""
    for service in services:
        if isinstance(service, dict) and service.get("type", service.get("@type")) in SEARCH_TYPES:
            return service
    return None


def first_with_profile(services: Any, profile: str) -> dict[str, Any] | None:
    """What manifesto's getService(profile) returns: the first service whose profile matches."""
    for service in services if isinstance(services, list) else [services]:
        if isinstance(service, dict) and service.get("profile") == profile:
            return service
    return None


async def test_v3_manifest_declares_our_services_first(client: httpx.AsyncClient, corpus: Corpus) -> None:
    served = await get(client, "/iiif/fish/manifest")
    source = corpus.manifests["fish"]
    assert served["type"] == "Manifest" and served["@context"] == source["@context"]
    assert served["id"] == "http://testserver/iiif/fish/manifest"
    assert [c["id"] for c in served["items"]] == [c["id"] for c in source["items"]]
    search2, search1 = served["service"][:2]
    assert search1 == {
        "@id": "http://testserver/iiif/fish/search/1",
        "@type": "SearchService1",
        "profile": SEARCH1,
        "service": [
            {
                "@id": "http://testserver/iiif/fish/autocomplete/1",
                "@type": "AutoCompleteService1",
                "profile": AUTOCOMPLETE1,
            }
        ],
    }
    assert search2 == {
        "id": "http://testserver/iiif/fish/search/2",
        "type": "SearchService2",
        "service": [{"id": "http://testserver/iiif/fish/autocomplete/2", "type": "AutoCompleteService2"}],
    }
    # Wellcome's own Search 1.0 service is gone: viewers would otherwise find one of the two.
    assert "wellcomecollection" not in json.dumps(served["service"])
    assert first_with_profile(served["service"], SEARCH1) is search1
    assert first_with_profile(search1["service"], AUTOCOMPLETE1) == search1["service"][0]
    # Clover takes the first service typed SearchService1 or SearchService2 (#12).
    assert first_search_by_type(served["service"]) is search2
    # Shared definitions in `services` that are not search stay.
    assert served["services"] == source["services"]


async def test_v3_manifest_with_services_validates(client: httpx.AsyncClient, test_data: Path) -> None:
    schema = json.loads((test_data / "iiif/schema/iiif_3_0.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    for book in ("fish", "folder"):
        served = await get(client, f"/iiif/{book}/manifest")
        errors = [e.message[:200] for e in validator.iter_errors(served)]
        assert errors == [], book


async def test_v3_services_match_the_spec_declarations(client: httpx.AsyncClient, spec_examples: Path) -> None:
    served = await get(client, "/iiif/fish/manifest")
    spec2 = example(spec_examples, "search2-service-declaration-with-autocomplete.json")["service"][0]
    assert same_shape(served["service"][0], spec2, frozenset()) == []
    assert (
        same_shape(
            served["service"][0],
            example(spec_examples, "search2-service-declaration.json")["service"][0],
            frozenset({"service"}),
        )
        == []
    )
    # P3 §3.3.1: a Search 1.0 service in a P3 manifest uses @id/@type and no @context of its own.
    spec1 = example(spec_examples, "search1-service-declaration-with-autocomplete.json")["service"]
    spec1 = {k: v for k, v in spec1.items() if k != "@context"}
    spec1["service"] = [spec1["service"]]
    assert same_shape(served["service"][1], spec1, frozenset({"@type"})) == []


async def test_v2_manifest_stays_v2(client: httpx.AsyncClient, corpus: Corpus, spec_examples: Path) -> None:
    served = await get(client, "/iiif/stanford/manifest")
    source = corpus.manifests["stanford"]
    assert served["@context"] == "http://iiif.io/api/presentation/2/context.json"
    assert served["@type"] == "sc:Manifest"
    assert served["@id"] == "http://testserver/iiif/stanford/manifest"
    assert "items" not in served and served["sequences"] == source["sequences"]
    search2, search1 = served["service"][:2]
    spec1 = example(spec_examples, "search1-service-declaration-with-autocomplete.json")["service"]
    assert same_shape(search1, spec1, frozenset({"label"})) == []
    assert search1["@context"] == "http://iiif.io/api/search/1/context.json"
    assert search1["@id"] == "http://testserver/iiif/stanford/search/1"
    assert search1["service"] == {"@id": "http://testserver/iiif/stanford/autocomplete/1", "profile": AUTOCOMPLETE1}
    assert search2["type"] == "SearchService2" and search2["@context"] == "http://iiif.io/api/search/2/context.json"
    # Stanford's search/0 service (same role, another server) is replaced by ours.
    assert not [s for s in served["service"][2:] if is_search_service(s)]
    assert "contentsearch.stanford.edu" not in json.dumps(served)
    assert first_with_profile(served["service"], SEARCH1) is search1
    assert first_with_profile(served["service"], "http://iiif.io/api/search/0/search") is None
    assert first_search_by_type(served["service"]) is search2


async def test_service_urls_carry_no_query_string(client: httpx.AsyncClient) -> None:
    for book in ("fish", "stanford", "folder"):
        text = json.dumps((await get(client, f"/iiif/{book}/manifest"))["service"][:2])
        for url in [u for u in text.split('"') if u.startswith("http://testserver")]:
            assert "?" not in url and "#" not in url


async def test_services_answer(client: httpx.AsyncClient) -> None:
    served = await get(client, "/iiif/stanford/manifest")
    search2, search1 = served["service"][:2]
    # Viewers build `{service @id/id}?q=<terms>` (client notes).
    assert (await client.get(search1["@id"] + "?q=verbunden")).json()["within"]["total"] == 1
    assert (await client.get(search1["service"]["@id"] + "?q=verb")).json()["terms"]
    assert total_v2((await client.get(search2["id"] + "?q=verbunden")).json()) == 1
    assert (await client.get(search2["service"][0]["id"] + "?q=verb")).json()["items"]


async def test_folder_manifest_urls_are_public(client: httpx.AsyncClient, make_client: Any) -> None:
    served = await get(client, "/iiif/folder/manifest")
    text = json.dumps(served)
    assert BASE_URL_MARKER not in text
    assert served["id"] == "http://testserver/iiif/folder/manifest"
    assert served["items"][0]["id"] == "http://testserver/iiif/folder/canvas/p1"
    async with make_client(public_url="https://books.example.org/") as other:
        served = await get(other, "/iiif/folder/manifest")
    assert served["items"][0]["id"] == "https://books.example.org/iiif/folder/canvas/p1"
    assert served["service"][1]["@id"] == "https://books.example.org/iiif/folder/search/1"


async def test_unknown_book_is_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/iiif/no-such-book/manifest")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "no book 'no-such-book' is indexed here", "status": 404}


async def test_manifest_http(client: httpx.AsyncClient) -> None:
    response = await client.get("/iiif/fish/manifest", headers={"Accept": "application/ld+json"})
    assert (
        response.headers["content-type"]
        == 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
    )
    v2 = await client.get("/iiif/stanford/manifest", headers={"Accept": "application/ld+json"})
    assert v2.headers["content-type"] == 'application/ld+json;profile="http://iiif.io/api/presentation/2/context.json"'
    assert response.headers["access-control-allow-origin"] == "*"
    again = await client.get("/iiif/fish/manifest", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    head = await client.head("/iiif/fish/manifest")
    assert head.status_code == 200 and head.content == b""


def test_source_manifest_is_not_changed(corpus: Corpus) -> None:
    source = corpus.manifests["stanford"]
    before = json.dumps(source, sort_keys=True)
    with_search_services(source, 2, "https://x", "stanford")
    assert json.dumps(source, sort_keys=True) == before


def test_single_service_object_is_kept_beside_ours() -> None:
    image = {"@context": "http://example.org/other", "@id": "https://x/other", "profile": "https://x/p"}
    served = with_search_services({"@id": "m", "service": image}, 2, "https://h", "b")
    assert served["service"][2:] == [image]
    assert with_search_services({"id": "m"}, 3, "https://h", "b")["service"][1]["@type"] == "SearchService1"
