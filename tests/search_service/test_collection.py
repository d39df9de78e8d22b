"""Search across the whole collection (#13) over the real HTTP app, on real books.

The collection is `indexed_books` (tests/conftest.py): three books of sample_books/ and the
French newspaper columns of tests/data, OCR'd by real Tesseract through `index-manifest`'s
pipeline, as folder books whose images our Image API serves. What is checked:

- `/iiif/collection` is a valid Presentation 3.0 Collection (the official validator's
  schema) declaring the collection-wide Search 2.0 (first) and 1.0 services, each with
  its autocomplete, and every book with a thumbnail that loads;
- the book whose answer is obvious comes first, in both versions ("king" is on 8 pages
  of Colum's fairy tale and once in Harper's history of highwaymen; "well" the other way);
- collection-wide 1.0 puts the manifest in `on.within` (§3.3.3), on every page;
- walking `next` over a ranked result visits every hit exactly once, book after book;
- the book-level answer (`/api/search`) counts what each book's own search counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jsonschema
import pytest

from search_service.settings import Settings
from search_service.web.app import create_app
from tests.conftest import TEST_HOSTS
from tests.search_service.conftest import BASE, total_v2

HARPER = "en_harper_half_hours_with_highwaymen_1908"
COLUM = "en_colum_boy_apprenticed_enchanter_1920"
BEBEL = "de_bebel_frau_1879"
BNL = "fr_bnl_newspaper_columns_1858_1861"
BOOKS = sorted((HARPER, COLUM, BEBEL, BNL))
SEARCH1 = "http://iiif.io/api/search/1/search"
AUTOCOMPLETE1 = "http://iiif.io/api/search/1/autocomplete"
ON = re.compile(r"^(?P<canvas>[^#]+)#xywh=(\d+),(\d+),(\d+),(\d+)$")
#: Queries whose best book is plain from the books' text: (query, best book, the other book).
OBVIOUS = [("king", COLUM, HARPER), ("horse", COLUM, HARPER), ("well", HARPER, COLUM)]

Client = Callable[..., httpx.AsyncClient]


@pytest.fixture
def library(indexed_books: tuple[Path, Any]) -> Client:
    """A factory of in-process clients over the indexed books (settings may be overridden)."""
    data_dir, _ = indexed_books

    def make(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(Settings(**{"allowed_hosts": TEST_HOSTS, "data_dir": data_dir, **overrides}))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    return make


@pytest.fixture
async def client(library: Client) -> AsyncIterator[httpx.AsyncClient]:
    async with library() as http:
        yield http


async def get(client: httpx.AsyncClient, url: str, status: int = 200) -> dict[str, Any]:
    response = await client.get(url.removeprefix(BASE))
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def manifest(book: str) -> str:
    return f"{BASE}/iiif/{book}/manifest"


def book_of(url: str) -> str:
    """The book id in one of our URLs (`/iiif/{book}/...`)."""
    return urlsplit(url).path.split("/")[2]


async def walk_1_0(client: httpx.AsyncClient, url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Every page of a 1.0 answer by `next`: (resources, hits, total)."""
    resources: list[dict[str, Any]] = []
    hits: list[dict[str, Any]] = []
    first = await get(client, url)
    total = first["within"]["total"]
    next_url: str | None = first["@id"]
    while next_url is not None:
        page = await get(client, next_url)
        assert page["within"]["total"] == total
        assert page["startIndex"] == len(hits)
        resources.extend(page["resources"])
        hits.extend(page.get("hits", []))
        next_url = page.get("next")
    return resources, hits, total


# -- /iiif/collection ---------------------------------------------------------------------------


async def test_collection_is_a_valid_p3_collection_with_both_search_services(
    client: httpx.AsyncClient, test_data: Path
) -> None:
    collection = await get(client, "/iiif/collection")
    schema = json.loads((test_data / "iiif/schema/iiif_3_0.json").read_text())
    assert [e.message[:200] for e in jsonschema.Draft7Validator(schema).iter_errors(collection)] == []
    assert (collection["id"], collection["type"]) == (f"{BASE}/iiif/collection", "Collection")
    # Search 2.0 first (Clover, Tamerlane take the first search service by type), then 1.0 by profile.
    search2, search1 = collection["service"]
    assert search2 == {
        "id": f"{BASE}/iiif/search/2",
        "type": "SearchService2",
        "service": [{"id": f"{BASE}/iiif/autocomplete/2", "type": "AutoCompleteService2"}],
    }
    assert search1 == {
        "@id": f"{BASE}/iiif/search/1",
        "@type": "SearchService1",
        "profile": SEARCH1,
        "service": [{"@id": f"{BASE}/iiif/autocomplete/1", "@type": "AutoCompleteService1", "profile": AUTOCOMPLETE1}],
    }
    assert [item["id"] for item in collection["items"]] == [manifest(book) for book in BOOKS]
    labels = {item["id"]: item["label"]["none"][0] for item in collection["items"]}
    assert labels[manifest(HARPER)] == "Charles G. Harper, Half-Hours with the Highwaymen (1908)"
    for item in collection["items"]:
        assert item["type"] == "Manifest"
        served = await get(client, item["id"])  # the book's manifest, with its own services
        assert served["service"][0]["id"] == f"{BASE}/iiif/{book_of(item['id'])}/search/2"


async def test_each_book_has_a_thumbnail_of_its_first_page_that_loads(client: httpx.AsyncClient) -> None:
    collection = await get(client, "/iiif/collection")
    for item in collection["items"]:
        (thumbnail,) = item["thumbnail"]
        book = book_of(item["id"])
        assert thumbnail == {
            "id": f"{BASE}/iiif/image/3/{book}~0001/full/!200,200/0/default.jpg",
            "type": "Image",
            "format": "image/jpeg",
        }
        response = await client.get(thumbnail["id"].removeprefix(BASE))
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        assert response.content[:2] == b"\xff\xd8"


async def test_the_collections_services_answer(client: httpx.AsyncClient) -> None:
    collection = await get(client, "/iiif/collection")
    search2, search1 = collection["service"]
    page2 = await get(client, f"{search2['id']}?q=king")
    assert page2["type"] == "AnnotationPage" and page2["items"]
    page1 = await get(client, f"{search1['@id']}?q=king")
    assert page1["@type"] == "sc:AnnotationList" and page1["within"]["total"] == 36
    terms2 = await get(client, f"{search2['service'][0]['id']}?q=kin")
    assert "king" in [term["value"] for term in terms2["items"]]
    terms1 = await get(client, f"{search1['service'][0]['@id']}?q=kin")
    assert "king" in [term["match"] for term in terms1["terms"]]


async def test_collection_is_cached_and_conditional(client: httpx.AsyncClient) -> None:
    first = await client.get("/iiif/collection", headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip" and first.headers["etag"]
    again = await client.get("/iiif/collection", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    ld = await client.get("/iiif/collection", headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"] == 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'


async def test_collection_label_is_a_setting(library: Client) -> None:
    async with library(collection_label="Rare books of the library") as client:
        collection = await get(client, "/iiif/collection")
    assert collection["label"] == {"none": ["Rare books of the library"]}


# -- ranked collection search ---------------------------------------------------------------------


@pytest.mark.parametrize(("q", "best", "other"), OBVIOUS)
async def test_the_obvious_best_book_comes_first_in_both_versions(
    client: httpx.AsyncClient, q: str, best: str, other: str
) -> None:
    totals = {book: total_v2(await get(client, f"/iiif/{book}/search/2?q={q}")) for book in (best, other)}
    assert totals[best] > 5 * totals[other] > 0
    page2 = await get(client, f"/iiif/search/2?q={q}")
    books2 = list(dict.fromkeys(item["target"]["partOf"]["id"] for item in page2["items"]))
    assert books2 == [manifest(best), manifest(other)]
    page1 = await get(client, f"/iiif/search/1?q={q}")
    books1 = list(dict.fromkeys(r["on"]["within"]["@id"] for r in page1["resources"]))
    assert books1 == [manifest(best), manifest(other)]


async def test_per_book_services_keep_reading_order(client: httpx.AsyncClient) -> None:
    resources, _, _ = await walk_1_0(client, f"/iiif/{COLUM}/search/1?q=the")
    places = [tuple(int(n) for n in r["@id"].rsplit("/", 1)[1].split("-")[:2]) for r in resources]
    assert places == sorted(places) and len(places) > 100


async def test_collection_wide_1_0_on_objects_carry_within(library: Client) -> None:
    labels = {item["id"]: item["label"]["none"][0] for item in (await get_collection(library))["items"]}
    async with library(page_size=40) as client:
        resources, _, total = await walk_1_0(client, "/iiif/search/1?q=the")
    assert total > 100 and {r["on"]["within"]["@id"] for r in resources} == {manifest(HARPER), manifest(COLUM)}
    for resource in resources:
        on = resource["on"]
        assert set(on) == {"@id", "within"} and ON.match(on["@id"])
        within = on["within"]
        assert within == {"@id": within["@id"], "@type": "sc:Manifest", "label": labels[within["@id"]]}
        assert book_of(within["@id"]) == book_of(resource["@id"])  # the hit's own book


async def get_collection(library: Client) -> dict[str, Any]:
    async with library() as client:
        return await get(client, "/iiif/collection")


@pytest.mark.parametrize("version", [1, 2])
async def test_paging_over_a_ranked_result_visits_every_hit_once(library: Client, version: int) -> None:
    async with library(page_size=7) as client:
        if version == 1:
            _, hits, total = await walk_1_0(client, "/iiif/search/1?q=man")
            seen = ["|".join(hit["annotations"]) for hit in hits]
        else:
            seen, total = await walk_2_0(client, "/iiif/search/2?q=man")
        ranked = await get(client, "/api/search?q=man")
    assert len(seen) == total == len(set(seen)) == ranked["total_hits"]
    # Book after book in rank order, never interleaved, each in reading order.
    books = [book_of(hit) for hit in seen]
    order = list(dict.fromkeys(books))
    assert order == [book["id"] for book in ranked["books"]] and len(order) == 3
    assert books == sorted(books, key=order.index)
    for book in order:
        places = [_place(hit) for hit in seen if book_of(hit) == book]
        assert places == sorted(places)


def _place(annotation_ids: str) -> tuple[int, int]:
    """(canvas index, first word) of a hit's first annotation id (`.../annotation/{canvas}-{first}-{last}-{line}`)."""
    canvas, first = annotation_ids.split("|")[0].rsplit("/", 1)[1].split("-")[:2]
    return int(canvas), int(first)


async def walk_2_0(client: httpx.AsyncClient, url: str) -> tuple[list[str], int]:
    """Every hit of a 2.0 answer by `next`, as its lines' annotation ids; and the total."""
    first = await get(client, url)
    (collection,) = first["partOf"]
    seen: list[str] = []
    next_url: str | None = collection["first"]["id"]
    while next_url is not None:
        page = await get(client, next_url)
        assert page["partOf"] == [collection] and page["startIndex"] == len(seen)
        for match in page["annotations"][0]["items"]:
            targets = match["target"] if isinstance(match["target"], list) else [match["target"]]
            seen.append("|".join(target["source"] for target in targets))
        next_url = page.get("next", {}).get("id")
    return seen, collection["total"]


# -- the book-level answer ---------------------------------------------------------------------------


async def test_book_answer_counts_equal_each_books_own_totals(client: httpx.AsyncClient) -> None:
    labels = {item["id"]: item["label"]["none"][0] for item in (await get(client, "/iiif/collection"))["items"]}
    answer = await get(client, "/api/search?q=man")
    assert answer["total_books"] == len(answer["books"]) == 3
    assert [book["rank"] for book in answer["books"]] == [1, 2, 3]
    collection2 = await get(client, "/iiif/search/2?q=man")
    assert answer["total_hits"] == total_v2(collection2) == sum(book["hits"] for book in answer["books"])
    scores = [book["score"] for book in answer["books"]]
    assert scores == sorted(scores, reverse=True)
    for book in answer["books"]:
        own = await get(client, f"/iiif/{book['id']}/search/2?q=man")
        assert book["hits"] == total_v2(own)
        assert book["search"] == f"{BASE}/iiif/{book['id']}/search/2?q=man"
        resources, hits, _ = await walk_1_0(client, f"/iiif/{book['id']}/search/1?q=man")
        assert book["pages"] == len({ON.match(r["on"])["canvas"] for r in resources})
        assert (book["manifest"], book["label"]) == (manifest(book["id"]), labels[book["manifest"]])
        # The first hits are the book's first hits in reading order, with the same boxes.
        expected = [
            [next(r["on"] for r in resources if r["@id"] == anno) for anno in hit["annotations"]] for hit in hits[:3]
        ]
        assert [[f"{h['canvas']}#xywh={box}" for box in h["xywh"]] for h in book["first_hits"]] == expected
        assert [h["text"] for h in book["first_hits"]] == [_unescape(hit["match"]) for hit in hits[:3]]


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_book_answer_hits_carry_a_line_picture_and_a_viewer_link(client: httpx.AsyncClient) -> None:
    answer = await get(client, "/api/search?q=king")
    first = answer["books"][0]
    assert first["id"] == COLUM
    for hit in first["first_hits"]:
        assert hit["page_label"].startswith("p. ") and hit["text"].lower().startswith("king")
        # The line's picture: a region of the page on the book's image service, fitted into 800x80.
        picture = urlsplit(hit["image"])
        canvas_number = int(hit["canvas"].rsplit("/p", 1)[1])
        assert picture.path.startswith(f"/iiif/image/3/{COLUM}~{canvas_number:04d}/")
        assert picture.path.endswith("/!800,80/0/default.jpg")
        response = await client.get(hit["image"].removeprefix(BASE))
        assert response.status_code == 200 and response.content[:2] == b"\xff\xd8"
        # The region holds the hit's box (canvas = image pixels for these scans).
        rx, ry, rw, rh = (int(v) for v in picture.path.split("/")[5].split(","))
        x, y, w, h = (int(v) for v in hit["xywh"][0].split(","))
        assert rx <= x and ry <= y and x + w <= rx + rw and y + h <= ry + rh
        # The viewer link opens the book on that hit with the query.
        link = urlsplit(hit["viewer"])
        assert link.path == "/viewer/mirador"
        assert parse_qs(link.query) == {
            "manifest": [manifest(COLUM)],
            "q": ["king"],
            "canvas": [f"{hit['canvas']}#xywh={hit['xywh'][0]}"],
        }
    assert first["viewer"] == first["first_hits"][0]["viewer"]
    uv = await get(client, "/api/search?q=king&viewer=uv")
    assert all("/viewer/uv?" in hit["viewer"] for book in uv["books"] for hit in book["first_hits"])


async def test_book_answer_pages_books(library: Client) -> None:
    async with library(books_page_size=1, hits_per_book=1) as client:
        seen: list[str] = []
        url: str | None = "/api/search?q=man"
        while url is not None:
            page = await get(client, url)
            assert page["start"] == len(seen) and page["total_books"] == 3 and len(page["books"]) == 1
            seen.extend(book["id"] for book in page["books"])
            assert all(len(book["first_hits"]) == 1 for book in page["books"])
            url = page.get("next")
        assert page["id"] == page["last"] == f"{BASE}/api/search?q=man&page=2" and page["prev"].endswith("page=1")
        past = await get(client, "/api/search?q=man&page=9")
        assert past["books"] == [] and past["prev"].endswith("page=2")
    assert len(seen) == len(set(seen)) == 3


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("", "q"), ("q=", "q"), ("q=man&page=x", "page"), ("q=man&viewer=nope", "viewer"), ("q=" + "x" * 501, "q")],
)
async def test_book_answer_refuses_bad_parameters_with_json(
    client: httpx.AsyncClient, query: str, parameter: str
) -> None:
    response = await client.get(f"/api/search?{query}")
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter and response.json()["status"] == 400


async def test_book_answer_of_nothing(client: httpx.AsyncClient) -> None:
    for q in ("xylophone", "(", "king xylophone"):
        answer = await get(client, f"/api/search?q={q}")
        assert (answer["total_books"], answer["total_hits"], answer["books"]) == (0, 0, [])


# -- the results page ----------------------------------------------------------------------------------


async def test_results_page_lists_books_best_first_without_javascript(client: httpx.AsyncClient) -> None:
    response = await client.get("/search?q=king")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script" not in page  # the list, links and paging are plain HTML
    assert re.findall(r'<li class="result" data-book="([^"]+)" data-hits="(\d+)"', page) == [
        (COLUM, "35"),
        (HARPER, "1"),
    ]
    assert "36 hits in 2 books" in page
    hits = re.findall(r'<a class="hit-link" href="([^"]+)"', page)
    assert len(hits) == 4  # three of Colum's, Harper's one
    for href in hits:
        link = urlsplit(href.replace("&amp;", "&"))
        assert link.path == "/viewer/mirador" and parse_qs(link.query)["q"] == ["king"]
        assert ON.match(parse_qs(link.query)["canvas"][0])
    images = re.findall(r'<img src="([^"]+)" alt="" width="(\d+)" height="(\d+)"', page)
    assert len(images) == 4 and all(src.startswith(f"{BASE}/iiif/image/3/") for src, _, _ in images)
    assert page.count("<mark>") == 4 and "<mark>KING</mark>" in page


async def test_results_page_escapes_the_query_and_keeps_the_viewer(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": '<b>king</b> "x', "viewer": "uv"})
    assert response.status_code == 200
    assert "<b>king" not in response.text and "&lt;b&gt;king&lt;/b&gt;" in response.text
    assert '<option value="uv" selected>' in response.text
    found = await client.get("/search", params={"q": "king", "viewer": "uv"})
    assert all("/viewer/uv?" in href for href in re.findall(r'class="hit-link" href="([^"]+)"', found.text))


async def test_results_page_without_hits_or_query_or_with_bad_input(client: httpx.AsyncClient) -> None:
    empty = await client.get("/search")
    assert empty.status_code == 200 and 'id="collection-q"' in empty.text and 'class="result"' not in empty.text
    none = await client.get("/search?q=xylophone")
    assert none.status_code == 200 and "No book holds" in none.text
    bad = await client.get("/search?q=king&page=x")
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "page must be a whole number" in bad.text
    long = await client.get("/search", params={"q": "x" * 501})
    assert long.status_code == 400 and "the limit is 500" in long.text


async def test_results_page_is_paged(library: Client) -> None:
    async with library(books_page_size=1) as client:
        first = (await client.get("/search?q=man")).text
        assert "Page 1 of 3" in first and 'rel="prev"' not in first
        (next_href,) = re.findall(r'<a rel="next" href="([^"]+)"', first)
        second = (await client.get(next_href.replace("&amp;", "&"))).text
        assert "Page 2 of 3" in second and 'rel="prev"' in second
        ranked = await get(client, "/api/search?q=man&page=1")
        assert re.findall(r'data-book="([^"]+)"', second) == [ranked["books"][0]["id"]]
        assert '<ol class="results" start="2"' in second


async def test_home_page_searches_every_book_and_links_the_collection(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert '<form class="search collection-search" method="get" action="/search"' in page
    assert f'<a class="collection" href="{BASE}/iiif/collection">' in page
