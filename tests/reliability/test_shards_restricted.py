"""Restricted books on shards (#20 with #22): the front checks access with the one check and sends the token on.

Six books (slices of the *Histoire du Pérou* hOCR), one of them restricted, indexed once
into one data directory and once into two shards; one server on the single index, two
shards and a front, all with the same secret. An anonymous reader of the front gets
byte for byte what an anonymous reader of the single server gets (the restricted book's
hits and counts left out), a logged-in reader what a logged-in reader gets there; the
restricted book's own routes are 401 through the front, and a shard asked directly
without the token leaves the book out too.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from indexer.index.library import Library
from indexer.pipeline import IndexOptions, index
from indexer.shards import shard_of
from search_service.web.auth import tokens
from search_service.web.auth.reader import COOKIE
from tests.reliability.conftest import LiveServer, Pages, free_port, write_manifest

SECRET = "shared-by-the-front-and-its-shards-0123456789"
BOOKS = 6
RESTRICTED = "b3"
QUERIES = ("de", "espagnols", "inca*", '"de la"', "pérou")


@dataclass
class Servers:
    single: LiveServer
    shards: list[LiveServer]
    front: LiveServer
    books: list[str]

    def pair(self, path: str, token: str | None = None) -> tuple[httpx.Response, httpx.Response]:
        cookies = {COOKIE: token} if token else {}
        one = httpx.get(self.single.base + path, cookies=cookies, timeout=30)
        many = httpx.get(self.front.base + path, cookies=cookies, timeout=30)
        return one, many


def _token(levels: frozenset[str]) -> str:
    grant = tokens.Grant(tokens.new_session(), "ada", levels, int(time.time()) + 3600)
    return tokens.sign(grant, SECRET.encode())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, peru_pages: Pages) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("shards-restricted")
    sources = {}
    for n in range(BOOKS):
        first = 20 + n * 40
        path = write_manifest(tmp / f"b{n}.json", peru_pages[first : first + 6], f"https://example.org/b{n}")
        sources[f"b{n}"] = str(path)
    single, dirs = tmp / "single", [tmp / "shard0", tmp / "shard1"]
    for book_id, source in sources.items():
        access = "restricted" if book_id == RESTRICTED else None
        for options in (
            IndexOptions(data_dir=single, workers=1, book_id=book_id, access=access),
            IndexOptions(data_dir=dirs[0], shards=tuple(dirs), workers=1, book_id=book_id, access=access),
        ):
            reports = index([source], options)
            assert all(r.ok for r in reports), [r.to_json() for r in reports]
    holder = dirs[shard_of(RESTRICTED, 2)]
    assert Library(holder).access_of(RESTRICTED) == "restricted"
    env = {"IIIF_SEARCH_AUTH_SECRET": SECRET}
    front_port = free_port()
    front_base = f"http://127.0.0.1:{front_port}"
    started = [LiveServer(single, "--public-url", front_base, env=env)]
    try:
        for d in dirs:
            started.append(LiveServer(d, "--public-url", front_base, env=env))
        shard_args = [arg for server in started[1:] for arg in ("--shard", server.base)]
        started.append(LiveServer(tmp / "front", *shard_args, env=env, port=front_port))
        yield Servers(started[0], started[1:3], started[3], sorted(sources))
    finally:
        for server in started:
            log = server.stop()
            assert "Traceback" not in log, log


def _paths() -> list[str]:
    found = ["/iiif/collection"]
    for q in QUERIES:
        quoted = urllib.parse.quote(q)
        found += [f"/iiif/search/2?q={quoted}", f"/iiif/search/1?q={quoted}", f"/api/search?q={quoted}"]
    found += ["/iiif/autocomplete/2?q=esp", "/iiif/autocomplete/1?q=in"]
    return found


@pytest.mark.parametrize("reader", ["anonymous", "logged in"])
def test_the_front_answers_what_one_server_answers_the_same_reader(servers: Servers, reader: str) -> None:
    token = _token(frozenset({"public", "clickthrough", "restricted"})) if reader == "logged in" else None
    for path in _paths():
        one, many = servers.pair(path, token)
        assert one.status_code == many.status_code == 200, (path, one.status_code, many.status_code)
        assert json.loads(many.content) == json.loads(one.content), path


def test_the_comparison_sees_the_restricted_book(servers: Servers) -> None:
    """Not vacuous: the logged-in and the anonymous answers differ by the restricted book."""
    token = _token(frozenset({"public", "clickthrough", "restricted"}))
    anonymous = httpx.get(servers.front.base + "/api/search?q=de", timeout=30).json()
    logged_in = httpx.get(servers.front.base + "/api/search?q=de", headers={"Authorization": f"Bearer {token}"}).json()
    assert logged_in["total_books"] == anonymous["total_books"] + 1
    assert RESTRICTED not in json.dumps(anonymous) and f"/iiif/{RESTRICTED}/" in json.dumps(logged_in)


def test_a_restricted_books_routes_through_the_front(servers: Servers) -> None:
    token = _token(frozenset({"public", "clickthrough", "restricted"}))
    for path in (f"/iiif/{RESTRICTED}/search/2?q=de", f"/iiif/{RESTRICTED}/search/1?q=de"):
        refused = httpx.get(servers.front.base + path, timeout=30)
        assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"
        allowed = httpx.get(servers.front.base + path, cookies={COOKIE: token}, timeout=30)
        assert allowed.status_code == 200 and "private" in allowed.headers["cache-control"]
        assert RESTRICTED in allowed.text
    # The manifest is everyone's, as on a single server.
    assert httpx.get(servers.front.base + f"/iiif/{RESTRICTED}/manifest", timeout=30).status_code == 200


def test_a_shard_asked_without_the_token_leaves_the_book_out(servers: Servers) -> None:
    holder = servers.shards[shard_of(RESTRICTED, 2)]
    listed = httpx.get(holder.base + "/shard/list", timeout=30).json()
    assert RESTRICTED not in [book["id"] for book in listed["books"]]
    token = _token(frozenset({"public", "clickthrough", "restricted"}))
    with_token = httpx.get(holder.base + "/shard/list", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert RESTRICTED in [book["id"] for book in with_token.json()["books"]]


def test_a_forged_token_opens_nothing_through_the_front(servers: Servers) -> None:
    """A token signed with another key is refused; one signed with the shared secret opens the book."""
    other = _token(frozenset({"public", "clickthrough", "restricted"}))
    forged = tokens.sign(
        tokens.Grant("s", "x", frozenset({"restricted"}), int(time.time()) + 60), b"not-the-secret-0123456789"
    )
    assert (
        httpx.get(servers.front.base + f"/iiif/{RESTRICTED}/search/2?q=de", cookies={COOKIE: forged}).status_code == 401
    )
    assert (
        httpx.get(servers.front.base + f"/iiif/{RESTRICTED}/search/2?q=de", cookies={COOKIE: other}).status_code == 200
    )
