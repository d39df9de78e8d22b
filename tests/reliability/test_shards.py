"""Shards (#20): one collection as one index and as 3 shards behind a front, real servers on loopback.

The same books (real OCR: slices of the *Histoire du Pérou* hOCR, and one folder of scans
OCR'd by Tesseract) are indexed once into one data directory and once with
`index-manifest --shards` into three. One `iiif-search serve` serves the single index;
three serve the shards (with the front's public URL) and one more is the front
(`--shard URL` x 3). Then:

- collection answers (Search 2.0 and 1.0, /api/search, autocomplete, /iiif/collection),
  first and later pages, of the commonest word, a phrase with it, a prefix, a mix and a
  rare word, are byte for byte the single server's (its base URL swapped for the front's);
- a book's search, manifest, autocomplete and folder images come from its shard;
- faults with real processes: a shard killed, then one stopped (SIGSTOP) past the time
  limit: collection answers say they are partial (JSON fields, no-store, a notice on the
  page), a book on a healthy shard answers as usual, a book on the missing shard gets a
  503 with Retry-After; when the shard is back, answers are whole again, no restart of
  the front.
"""

from __future__ import annotations

import json
import shutil
import signal
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.index.store import Store
from indexer.pipeline import IndexOptions, index
from indexer.shards import read_place, shard_of
from tests.reliability.conftest import REPO, LiveServer, Pages, free_port, write_manifest

BOOKS = 15
#: Small pages so that later pages exist on a small collection (the same on every server).
PAGING = {"IIIF_SEARCH_PAGE_SIZE": "20", "IIIF_SEARCH_BOOKS_PAGE_SIZE": "3", "IIIF_SEARCH_HITS_PER_BOOK": "2"}
FOLDER = "harper-page"


@dataclass
class Sharded:
    single: LiveServer
    shards: list[LiveServer]
    front: LiveServer
    dirs: list[Path]
    books: list[str]

    def same(self, path: str) -> tuple[bytes, bytes]:
        """(single server's body with the front's base, the front's body) for `path`; both 200."""
        status, one = self.single.get(path)
        assert status == 200, (path, status, one[:300])
        status, many = self.front.get(path)
        assert status == 200, (path, status, many[:300])
        # The base, and the base inside viewer links' percent-encoded manifest URLs.
        for quote in (lambda url: url, lambda url: urllib.parse.quote(url, safe="")):
            one = one.replace(quote(self.single.base).encode(), quote(self.front.base).encode())
        return one, many


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory, peru_pages: Pages) -> Iterator[Sharded]:
    tmp = tmp_path_factory.mktemp("shards")
    sources = []
    for n in range(BOOKS):
        first = 8 + (n * 23) % 300
        length = 4 + (n * 7) % 19  # books of 4 to 22 pages: BM25's length normalisation matters
        sources.append(
            str(
                write_manifest(
                    tmp / f"book{n:02d}.json", peru_pages[first : first + length], f"https://example.org/b{n}"
                )
            )
        )
    folder = tmp / FOLDER
    folder.mkdir()
    shutil.copy(REPO / "sample_books" / "en_harper_half_hours_with_highwaymen_1908" / "0002.png", folder / "0002.png")
    sources.append(str(folder))
    single = tmp / "single"
    dirs = [tmp / f"shard{i}" for i in range(3)]
    (single / "ocr-cache").mkdir(parents=True)
    dirs[0].mkdir()
    (dirs[0] / "ocr-cache").symlink_to(single / "ocr-cache", target_is_directory=True)  # one Tesseract run
    for options in (
        IndexOptions(data_dir=single, workers=1, lang="eng"),
        IndexOptions(data_dir=dirs[0], shards=tuple(dirs), workers=1, lang="eng"),
    ):
        reports = index(sources, options)
        assert all(r.ok for r in reports), [r.to_json() for r in reports if not r.ok]
    books = sorted(book.id for book in Store(single).snapshot().books())
    front_port = free_port()
    front_base = f"http://127.0.0.1:{front_port}"
    servers = [LiveServer(single, env=PAGING)]
    built: Sharded | None = None
    try:
        for d in dirs:
            servers.append(LiveServer(d, "--public-url", front_base, env=PAGING))
        shard_args = [arg for server in servers[1:] for arg in ("--shard", server.base)]
        front = LiveServer(
            tmp / "front", *shard_args, env={**PAGING, "IIIF_SEARCH_SHARD_TIMEOUT": "1.5"}, port=front_port
        )
        servers.append(front)
        built = Sharded(servers[0], servers[1:4], front, dirs, books)
        yield built
    finally:
        # A test may put a new server in a shard's place (a shard down, then back): it is stopped too.
        replacements = [server for server in built.shards if server not in servers] if built else []
        for server in servers + replacements:
            log = server.stop()
            assert "Traceback" not in log, log


def test_each_book_is_on_the_shard_its_id_hashes_to(sharded: Sharded) -> None:
    held = [sorted(book.id for book in Store(d).snapshot().books()) for d in sharded.dirs]
    assert sorted([book for ids in held for book in ids]) == sharded.books  # every book once
    assert all(held), held  # 16 books over 3 shards: none is empty
    for position, ids in enumerate(held):
        assert read_place(sharded.dirs[position]) is not None
        assert all(shard_of(book, 3) == position for book in ids)


QUERIES = ["de", '"de la"', "con*", "roi espagnols", "inca*", "pizarre", "highwaymen"]


def _without_totals(answer: Any) -> Any:
    """An answer less what may differ between one index and shards that stop counting at other points (#20)."""
    if isinstance(answer, dict):
        return {
            k: _without_totals(v)
            for k, v in answer.items()
            if k not in ("total", "total_hits", "total_books", "total_exact", "last", "within")
        }
    if isinstance(answer, list):
        return [_without_totals(v) for v in answer]
    return answer


@pytest.mark.parametrize("q", QUERIES)
def test_collection_answers_are_the_single_index_answers(sharded: Sharded, q: str) -> None:
    quoted = urllib.parse.quote(q)
    for path in (
        f"/iiif/search/2?q={quoted}",
        f"/iiif/search/1?q={quoted}",
        f"/iiif/search/2?q={quoted}&page=1",
        f"/iiif/search/1?q={quoted}&page=3",
        f"/api/search?q={quoted}",
        f"/api/search?q={quoted}&page=1",
        f"/api/search?q={quoted}&page=2&viewer=uv",
    ):
        # With exact totals the answers are the same to the byte's meaning.
        one, many = sharded.same(f"{path}&total=exact")
        assert json.loads(many) == json.loads(one), path
        assert b'"partial"' not in many
        # The fast answers hold the same hits and books; one index and three shards may stop
        # counting at different points, so a total may be exact on one side and a lower
        # bound (left out, or said to be one) on the other, never larger than the exact one.
        one, many = sharded.same(path)
        assert _without_totals(json.loads(many)) == _without_totals(json.loads(one)), path


def test_the_commonest_word_has_later_pages_and_they_match(sharded: Sharded) -> None:
    data = json.loads(sharded.front.get("/api/search?q=de")[1])
    assert data["total_books"] == BOOKS and data["next"]
    hits = json.loads(sharded.front.get("/iiif/search/1?q=de")[1])
    assert hits["within"]["total"] > 100 and len(hits["resources"]) == 20
    one, many = sharded.same("/search?q=de&page=2")
    assert many == one


@pytest.mark.parametrize("path", ["/search?q=de&page=100000", "/search?q=de&viewer=evil"])
def test_the_front_refuses_what_a_single_server_refuses(sharded: Sharded, path: str) -> None:
    # A page past the last and an unknown viewer are 400 pages on both (#23).
    single, front = sharded.single.get(path), sharded.front.get(path)
    assert single[0] == front[0] == 400
    assert front[1].replace(sharded.front.base.encode(), b"") == single[1].replace(sharded.single.base.encode(), b"")


def test_the_collection_and_home_list_every_book(sharded: Sharded) -> None:
    one, many = sharded.same("/iiif/collection")
    assert json.loads(many) == json.loads(one)
    status, home = sharded.front.get("/")
    assert status == 200
    assert all(f'data-book="{book}"'.encode() in home for book in sharded.books)


def test_collection_autocomplete_sums_the_shards(sharded: Sharded) -> None:
    for path in ("/iiif/autocomplete/2?q=espag", "/iiif/autocomplete/1?q=pizar"):
        one, many = sharded.same(path)
        assert json.loads(many) == json.loads(one), path


def test_a_books_routes_come_from_its_shard(sharded: Sharded) -> None:
    book = next(b for b in sharded.books if b != FOLDER)
    for path in (
        f"/iiif/{book}/manifest",
        f"/iiif/{book}/search/1?q=de",
        f"/iiif/{book}/search/2?q=de&page=1",
        f"/iiif/{book}/autocomplete/2?q=esp",
        f"/iiif/{FOLDER}/manifest",
        f"/iiif/{FOLDER}/search/2?q=highwaymen",
    ):
        one, many = sharded.same(path)
        assert json.loads(many) == json.loads(one), path
    # A conditional request passes through: the shard's ETag, then a 304.
    request = urllib.request.Request(sharded.front.base + f"/iiif/{book}/search/1?q=de")
    with urllib.request.urlopen(request, timeout=10) as response:
        etag = response.headers["ETag"]
        assert etag and "max-age" in response.headers["Cache-Control"]
    request.add_header("If-None-Match", etag)
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request, timeout=10)
    assert not_modified.value.code == 304
    # A folder book's images ({book}~{stem}) come from its shard too.
    status, info = sharded.front.get(f"/iiif/image/3/{FOLDER}~0002/info.json")
    assert status == 200 and json.loads(info)["id"] == f"{sharded.front.base}/iiif/image/3/{FOLDER}~0002"
    status, jpeg = sharded.front.get(f"/iiif/image/3/{FOLDER}~0002/full/100,/0/default.jpg")
    assert status == 200 and jpeg[:2] == b"\xff\xd8"
    assert sharded.front.get("/iiif/no-such-book/search/1?q=de")[0] == 404


def _book_on(sharded: Sharded, position: int) -> str:
    return next(book for book in sharded.books if shard_of(book, 3) == position and book != FOLDER)


def _headers(server: LiveServer, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(server.base + path, timeout=20) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _check_partial(sharded: Sharded, down: int, reason: str) -> None:
    status, headers, body = _headers(sharded.front, "/api/search?q=de")
    assert status == 200
    data = json.loads(body)
    assert data["partial"] is True
    assert [(u["shard"], u["of"]) for u in data["unavailable"]] == [(down + 1, 3)]
    assert reason in data["unavailable"][0]["reason"]
    assert headers["cache-control"] == "no-store" and "etag" not in headers
    whole = json.loads(sharded.single.get("/api/search?q=de")[1])
    assert data["total_books"] < whole["total_books"]  # smaller, and it says so
    status, headers, body = _headers(sharded.front, "/iiif/search/2?q=de")
    assert status == 200 and json.loads(body)["partial"] is True and headers["cache-control"] == "no-store"
    status, _, page = _headers(sharded.front, "/search?q=de")
    assert status == 200 and b'class="notice partial"' in page and f"shard {down + 1} of 3".encode() in page
    # A book on a healthy shard answers as usual; one on the missing shard is a 503 with Retry-After.
    healthy = _book_on(sharded, (down + 1) % 3)
    assert sharded.front.get(f"/iiif/{healthy}/search/1?q=de")[0] == 200
    status, headers, body = _headers(sharded.front, f"/iiif/{_book_on(sharded, down)}/search/1?q=de")
    assert status == 503 and int(headers["retry-after"]) > 0 and "try again" in json.loads(body)["error"]


def _check_whole(sharded: Sharded) -> None:
    one, many = sharded.same("/api/search?q=de")
    assert json.loads(many) == json.loads(one)
    book = _book_on(sharded, 1)
    assert sharded.front.get(f"/iiif/{book}/search/1?q=de")[0] == 200


def test_a_shard_down_then_back(sharded: Sharded) -> None:
    down = 1
    server = sharded.shards[down]
    port, data_dir = server.port, sharded.dirs[down]
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    _check_partial(sharded, down, "could not be reached")
    # Back on the same port: the front asks it again on the next answer, without a restart.
    sharded.shards[down] = LiveServer(data_dir, "--public-url", sharded.front.base, env=PAGING, port=port)
    _check_whole(sharded)


def test_a_shard_slow_past_its_time_limit_then_back(sharded: Sharded) -> None:
    down = 2
    server = sharded.shards[down]
    server.process.send_signal(signal.SIGSTOP)
    try:
        _check_partial(sharded, down, "did not answer within 1.5 s")
    finally:
        server.process.send_signal(signal.SIGCONT)
    _check_whole(sharded)


def test_a_front_with_the_shards_in_another_order_refuses_them(sharded: Sharded, tmp_path: Path) -> None:
    swapped = [sharded.shards[1], sharded.shards[0], sharded.shards[2]]
    front = LiveServer(tmp_path / "front", *[arg for s in swapped for arg in ("--shard", s.base)], env=PAGING)
    try:
        data = json.loads(front.get("/api/search?q=de")[1])
        assert data["partial"] is True
        assert [u["shard"] for u in data["unavailable"]] == [1, 2]
        assert all("misconfigured" in u["reason"] for u in data["unavailable"])
        assert front.get(f"/iiif/{_book_on(sharded, 2)}/search/1?q=de")[0] == 200  # the third is in its place
    finally:
        front.stop()
