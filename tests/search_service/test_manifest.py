"""/iiif/{book}/manifest: the source manifest, same Presentation version, with our search services first."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from indexer.index.store import Store
from indexer.model import BASE_URL_MARKER
from search_service.search.services import is_search_service, with_search_services
from search_service.settings import Settings
from search_service.web.app import create_app
from search_service.web.routes import manifest as manifest_routes
from tests.conftest import TEST_HOSTS
from tests.search_service.conftest import BASE, Corpus, build_book, same_shape, total_v2

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
    again = await client.get(
        "/iiif/fish/manifest", headers={"If-None-Match": response.headers["etag"], "Accept": "application/ld+json"}
    )
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


# -- kept per book and snapshot, built in the costly lane (#23) ------------------------------------


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Builds]:
    """Counts the manifests built; a book named in `hold` waits in its build until `release` is set."""
    counter = Builds()
    real = manifest_routes.with_search_services

    def counting(manifest: dict[str, Any], version: int, base: str, book_id: str) -> dict[str, Any]:
        counter.calls.append(book_id)
        if book_id in counter.hold:
            assert counter.release.wait(30), "never released"
        return real(manifest, version, base, book_id)

    monkeypatch.setattr(manifest_routes, "with_search_services", counting)
    yield counter
    counter.release.set()


class Builds:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.hold: set[str] = set()
        self.release = threading.Event()


async def test_a_manifest_is_built_once_and_a_conditional_get_builds_nothing(
    client: httpx.AsyncClient, builds: Builds
) -> None:
    """Was: every request built the manifest again, a 304 included (~75 ms for 4,164 canvases)."""
    first = await client.get("/iiif/fish/manifest")
    assert first.status_code == 200 and builds.calls == ["fish"]
    etag = first.headers["etag"]
    for _ in range(3):
        assert (await client.get("/iiif/fish/manifest", headers={"If-None-Match": etag})).status_code == 304
        again = await client.get("/iiif/fish/manifest")
        assert again.content == first.content and again.headers["etag"] == etag
    zipped = await client.get("/iiif/fish/manifest", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.json() == first.json()
    assert builds.calls == ["fish"]


async def test_clients_asking_at_once_share_one_build(client: httpx.AsyncClient, builds: Builds) -> None:
    """Was: fifty clients asking at once for a manifest not kept yet made fifty builds."""
    builds.hold.add("fish")
    asking = [asyncio.create_task(client.get("/iiif/fish/manifest")) for _ in range(6)]
    await asyncio.sleep(0.3)
    builds.release.set()
    answers = await asyncio.wait_for(asyncio.gather(*asking), timeout=20)
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.content for a in answers}) == 1
    assert builds.calls == ["fish"]


async def test_manifests_are_built_in_the_costly_lane(
    make_client: Callable[..., httpx.AsyncClient], builds: Builds
) -> None:
    """Was: built in the general thread pool, beside everything else and without a bound.

    One slow build holds the only costly thread: another manifest waits for it at most
    `search_wait` and gets a 503, as a costly search does; /health and cheap searches go on.
    """
    builds.hold.add("fish")
    async with make_client(heavy_search_threads=1, search_wait=0.5) as client:
        held = asyncio.create_task(client.get("/iiif/fish/manifest"))
        await asyncio.sleep(0.2)
        try:
            refused = await asyncio.wait_for(client.get("/iiif/stanford/manifest"), timeout=20)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            assert (await client.get("/iiif/fish/search/2?q=pi*")).status_code == 503  # the same lane
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/iiif/fish/search/2?q=lima")).status_code == 200
        finally:
            builds.release.set()
        assert (await asyncio.wait_for(held, timeout=20)).status_code == 200
        assert (await client.get("/iiif/stanford/manifest")).status_code == 200


async def test_a_commit_empties_the_kept_manifests(tmp_path: Path, test_data: Path) -> None:
    """The kept manifest is the snapshot's: a book indexed again is served as it is now."""
    source = json.loads(
        (test_data / "iiif/manifests/v2/stanford_fg165hz3589_with_search1.json").read_text(encoding="utf-8")
    )
    store = Store(tmp_path)
    build_book(store, "book", source, [], 2)
    app = create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        before = await client.get("/iiif/book/manifest")
        assert before.status_code == 200
        build_book(store, "book", {**source, "label": "Indexed again"}, [], 2)
        for _ in range(100):  # the server looks for a new commit at most every 0.25 s
            await asyncio.sleep(0.05)
            after = await client.get("/iiif/book/manifest", headers={"If-None-Match": before.headers["etag"]})
            if after.status_code == 200:
                break
        assert after.status_code == 200 and after.json()["label"] == "Indexed again"
        assert after.headers["etag"] != before.headers["etag"]
