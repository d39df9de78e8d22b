"""The front's collection answers over 3 in-process shards (#20): the single index's answers, in one request per shard.

The same books (slices of the *Histoire du Pérou* hOCR) are written once into one index
and once into three shard directories placed by indexer/shards.py. The front's shard
client reaches the shard apps through an in-process transport that counts the requests
each shard gets, so these tests see what the loopback tests (tests/reliability/test_shards.py)
cannot: how many requests an answer costs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.index.store import Store
from indexer.shards import claim, shard_of
from ocr.hocr import parse_pages
from search_service.search import hits as hits_module
from search_service.search.shards import first_window, within
from search_service.settings import Settings
from search_service.web.app import create_app
from search_service.web.shard_client import Shards
from tests.conftest import TEST_HOSTS, read_test_file
from tests.search_service.conftest import build_book, folder_manifest

BOOKS = 15
SECRET = "test-shards-secret-of-32-characters!"


@dataclass
class Collection:
    single: Path
    shards: list[Path]
    front: Path


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Collection:
    tmp = tmp_path_factory.mktemp("front-shards")
    pages = parse_pages(
        read_test_file("ocr/hocr/solr-ocrhighlighting/google1000_histoire_du_perou_1840_347pages.hocr.html")
    )
    single, shard_dirs = tmp / "single", [tmp / f"shard{i}" for i in range(3)]
    claim(shard_dirs)
    stores = [Store(d) for d in shard_dirs]
    whole = Store(single)
    for n in range(BOOKS):
        book_id = f"b{n:02d}"
        first, length = 8 + (n * 23) % 300, 4 + (n * 7) % 19  # 4 to 22 pages: BM25's length normalisation matters
        book_pages = pages[first : first + length]
        manifest = folder_manifest(book_id, book_pages)
        build_book(whole, book_id, manifest, book_pages, 3)
        build_book(stores[shard_of(book_id, 3)], book_id, manifest, book_pages, 3)
    return Collection(single, shard_dirs, tmp / "front")


class CountingShards(httpx.AsyncBaseTransport):
    """The shard apps behind their URLs' ports, in process; counts each shard's requests by path."""

    def __init__(self, apps: dict[int, httpx.ASGITransport]) -> None:
        self.apps = apps
        self.asked: Counter[tuple[int, str]] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = request.url.port or 80
        self.asked[(port, request.url.path)] += 1
        return await self.apps[port].handle_async_request(request)

    def requests(self, path: str) -> list[int]:
        """Requests for `path` each shard got, by position."""
        return [self.asked[(port, path)] for port in sorted(self.apps)]


@dataclass
class Servers:
    single: httpx.AsyncClient
    front: httpx.AsyncClient
    transport: CountingShards


@pytest.fixture
async def servers(collection: Collection) -> AsyncIterator[Servers]:
    def settings(data_dir: Path, public_url: str | None = None, shards: str = "") -> Settings:
        # Small pages, so that a small collection has many pages of answers (the same on both sides).
        return Settings(
            allowed_hosts=TEST_HOSTS,
            data_dir=data_dir,
            auth_secret=SECRET,
            page_size=20,
            books_page_size=3,
            hits_per_book=2,
            public_url=public_url,
            shards=shards,
        )

    ports = [9101, 9102, 9103]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    apps = {
        port: httpx.ASGITransport(app=create_app(settings(d, public_url="http://testserver")))
        for port, d in zip(ports, collection.shards, strict=True)
    }
    transport = CountingShards(apps)
    front_app = create_app(settings(collection.front, shards=",".join(urls)))
    await front_app.state.shards.close()
    front_app.state.shards = Shards(urls, 5.0, transport=transport)
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings(collection.single))), base_url="http://testserver"
        ) as single,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=front_app), base_url="http://testserver") as front,
    ):
        yield Servers(single, front, transport)
    await front_app.state.shards.close()


async def _same(servers: Servers, path: str) -> dict[str, Any]:
    one, many = await servers.single.get(path), await servers.front.get(path)
    assert one.status_code == many.status_code == 200, (path, one.text[:300], many.text[:300])
    assert many.json() == one.json(), path
    data: dict[str, Any] = many.json()
    return data


@pytest.mark.parametrize("q", ["de", '"de la"', "con*", "roi espagnols", "inca*"])
async def test_a_first_page_is_the_single_index_page_in_one_request_per_shard_that_holds_its_share(
    servers: Servers, q: str
) -> None:
    before = servers.transport.requests("/shard/books")
    data = await _same(servers, f"/api/search?q={q}&total=exact")
    assert "partial" not in data
    asked = [a - b for a, b in zip(servers.transport.requests("/shard/books"), before, strict=True)]
    # A shard holding more of the page's books than its share (1 of 3) is asked once more, for the rest.
    held = Counter(shard_of(book["id"], 3) for book in data["books"])
    assert asked == [1 + (held[p] > 1) for p in range(3)], (q, held)
    before = servers.transport.requests("/shard/hits")
    data = await _same(servers, f"/iiif/search/2?q={q}&total=exact")
    asked = [a - b for a, b in zip(servers.transport.requests("/shard/hits"), before, strict=True)]
    assert all(n in (1, 2) for n in asked), (q, asked)


@pytest.mark.parametrize("page", range(6))
async def test_later_pages_are_the_single_index_pages(servers: Servers, page: int) -> None:
    for path in (
        f"/iiif/search/1?q=de&page={page * 3}",
        f"/iiif/search/2?q=con*&page={page}",
        f"/api/search?q=de&page={page}",
    ):
        await _same(servers, f"{path}&total=exact")


def test_forwarded_and_fanned_out_requests_ask_for_no_compression() -> None:
    # Loopback answers gzipped cost both ends CPU for nothing; a reader's own Accept-Encoding is forwarded.
    shards = Shards(["http://127.0.0.1:9"], 1.0)
    assert shards.client.headers["accept-encoding"] == "identity"


# -- the guess of each shard's window holds its true window (pure) ---------------------------------------


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_within_takes_a_window_only_when_the_items_sent_hold_it(sent_from: int, low: int, size: int) -> None:
    sent = list(range(sent_from, sent_from + 20))
    found = within(sent, sent_from, (low, low + size))
    if sent_from <= low and low + size <= sent_from + 20:
        assert found == list(range(low, low + size))
    else:
        assert found is None


def test_the_guess_is_each_shards_fair_share_of_the_items_up_to_the_page() -> None:
    assert first_window(0, 10, 3) == (0, 4)
    assert first_window(20, 30, 3) == (6, 10)
    assert first_window(0, 100, 1) == (0, 100)


@pytest.mark.parametrize(("url", "shard_path"), [("/api/search", "/shard/books"), ("/iiif/search/2", "/shard/hits")])
async def test_a_shard_asked_twice_for_one_page_ranks_the_query_once(
    servers: Servers, monkeypatch: pytest.MonkeyPatch, url: str, shard_path: str
) -> None:
    # The second request (the rest of a window longer than the shard's share) asks for the depth
    # of the first, so the shard finds that ranking in its cache: ranked again at the window's
    # own depth, a common word's shown books were counted twice.
    monkeypatch.setattr(hits_module, "ONE_SLOT_EVERY_PAGE_BELOW", 0)  # the book counts, as for a common word
    ranked: Counter[int] = Counter()
    real = hits_module.top_books

    def counted(snapshot: Any, *args: Any, **kwargs: Any) -> Any:
        ranked[id(snapshot)] += 1
        return real(snapshot, *args, **kwargs)

    monkeypatch.setattr(hits_module, "top_books", counted)
    asked_twice = 0
    for q in ("de", "la", "les", "con*", "inca*", "roi", "pour", "ville"):
        ranked.clear()
        before = servers.transport.requests(shard_path)
        await _same(servers, f"{url}?q={q}")
        asked = [a - b for a, b in zip(servers.transport.requests(shard_path), before, strict=True)]
        asked_twice += asked.count(2)
        assert set(ranked.values()) == {1}, (q, asked, ranked)  # each index (the single one too) ranked once
    assert asked_twice, "no shard held more than its share of a page: nothing tested"


async def test_the_shard_clients_lock_steps_search_no_module_path() -> None:
    # httpcore asks `import sniffio` at every lock and pool step and falls back to asyncio
    # when it is missing; a failed import is not remembered, so each step searched sys.path
    # again (~120 us, ~17 times per collection answer of the front: encode/httpcore#1103).
    # sniffio is a dependency of ours for that: no step may go looking for a module.
    import importlib.abc
    import sys

    from httpcore._synchronization import current_async_library

    looked_for: list[str] = []

    class Watch(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname: str, path: object, target: object = None) -> None:
            looked_for.append(fullname)

    watch = Watch()
    sys.meta_path.insert(0, watch)
    try:
        for _ in range(20):
            assert current_async_library() == "asyncio"
    finally:
        sys.meta_path.remove(watch)
    assert looked_for == []
