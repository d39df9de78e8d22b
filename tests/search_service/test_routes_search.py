"""The search and autocomplete routes over HTTP: URL layout, paging by `next`, filters, odd input, HTTP features."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.index.store import Store
from search_service.settings import Settings
from search_service.web.app import create_app
from search_service.web.response_cache import ENTRY_BYTES, CachedBody, ResponseCache, key_bytes
from search_service.web.responses import gzip_etag
from tests.conftest import TEST_HOSTS
from tests.search_service.conftest import BASE, Corpus, total_v2

ON = re.compile(r"^(?P<canvas>[^#]+)#xywh=(\d+),(\d+),(\d+),(\d+)$")


async def get(client: httpx.AsyncClient, url: str, status: int = 200) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def local(url: str) -> str:
    assert url.startswith(BASE)
    return url.removeprefix(BASE)


# -- paging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["/iiif/fish", "/iiif"])
async def test_walking_next_in_1_0_visits_every_hit_once(
    make_client: Callable[..., httpx.AsyncClient], scope: str
) -> None:
    async with make_client(page_size=97) as client:
        everything = await get(client, f"{scope}/search/1?q=de+la")
        url: str | None = everything["@id"]
        total = everything["within"]["total"]
        assert total > 20
        seen: list[str] = []
        previous: str | None = None
        while url is not None:
            page = await get(client, local(url))
            assert page["within"]["total"] == total
            assert page["within"]["first"] == everything["within"]["first"]
            assert page["startIndex"] == len(seen)
            assert page.get("prev") == previous
            seen.extend("|".join(h["annotations"]) for h in page["hits"])
            previous, url = page["@id"], page.get("next")
        assert len(seen) == total == len(set(seen))
        assert previous == everything["within"]["last"]


@pytest.mark.parametrize("scope", ["/iiif/fish", "/iiif"])
async def test_walking_next_in_2_0_visits_every_hit_once(
    make_client: Callable[..., httpx.AsyncClient], scope: str
) -> None:
    async with make_client(page_size=89) as client:
        first = await get(client, f"{scope}/search/2?q=de+la")
        (collection,) = first["partOf"]
        seen: list[str] = []
        url: str | None = collection["first"]["id"]
        previous: dict[str, str] | None = None
        while url is not None:
            page = await get(client, local(url))
            assert page["partOf"] == [collection]
            assert page["startIndex"] == len(seen)
            assert page.get("prev") == previous
            if page["items"]:
                seen.extend(c["id"] for c in page["annotations"][0]["items"])  # one per hit
            previous = {"id": page["id"], "type": "AnnotationPage"}
            url = page["next"]["id"] if "next" in page else None
        assert len(seen) == collection["total"] == len(set(seen))
        assert previous == collection["last"]


async def test_hits_come_in_reading_order(client: httpx.AsyncClient, corpus: Corpus) -> None:
    page = await get(client, "/iiif/fish/search/1?q=de+la")
    canvases = [c["id"] for c in corpus.manifests["fish"]["items"]]
    positions = []
    for resource in page["resources"]:
        match = ON.match(resource["on"])
        assert match
        positions.append(canvases.index(match["canvas"]))
    assert positions == sorted(positions)


async def test_page_past_the_end_is_empty_with_a_way_back(client: httpx.AsyncClient) -> None:
    page = await get(client, "/iiif/stanford/search/2?q=verbunden&page=5")
    assert page["items"] == [] and total_v2(page) == 1
    assert page["prev"]["id"].endswith("page=0") and "next" not in page


# -- the query language over HTTP -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "status", "total"),
    [
        ("AND", 200, None),  # a plain word, not an operator
        ("(", 200, 0),
        (")", 200, 0),
        ("*", 200, 0),
        ('"', 200, 0),
        ('""', 200, 0),
        ("OR NOT", 200, None),
        ("title:x", 200, None),
        ("a*", 200, None),
        ("x" * 10_000, 400, None),
        ("", 400, None),
        ("   ", 400, None),
    ],
)
@pytest.mark.parametrize("version", [1, 2])
async def test_odd_queries(client: httpx.AsyncClient, q: str, status: int, total: int | None, version: int) -> None:
    response = await client.get(f"/iiif/fish/search/{version}", params={"q": q})
    assert response.status_code == status, response.text
    if status == 200:
        body = response.json()
        found = body["within"]["total"] if version == 1 else total_v2(body)
        if total is not None:
            assert found == total
    else:
        assert response.json()["parameter"] == "q"


@pytest.mark.parametrize("version", [1, 2])
async def test_missing_q_is_a_400(client: httpx.AsyncClient, version: int) -> None:
    body = await get(client, f"/iiif/fish/search/{version}", status=400)
    assert body == {"error": "q is required: the words to look for", "status": 400, "parameter": "q"}


async def test_case_and_accent_insensitive(client: httpx.AsyncClient) -> None:
    totals = {
        q: (await get(client, f"/iiif/fish/search/1?q={q}"))["within"]["total"] for q in ("perou", "PÉROU", "Pérou")
    }
    assert len(set(totals.values())) == 1 and totals["perou"] > 10


async def test_phrase_and_words(client: httpx.AsyncClient) -> None:
    phrase = await get(client, '/iiif/stanford/search/1?q="drückt die"')
    words = await get(client, "/iiif/stanford/search/1?q=drückt die")
    assert phrase["within"]["total"] == 1
    assert words["within"]["total"] > phrase["within"]["total"]
    assert "drückt die" in [h["match"] for h in words["hits"]]


async def test_annotation_ids_are_stable_across_queries(client: httpx.AsyncClient) -> None:
    exact = await get(client, "/iiif/stanford/search/1?q=Oszilliation")
    prefix = await get(client, "/iiif/stanford/search/1?q=oszill*")
    assert exact["resources"][0]["@id"] == prefix["resources"][0]["@id"]
    assert re.fullmatch(r"http://testserver/iiif/stanford/annotation/\d+-\d+-\d+-\d+", exact["resources"][0]["@id"])


@pytest.fixture(scope="module")
def fuzz_app(corpus: Corpus) -> Any:
    return create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=corpus.data_dir, page_size=5))


@settings(max_examples=60, deadline=None)
@given(q=st.text(max_size=80), version=st.sampled_from([1, 2]), kind=st.sampled_from(["search", "autocomplete"]))
def test_arbitrary_text_never_gives_a_500(fuzz_app: Any, q: str, version: int, kind: str) -> None:
    app = fuzz_app

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            return await client.get(f"/iiif/stanford/{kind}/{version}", params={"q": q})

    response = asyncio.run(ask())
    assert response.status_code in (200, 400), response.text
    assert isinstance(response.json(), dict)


# -- motivation, ignored parameters ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "motivation", "expect_hits"),
    [
        (2, "highlighting", True),
        (2, "painting", False),
        (2, "commenting highlighting", True),
        (2, "", True),
        (1, "painting", True),
        (1, "sc:painting", True),
        (1, "non-painting", False),
        (1, "commenting", False),
    ],
)
async def test_motivation_filter(client: httpx.AsyncClient, version: int, motivation: str, expect_hits: bool) -> None:
    body = await get(client, f"/iiif/stanford/search/{version}?q=verbunden&motivation={motivation}")
    total = body["within"]["total"] if version == 1 else total_v2(body)
    assert (total > 0) is expect_hits
    assert "ignored" not in body and "ignored" not in body.get("within", {})
    if motivation:
        assert f"motivation={motivation.replace(' ', '+').replace(':', '%3A')}" in (
            body["@id"] if version == 1 else body["id"]
        )


async def test_date_and_user_are_ignored_and_reported(client: httpx.AsyncClient) -> None:
    v2 = await get(client, "/iiif/stanford/search/2?q=verbunden&date=2020-01-01T00:00:00Z/2021-01-01T00:00:00Z&user=u")
    assert v2["ignored"] == ["date", "user"] and total_v2(v2) == 1
    v1 = await get(client, "/iiif/stanford/autocomplete/1?q=verb&user=u")
    assert v1["ignored"] == ["user"]


# -- autocomplete ------------------------------------------------------------------------------------


async def test_autocomplete_min_order_and_limit(make_client: Callable[..., httpx.AsyncClient]) -> None:
    async with make_client(autocomplete_limit=5) as client:
        everything = await get(client, "/iiif/fish/autocomplete/1?q=d")
        frequent = await get(client, "/iiif/fish/autocomplete/2?q=d&min=50")
    matches = [t["match"] for t in everything["terms"]]
    assert len(matches) == 5 and matches == sorted(matches)
    assert frequent["items"] and all(t["total"] >= 50 for t in frequent["items"])
    assert frequent["id"].endswith("?q=d&min=50")


async def test_autocomplete_across_books(client: httpx.AsyncClient) -> None:
    body = await get(client, "/iiif/autocomplete/2?q=verb")
    assert [t["value"] for t in body["items"]][:1]
    assert all(t["service"][0]["id"].startswith("http://testserver/iiif/search/2?q=") for t in body["items"])
    assert body["id"] == "http://testserver/iiif/autocomplete/2?q=verb"


@pytest.mark.parametrize("q", ["green bir", "(", "*"])
async def test_autocomplete_of_unusable_strings_is_empty(client: httpx.AsyncClient, q: str) -> None:
    assert (await client.get("/iiif/fish/autocomplete/1", params={"q": q})).json()["terms"] == []


@pytest.mark.parametrize("url", ["/iiif/fish/autocomplete/1", "/iiif/fish/autocomplete/2?q=", "/iiif/autocomplete/2"])
async def test_autocomplete_needs_q(client: httpx.AsyncClient, url: str) -> None:
    assert (await get(client, url, status=400))["parameter"] == "q"


# -- collection-wide and folder books -----------------------------------------------------------------


async def test_folder_book_canvas_ids_are_public(
    client: httpx.AsyncClient, make_client: Callable[..., httpx.AsyncClient]
) -> None:
    body = await get(client, "/iiif/folder/search/1?q=alice")
    assert body["within"]["total"] > 0
    assert all(r["on"].startswith("http://testserver/iiif/folder/canvas/p") for r in body["resources"])
    async with make_client(public_url="https://books.example.org") as other:
        body2 = await get(other, "/iiif/search/2?q=alice")
    assert all(i["target"]["id"].startswith("https://books.example.org/iiif/folder/canvas/") for i in body2["items"])
    assert body2["items"][0]["target"]["partOf"]["id"] == "https://books.example.org/iiif/folder/manifest"
    assert "urn:" not in str(body2)


# -- HTTP --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "profile"),
    [
        ("/iiif/fish/search/2?q=roi", "http://iiif.io/api/search/2/context.json"),
        ("/iiif/fish/search/1?q=roi", "http://iiif.io/api/presentation/2/context.json"),
        ("/iiif/fish/autocomplete/2?q=ro", "http://iiif.io/api/search/2/context.json"),
        ("/iiif/fish/autocomplete/1?q=ro", "http://iiif.io/api/search/1/context.json"),
    ],
)
async def test_json_ld_on_request(client: httpx.AsyncClient, url: str, profile: str) -> None:
    plain = await client.get(url)
    assert plain.headers["content-type"] == "application/json"
    linked = await client.get(url, headers={"Accept": "application/ld+json"})
    assert linked.headers["content-type"] == f'application/ld+json;profile="{profile}"'
    assert linked.json() == plain.json()


async def test_cors_head_etag_cache_control_gzip(client: httpx.AsyncClient) -> None:
    response = await client.get("/iiif/fish/search/1?q=de", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"].startswith("private, max-age=")  # no public URL configured
    assert response.headers["content-encoding"] == "gzip"
    etag = response.headers["etag"]
    assert etag.endswith('-gzip"')  # the gzip form is another representation, with its own tag
    again = await client.get("/iiif/fish/search/1?q=de", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    head = await client.head("/iiif/fish/search/1?q=de", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag.replace("-gzip", "")
    raw = await client.get("/iiif/fish/search/1?q=de", headers={"Accept-Encoding": "identity"})
    assert len(gzip.compress(raw.content)) < len(raw.content)


@pytest.mark.parametrize(
    "url",
    [
        "/iiif/nope/search/1?q=a",
        "/iiif/nope/search/2?q=a",
        "/iiif/nope/autocomplete/1?q=a",
        "/iiif/nope/autocomplete/2?q=a",
    ],
)
async def test_unknown_book_is_404_json(client: httpx.AsyncClient, url: str) -> None:
    assert await get(client, url, status=404) == {"error": "no book 'nope' is indexed here", "status": 404}


async def test_the_index_changes_under_a_running_server(tmp_path: Path, corpus: Corpus) -> None:
    """A book indexed after start-up is searchable without a restart (Store refreshes its snapshot)."""
    # The fuzzy retry off: once the page is gone, "nothing" must mean nothing, not near spellings elsewhere.
    app = create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=tmp_path, fuzzy_fallback=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        assert (await client.get("/iiif/stanford/search/1?q=verbunden")).status_code == 404
        assert total_v2(await get(client, "/iiif/search/2?q=verbunden")) == 0
        book = Store(corpus.data_dir).snapshot().book("stanford")
        assert book is not None
        Store(tmp_path).replace_book(book, corpus.records["stanford"])
        await asyncio.sleep(0.3)  # the Store looks at the disk at most every 0.25 s
        body = await get(client, "/iiif/stanford/search/1?q=verbunden")
        assert body["within"]["total"] == 1
        # Responses kept for repeated requests never outlive the index state they came from.
        assert total_v2(await get(client, "/iiif/search/2?q=verbunden")) == 1
        Store(tmp_path).replace_book(book, corpus.records["stanford"][1:])  # without the page holding it
        await asyncio.sleep(0.3)
        assert (await get(client, "/iiif/stanford/search/1?q=verbunden"))["within"]["total"] == 0


async def test_a_repeated_request_is_answered_from_the_response_cache(client: httpx.AsyncClient) -> None:
    """Same bytes and ETag the second time, without searching again; other parameters are other entries."""
    first = await client.get("/iiif/fish/search/1?q=inca")
    cache = client._transport.app.state.responses  # type: ignore[attr-defined]
    assert first.status_code == 200 and len(cache._entries) >= 1
    again = await client.get("/iiif/fish/search/1?q=inca", headers={"Accept": "application/ld+json"})
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-type"].startswith("application/ld+json")  # negotiated per request
    assert (
        await client.get("/iiif/fish/search/1?q=inca", headers={"If-None-Match": first.headers["etag"]})
    ).status_code == 304
    other = await client.get("/iiif/fish/search/1?q=inca&page=1")
    assert other.content != first.content
    assert (await client.get("/iiif/fish/search/1?q=")).status_code == 400  # errors are answered, not kept
    assert (await client.get("/iiif/fish/search/1?q=")).status_code == 400


def test_the_response_cache_keeps_to_its_budget() -> None:
    cache = ResponseCache(max_bytes=10_000)
    for i in range(20):
        cache.put(1, i, CachedBody(b"x" * 100, str(i)))
    # Each entry counts its body, room for its gzip form (125 bytes), its key and its bookkeeping.
    each = 125 + ENTRY_BYTES + key_bytes(0)
    assert cache._bytes <= 10_000 and len(cache._entries) == 10_000 // each
    assert cache.get(1, 19) is not None and cache.get(1, 0) is None  # least recently used went first
    cache.put(1, "huge", CachedBody(b"x" * 1200, "h"))  # over an eighth of the budget: not kept
    assert cache.get(1, "huge") is None
    assert cache.get(2, 19) is None and cache._bytes == 0  # a new index generation starts empty


async def test_a_gzip_client_gets_the_kept_gzip_form(client: httpx.AsyncClient) -> None:
    """Compressed once, served many times: the same JSON, ETag and headers as without the cache."""
    url = "/iiif/fish/search/2?q=de"
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    first, again = [await client.get(url, headers={"Accept-Encoding": "gzip, br"}) for _ in range(2)]
    for response in (first, again):
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["etag"] == gzip_etag(plain.headers["etag"])
        assert "Accept-Encoding" in response.headers["vary"] and "Accept" in response.headers["vary"]
        assert int(response.headers["content-length"]) < len(plain.content)
        assert response.content == plain.content  # httpx decodes the gzip
    assert "content-encoding" not in plain.headers
    small = await client.get("/iiif/fish/search/2?q=nothingatall", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers  # under the minimum size, as the middleware does
