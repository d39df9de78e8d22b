"""Restricted books through the running server (#22): what an anonymous reader gets, what a reader with access gets.

Three servers on copies of the session index, all with the same public URL so their
bodies compare byte for byte:
- `guarded`: `fish` public, `stanford` clickthrough, `folder` restricted (with images);
- `public_only`: `fish` alone, what an anonymous reader of `guarded` must get, exactly;
- `everything`: the three books public, what a logged-in reader of `guarded` must get.
Tokens are made with the servers' secret (tokens.sign), as the login services make them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer import paths
from indexer.index.library import Library
from indexer.index.store import Store
from search_service.web.auth import tokens
from search_service.web.auth.reader import COOKIE
from tests.reliability.conftest import IIIF_SEARCH, LiveServer, subprocess_env
from tests.search_service.conftest import Corpus

SECRET = "a-test-secret-of-enough-bytes-0123456789"
PUBLIC_URL = "http://testserver"
EVERY_LEVEL = frozenset(paths.ACCESS_LEVELS)
IMAGE = Path("tests/data/image-api-validator/67352ccc-d1b0-11e1-89ae-279075081939.png")

#: Words of the restricted and clickthrough books, some also in the public one, and prefixes.
QUERIES = ("alice", "rabbit", "the", "und", "de", "pérou", "zeitung", "sister", "a*", "le")
PREFIXES = ("ali", "th", "d", "zei", "pe")


def _copy_index(corpus: Corpus, target: Path) -> Library:
    shutil.copytree(paths.index_dir(corpus.data_dir), paths.index_dir(target))
    return Library(target)


def _with_images(library: Library, book_id: str, image: Path) -> None:
    """Give the folder book image files of its own, as a folder indexed by index-manifest has."""
    store = library.store(library.access_of(book_id) or "public")
    snap = store.snapshot()
    book = snap.book(book_id)
    manifest = snap.manifest(book_id)
    assert book is not None and manifest is not None
    pages = [snap.page(d) for d in snap.docs_of(book_id)]
    images = {f"{book_id}~{n:04d}": str(image.resolve()) for n in range(1, len(pages) + 1)}
    # Removed and purged first: a replaced book's old documents would stay in Whoosh's term
    # statistics until a merge, and the servers' answers are compared byte for byte.
    store.remove_book(book_id, purge=True)
    store.replace_book(dataclasses.replace(book, images=images, manifest=manifest), pages)


@dataclasses.dataclass
class Servers:
    guarded: LiveServer
    public_only: LiveServer
    everything: LiveServer
    guarded_dir: Path


@pytest.fixture(scope="module")
def servers(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("restricted")
    image = root / "page.png"
    shutil.copy(IMAGE, image)
    everything = _copy_index(corpus, root / "everything")
    _with_images(everything, "folder", image)
    guarded = _copy_index(corpus, root / "guarded")
    _with_images(guarded, "folder", image)
    assert guarded.set_access("stanford", "clickthrough") and guarded.set_access("folder", "restricted")
    public_only = _copy_index(corpus, root / "public")
    # Purged as a move purges, so that its files hold nothing of the two books (Store.remove_book).
    public_only.store("public").remove_book("stanford", purge=True)
    public_only.store("public").remove_book("folder", purge=True)
    env = {"IIIF_SEARCH_AUTH_SECRET": SECRET, "IIIF_SEARCH_PUBLIC_URL": PUBLIC_URL}
    started = [LiveServer(root / name, env=env) for name in ("guarded", "public", "everything")]
    try:
        yield Servers(started[0], started[1], started[2], root / "guarded")
    finally:
        for server in started:
            server.stop()


def _token(levels: frozenset[str], *, expires_in: int = 3600, user: str = "ada", secret: str = SECRET) -> str:
    grant = tokens.Grant(tokens.new_session(), user, levels, int(time.time()) + expires_in)
    return tokens.sign(grant, secret.encode())


LOGIN = frozenset({"public", "clickthrough", "restricted"})
CLICKTHROUGH = frozenset({"public", "clickthrough"})


def _get(
    server: LiveServer, path: str, token: str | None = None, *, cookie: bool = False, etag: str | None = None
) -> httpx.Response:
    sent = {"If-None-Match": etag} if etag else {}
    cookies = {}
    if token and cookie:
        cookies[COOKIE] = token
    elif token:
        sent["Authorization"] = f"Bearer {token}"
    return httpx.get(server.base + path, headers=sent, cookies=cookies, timeout=30)


def _collection_paths() -> list[str]:
    found = ["/iiif/collection", "/"]
    for q in QUERIES:
        quoted = urllib.parse.quote(q)
        found += [f"/iiif/search/2?q={quoted}", f"/iiif/search/1?q={quoted}", f"/api/search?q={quoted}"]
        found += [
            f"/search?q={quoted}",
            f"/iiif/search/2?q={quoted}&total=exact",
            f"/api/search?q={quoted}&total=exact",
        ]
    for prefix in PREFIXES:
        found += [f"/iiif/autocomplete/2?q={prefix}", f"/iiif/autocomplete/1?q={prefix}"]
    return found


BOOK_ROUTES = (
    "/iiif/{book}/search/2?q=the",
    "/iiif/{book}/search/1?q=the",
    "/iiif/{book}/autocomplete/2?q=th",
    "/iiif/{book}/autocomplete/1?q=th",
)
IMAGE_ROUTES = (
    "/iiif/image/3/folder~0001/info.json",
    "/iiif/image/2/folder~0001/info.json",
    "/iiif/image/3/folder~0001/full/max/0/default.jpg",
    "/iiif/image/2/folder~0001/full/full/0/default.jpg",
    "/iiif/image/3/folder~0002/0,0,10,10/5,/0/default.png",
)


def test_an_anonymous_reader_gets_what_a_server_without_the_guarded_books_answers(servers: Servers) -> None:
    """Hits, totals, rankings, autocomplete, book lists: byte for byte the public-only server's answers."""
    for path in _collection_paths():
        guarded = _get(servers.guarded, path)
        public = _get(servers.public_only, path)
        assert guarded.status_code == public.status_code == 200, path
        assert guarded.content == public.content, path


def test_a_logged_in_reader_gets_what_one_index_of_every_book_answers(servers: Servers) -> None:
    token = _token(LOGIN)
    for path in _collection_paths():
        if path == "/":
            continue  # the home page lists every book with its level; compared below
        guarded = _get(servers.guarded, path, token, cookie=True)
        everything = _get(servers.everything, path)
        assert guarded.status_code == everything.status_code == 200, path
        assert guarded.content == everything.content, path
    # Through a bearer token as through the cookie.
    assert (
        _get(servers.guarded, "/iiif/search/2?q=alice", token).content
        == _get(servers.everything, "/iiif/search/2?q=alice").content
    )


def test_the_restricted_books_words_are_really_in_the_queries(servers: Servers) -> None:
    """The comparisons above are not vacuous: the guarded books answer these words."""
    alice = _get(servers.everything, "/iiif/search/2?q=alice")
    assert alice.json()["items"] and f"{PUBLIC_URL}/iiif/folder/canvas/" in alice.text
    assert _get(servers.public_only, "/iiif/search/2?q=alice").json()["items"] == []
    names = [t["value"] for t in _get(servers.everything, "/iiif/autocomplete/2?q=ali").json()["items"]]
    assert "alice" in names
    assert "alice" not in [t["value"] for t in _get(servers.public_only, "/iiif/autocomplete/2?q=ali").json()["items"]]


@pytest.mark.parametrize("route", BOOK_ROUTES)
def test_every_route_of_a_guarded_book_refuses_an_anonymous_reader(servers: Servers, route: str) -> None:
    for book in ("folder", "stanford"):
        response = _get(servers.guarded, route.format(book=book))
        assert response.status_code == 401, (route, book)
        body = response.json()
        assert body["status"] == 401 and "/auth/" in body["error"]
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _get(servers.guarded, route.format(book="fish")).status_code == 200
    assert _get(servers.guarded, route.format(book="nobook")).status_code == 404


@pytest.mark.parametrize("route", IMAGE_ROUTES)
def test_the_images_of_a_restricted_book_are_refused_and_given(servers: Servers, route: str) -> None:
    anonymous = _get(servers.guarded, route)
    assert anonymous.status_code == 401
    assert anonymous.headers["Cache-Control"] == "no-store"
    assert _get(servers.guarded, route, _token(CLICKTHROUGH), cookie=True).status_code == 401
    allowed = _get(servers.guarded, route, _token(LOGIN), cookie=True)
    assert allowed.status_code == 200
    assert "private" in allowed.headers["Cache-Control"]
    assert "Cookie" in allowed.headers["Vary"] and "Authorization" in allowed.headers["Vary"]


def test_info_json_refused_carries_the_login_the_viewer_shows(servers: Servers) -> None:
    for version, context_key in ((3, "id"), (2, "@id")):
        refused = _get(servers.guarded, f"/iiif/image/{version}/folder~0001/info.json")
        assert refused.status_code == 401
        info = refused.json()
        assert info[context_key].endswith("/folder~0001") and "tiles" not in info and "sizes" not in info
        profiles = {s.get("profile") for s in info["service"]}
        assert "http://iiif.io/api/auth/1/login" in profiles
        probe = next(s for s in info["service"] if s.get("type") == "AuthProbeService2")
        assert probe["id"].endswith("/auth/2/probe/folder")
        full = _get(servers.guarded, f"/iiif/image/{version}/folder~0001/info.json", _token(LOGIN)).json()
        assert "tiles" in full and full["service"] == info["service"]


def test_the_manifest_of_a_restricted_book_is_given_with_its_login(servers: Servers) -> None:
    response = _get(servers.guarded, "/iiif/folder/manifest")
    assert response.status_code == 200
    text = response.text
    assert "http://iiif.io/api/auth/1/login" in text and "AuthProbeService2" in text
    assert "http://iiif.io/api/auth/1/login" not in _get(servers.guarded, "/iiif/fish/manifest").text


@pytest.mark.parametrize(
    "path",
    [
        "/iiif/image/3/folder%7E0001/info.json",
        "/iiif/image/3/folder~0001%2F..%2Ffolder~0001/info.json",
        "/iiif/image/3/FOLDER~0001/info.json",
        "/iiif/image/3/folder~0001/../folder~0001/info.json",
        "/iiif/image/3/./folder~0001/full/max/0/default.jpg",
        "/iiif/image/3/folder~0001/full/max/0/default.jpg%00",
        "/iiif/image/3/page/info.json",
        "/iiif/image/2/folder~0001/full/full/0/default.png?x=/../",
    ],
)
def test_path_tricks_on_image_urls_get_no_image(servers: Servers, path: str) -> None:
    response = httpx.get(servers.guarded.base + path, timeout=30)
    assert response.status_code in (400, 401, 404), (path, response.status_code)
    assert not response.headers.get("content-type", "").startswith("image/")


def test_a_clickthrough_grants_its_level_only(servers: Servers) -> None:
    token = _token(CLICKTHROUGH)
    assert _get(servers.guarded, "/iiif/stanford/search/2?q=the", token, cookie=True).status_code == 200
    assert _get(servers.guarded, "/iiif/folder/search/2?q=the", token, cookie=True).status_code == 401
    names = [t["value"] for t in _get(servers.guarded, "/iiif/autocomplete/2?q=ali", token).json()["items"]]
    assert "alice" not in names  # the restricted book's word, still unseen


@pytest.mark.parametrize(
    "token",
    [
        _token(LOGIN, secret="another-secret-of-enough-bytes-0123456789"),  # forged: another key
        _token(LOGIN, expires_in=-1),  # expired
        _token(LOGIN)[:-2] + "AA",  # tampered signature
        "v1.eyJzIjoieCIsInUiOiJ4IiwibCI6WyJyZXN0cmljdGVkIl0sImUiOjk5OTk5OTk5OTl9.",  # no signature
        "not a token",
    ],
    ids=["forged", "expired", "tampered", "unsigned", "garbage"],
)
def test_a_forged_expired_or_tampered_token_is_refused(servers: Servers, token: str) -> None:
    for cookie in (True, False):
        assert _get(servers.guarded, "/iiif/folder/search/2?q=the", token, cookie=cookie).status_code == 401
        assert (
            _get(servers.guarded, "/iiif/image/3/folder~0001/full/max/0/default.jpg", token, cookie=cookie).status_code
            == 401
        )
    assert (
        _get(servers.guarded, "/iiif/search/2?q=alice", token).content
        == _get(servers.public_only, "/iiif/search/2?q=alice").content
    )


def test_a_tampered_payload_with_a_valid_signature_elsewhere_is_refused(servers: Servers) -> None:
    """Swapping in the payload of a clickthrough token onto a login token's signature fails."""
    login, click = _token(LOGIN).split("."), _token(CLICKTHROUGH).split(".")
    spliced = ".".join([click[0], login[1], click[2]])
    assert _get(servers.guarded, "/iiif/folder/search/2?q=the", spliced).status_code == 401


def test_caches_cannot_mix_readers(servers: Servers) -> None:
    """Vary on every answer once books are guarded; no 304 to a reader the 200 would refuse."""
    anonymous = _get(servers.guarded, "/iiif/search/2?q=alice")
    assert {"Cookie", "Authorization"} <= {v.strip() for v in anonymous.headers["Vary"].split(",")}
    token = _token(LOGIN)
    allowed = _get(servers.guarded, "/iiif/folder/search/2?q=alice", token)
    assert allowed.status_code == 200 and allowed.headers["Cache-Control"] == "private, no-cache"
    etag = allowed.headers["ETag"]
    # The ETag of the reader's answer, replayed by an anonymous client: a 401, never a 304.
    replay = _get(servers.guarded, "/iiif/folder/search/2?q=alice", etag=etag)
    assert replay.status_code == 401 and "ETag" not in replay.headers
    # The reader's own revalidation works.
    assert _get(servers.guarded, "/iiif/folder/search/2?q=alice", token, etag=etag).status_code == 304
    # The collection answer a logged-in reader got, named by its ETag, is not the anonymous one.
    reader_etag = _get(servers.guarded, "/iiif/search/2?q=alice", token).headers["ETag"]
    assert _get(servers.guarded, "/iiif/search/2?q=alice", etag=reader_etag).status_code == 200
    # A server with public books only does not vary on cookies.
    assert "Cookie" not in _get(servers.public_only, "/iiif/search/2?q=alice").headers.get("Vary", "")


def test_access_changes_at_once_from_the_command_line(servers: Servers) -> None:
    def iiif_search(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*IIIF_SEARCH, *args, "--data-dir", str(servers.guarded_dir)],
            capture_output=True,
            text=True,
            env=subprocess_env(),
            timeout=60,
        )

    done = iiif_search("access", "fish", "restricted")
    assert done.returncode == 0, done.stderr
    try:
        time.sleep(0.6)  # the server looks for a commit every 0.25 s
        assert _get(servers.guarded, "/iiif/fish/search/2?q=de").status_code == 401
        listed = [json.loads(line) for line in iiif_search("list", "--json").stdout.splitlines()]
        assert {b["id"]: b["access"] for b in listed} == {
            "fish": "restricted",
            "stanford": "clickthrough",
            "folder": "restricted",
        }
    finally:
        assert iiif_search("access", "fish", "public").returncode == 0
    time.sleep(0.6)
    assert _get(servers.guarded, "/iiif/fish/search/2?q=de").status_code == 200
    missing = iiif_search("access", "nobook", "public")
    assert missing.returncode != 0 and "not indexed: nobook" in missing.stderr
    bad = iiif_search("access", "fish", "secret")
    assert bad.returncode == 2 and "secret" in bad.stderr


def test_the_store_of_a_level_is_its_own_index(servers: Servers) -> None:
    """No restricted word is in the public index's files at all: nothing to leak by any path."""
    public = Store(servers.guarded_dir).snapshot()
    assert [b.id for b in public.books()] == ["fish"]
    assert not public.has_term("alice")
    restricted = Store(servers.guarded_dir, access="restricted").snapshot()
    assert restricted.has_term("alice")


def _json(response: httpx.Response) -> Any:
    return json.loads(response.content)
