"""What a hostile client can no longer do, in process (#16); the connection-level findings are in
tests/reliability/test_hostile_clients.py against the live server.

- a search being built never holds the event loop, and a costly one never holds the
  threads that cheap ones need;
- a query has a ceiling: prefixes per query, and a time limit answered with a clear 400;
- the response cache keys on the checked parameters, not on the raw query string;
- the smaller points: Swagger UI without a CDN, nosniff, Allow on 405, weak If-None-Match,
  a gzip form with its own ETag, Accept q=0, page digits, `color` on a gray image.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from search_service.search import hits
from search_service.settings import Settings
from search_service.web.app import create_app
from search_service.web.response_cache import ResponseCache
from search_service.web.routes import search as search_routes
from tests.conftest import TEST_HOSTS
from tests.search_service.conftest import BASE

# -- searches and the event loop ------------------------------------------------------------------


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Costly searches (`Query.may_be_costly`) wait in their thread until the event is set."""
    event = threading.Event()
    real_search = hits.search

    def search(snapshot: Any, query: Any, *args: Any) -> hits.HitPage:
        if query.may_be_costly:
            assert event.wait(30), "never released"
        return real_search(snapshot, query, *args)

    monkeypatch.setattr(search_routes, "search", search)
    yield event
    event.set()


async def test_a_search_being_built_never_holds_the_event_loop(
    make_client: Callable[..., httpx.AsyncClient], release: threading.Event
) -> None:
    """Was: one-book searches were built on the loop, so a slow one stalled /health for seconds.

    Costly searches (a prefix here) are made to wait on an event; meanwhile /health, a kept
    answer and cheap searches of another book must all be answered. If any build ran on the
    loop, or if costly ones could take every thread, these requests could not finish.
    """
    async with make_client(search_threads=1, heavy_search_threads=1) as client:
        kept = await client.get("/iiif/fish/search/2?q=perou")
        assert kept.status_code == 200
        stuck = [asyncio.create_task(client.get(f"/iiif/fish/search/2?q=p{c}*")) for c in "aeiou"]
        await asyncio.sleep(0.2)
        try:
            answers = await asyncio.wait_for(
                asyncio.gather(
                    client.get("/health"),
                    client.get("/iiif/fish/search/2?q=perou"),  # kept: answered on the loop
                    client.get("/iiif/stanford/search/2?q=die"),  # cheap, another book: its own thread
                    client.get("/iiif/search/1?q=lima"),  # cheap, every book
                ),
                timeout=20,
            )
            assert [a.status_code for a in answers] == [200] * 4
            assert not any(task.done() for task in stuck)
        finally:
            release.set()
        assert [(await task).status_code for task in stuck] == [200] * 5


async def test_a_search_that_waits_too_long_for_a_thread_gets_a_503(
    make_client: Callable[..., httpx.AsyncClient], release: threading.Event
) -> None:
    """Was: every search waited for its thread as long as it took, however many were queued."""
    async with make_client(heavy_search_threads=1, search_wait=0.5) as client:
        running = asyncio.create_task(client.get("/iiif/fish/search/2?q=pa*"))
        await asyncio.sleep(0.2)
        try:
            refused = await asyncio.wait_for(client.get("/iiif/fish/search/2?q=pi*"), timeout=20)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            assert "try again" in refused.json()["error"]
            cheap = await asyncio.wait_for(client.get("/iiif/fish/search/2?q=lima"), timeout=20)
            assert cheap.status_code == 200  # the other lane's queue is its own
        finally:
            release.set()
        assert (await running).status_code == 200


async def test_the_fuzzy_retry_waits_in_the_costly_lane(
    make_client: Callable[..., httpx.AsyncClient], release: threading.Event
) -> None:
    """A word found nowhere is asked again as `word~` (#14), a costly shape: never in the cheap threads."""
    async with make_client(heavy_search_threads=1, search_wait=0.5) as client:
        running = asyncio.create_task(client.get("/iiif/fish/search/2?q=pa*"))
        await asyncio.sleep(0.2)
        try:
            found = await asyncio.wait_for(client.get("/iiif/fish/search/2?q=lima"), timeout=20)
            assert found.status_code == 200 and found.json()["items"]  # found as typed: no retry
            retried = await asyncio.wait_for(client.get("/iiif/fish/search/2?q=qxzvwk"), timeout=20)
            assert retried.status_code == 503  # nothing as typed; its retry waited for the busy costly lane
        finally:
            release.set()
        assert (await running).status_code == 200


# -- a ceiling on what one query may cost ------------------------------------------------------------


async def test_too_many_prefixes_get_a_quick_400(client: httpx.AsyncClient) -> None:
    """Was: a phrase of 64 `d*` slots took 1.5-3.7 s of one book, 103 s of the collection."""
    sixty_four = '"' + " ".join(["d*"] * 64) + '"'
    nested = " ".join('"' + " ".join(["t*"] * n) + '"' for n in range(1, 9))  # the "t*" "t* t*" ... attack
    for q in (sixty_four, nested, "a* b* c* d* e*"):
        response = await client.get("/iiif/fish/search/2", params={"q": q})
        assert response.status_code == 400
        assert response.json()["parameter"] == "q" and "prefixes" in response.json()["error"]
    assert (await client.get("/iiif/fish/search/2", params={"q": "a* b* c* d*"})).status_code == 200


async def test_a_word_repeated_over_too_many_pages_is_refused_before_it_fills_memory(
    make_client: Callable[..., httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting page by page holds positions per page and term: past a budget, a 400 at once."""
    from indexer.index import counting

    monkeypatch.setattr(counting, "MAX_PAGE_TERMS", 50)
    async with make_client() as client:
        response = await client.get('/iiif/search/2?q="de la" de')  # `de` twice: counted page by page
        assert response.status_code == 400 and "one by one" in response.json()["error"]
        assert (await client.get("/iiif/search/2?q=de la")).status_code == 200  # from arrays: no such budget


async def test_a_search_past_its_time_limit_stops_with_a_400_that_says_so(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    async with make_client(query_time_limit=1e-9) as client:
        for url in ("/iiif/fish/search/2?q=d* d*", "/iiif/search/1?q=de la de"):
            response = await client.get(url)
            assert response.status_code == 400
            body = response.json()
            assert body["parameter"] == "q" and "s of work" in body["error"] and "narrow" in body["error"]
            assert response.headers["cache-control"] == "no-store"  # never kept


# -- the response cache ------------------------------------------------------------------------------


async def test_unknown_parameters_make_no_new_cache_entries(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    """Was: the key held the raw query string, so `&u=N&j=aaa...` made every request a new entry."""
    async with make_client() as client:
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        cache: ResponseCache = transport.app.state.responses  # type: ignore[attr-defined]
        first = await client.get("/iiif/fish/autocomplete/2?q=pe")
        for n in range(50):
            again = await client.get(f"/iiif/fish/autocomplete/2?q=pe&u={n}&j={'a' * 2000}")
            assert again.content == first.content
        assert len(cache._entries) == 1
        await client.get("/iiif/fish/autocomplete/2?q=pe&date=2020")  # reported in `ignored`: another body
        assert len(cache._entries) == 2
        spaced = await client.get("/iiif/fish/search/2", params={"q": "  inca   de "})
        again = await client.get("/iiif/fish/search/2", params={"q": "inca de"})
        assert spaced.content == again.content and len(cache._entries) == 3  # white space made one


# -- the smaller points ----------------------------------------------------------------------------------


async def test_swagger_ui_comes_from_the_package_not_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "jsdelivr" not in page.text and "unpkg" not in page.text
    assets = [part.split('"')[0] for part in page.text.split('"/docs/assets/')[1:]]
    assert {name.rsplit("/", 1)[1] for name in assets} == {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon-32x32.png",
    }
    for asset in assets:
        response = await client.get("/docs/assets/" + asset)
        assert response.status_code == 200 and len(response.content) > 500
        assert "immutable" in response.headers["cache-control"]
    assert (await client.get("/redoc")).status_code == 404


async def test_error_texts_are_never_sniffed(client: httpx.AsyncClient) -> None:
    for url in ("/iiif/image/3/<script>alert(1)</script>/info.json", "/iiif/fish/search/1?q=", "/nowhere"):
        response = await client.get(url)
        assert response.status_code >= 400
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_405_names_the_allowed_methods(client: httpx.AsyncClient) -> None:
    response = await client.post("/iiif/fish/search/1?q=de")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


async def test_weak_validators_and_the_gzip_form(client: httpx.AsyncClient) -> None:
    for url in ("/iiif/fish/search/2?q=de", "/iiif/fish/manifest"):
        plain = await client.get(url, headers={"Accept-Encoding": "identity"})
        zipped = await client.get(url, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["etag"] != plain.headers["etag"], url  # two representations, two tags
        for etag, encoding in ((plain.headers["etag"], "identity"), (zipped.headers["etag"], "gzip")):
            weak = await client.get(url, headers={"If-None-Match": "W/" + etag, "Accept-Encoding": encoding})
            assert weak.status_code == 304, (url, etag)
            assert weak.headers["etag"] == etag


async def test_accept_with_q_zero_refuses_json_ld(client: httpx.AsyncClient) -> None:
    url = "/iiif/fish/search/2?q=de"
    refused = await client.get(url, headers={"Accept": "application/ld+json;q=0, application/json"})
    assert refused.headers["content-type"] == "application/json"
    wanted = await client.get(url, headers={"Accept": "application/json;q=0.5, application/ld+json"})
    assert wanted.headers["content-type"].startswith("application/ld+json;")


@pytest.mark.parametrize("value", ["1_0", "%D9%A1", "%EF%BC%91", "+1", " 1", "1e3"])
async def test_page_and_min_take_only_ascii_digits(client: httpx.AsyncClient, value: str) -> None:
    """Was: Python's int() read `1_0` as 10 and the Arabic-Indic `١` as 1."""
    for url in (f"/iiif/fish/search/2?q=de&page={value}", f"/iiif/fish/autocomplete/2?q=de&min={value}"):
        response = await client.get(url)
        assert response.status_code == 400, url
        assert response.json()["parameter"] in ("page", "min")


async def test_color_is_refused_for_an_image_without_colour(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    Image.new("1", (300, 200), 1).save(root / "bitonal.png")
    app = create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=tmp_path / "data", image_roots=[root]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        for version, offered in (("3", "extraQualities"), ("2", "profile")):
            info = (await client.get(f"/iiif/image/{version}/bitonal/info.json")).json()
            assert "color" not in str(info[offered])
            color = await client.get(f"/iiif/image/{version}/bitonal/full/100,/0/color.jpg")
            assert color.status_code == 400 and b"colour" in color.content
            gray = await client.get(f"/iiif/image/{version}/bitonal/full/100,/0/gray.jpg")
            assert gray.status_code == 200
