"""Totals of collection-wide answers (#20): lower bounds said as such, `total=exact` for the count.

docs/api.md#totals: a lower bound drops Search 2.0's `total` and `last`, Search 1.0's `within.total`
and `last`, `/api/search`'s `last` (with `"total_exact": false`), and says "at least" on the page.
"""

from __future__ import annotations

import httpx

from indexer.index.snapshot import Snapshot
from search_service.search.books import BookPage, search_books
from search_service.search.hits import HitPage
from search_service.search.query import parse_query
from search_service.search.search_v1 import annotation_list
from search_service.search.search_v2 import annotation_page
from search_service.search.urls import ResultLinks
from search_service.web.discovery import book_results
from search_service.web.results_page import results_html

BASE = "http://testserver"
LINKS = ResultLinks(f"{BASE}/iiif/search/2", (("q", "de"),))


def test_a_lower_bound_gives_no_total_and_no_last_but_a_next() -> None:
    page = HitPage((), 250, 0, 100, total_exact=False)
    v2 = annotation_page(page, LINKS, BASE, manifests={})
    assert "total" not in v2["partOf"][0] and "last" not in v2["partOf"][0]
    assert v2["partOf"][0]["first"] and v2["next"]["id"].endswith("page=1")
    v1 = annotation_list(page, LINKS, BASE, manifests={})
    assert "total" not in v1["within"] and "last" not in v1["within"]
    assert v1["within"]["first"] and v1["next"].endswith("page=1")
    exact = annotation_page(HitPage((), 250, 0, 100), LINKS, BASE, manifests={})
    assert exact["partOf"][0]["total"] == 250 and exact["partOf"][0]["last"]["id"].endswith("page=2")


def test_the_book_level_answer_says_its_totals_are_lower_bounds(snapshot: Snapshot) -> None:
    found = search_books(snapshot, parse_query("de"), 0, 1, 1)
    bound = BookPage(found.books, 12, 340, 0, 1, total_exact=False)
    body = book_results(bound, ResultLinks(f"{BASE}/api/search", (("q", "de"),)), BASE, "de", "mirador")
    assert body["total_exact"] is False and "last" not in body and body["next"].endswith("page=1")
    html = results_html(bound, "de", "mirador", BASE)
    assert "At least 340 hits in at least 12 books" in html and " of " not in html.split("aria-current")[1][:40]
    exact = book_results(found, ResultLinks(f"{BASE}/api/search", (("q", "de"),)), BASE, "de", "mirador")
    assert exact["total_exact"] is True and "last" in exact


async def test_total_exact_is_the_only_value_of_total(client: httpx.AsyncClient) -> None:
    for url in ("/iiif/search/2", "/iiif/search/1", "/api/search", "/iiif/fish/search/2"):
        response = await client.get(url, params={"q": "de", "total": "all"})
        assert response.status_code == 400, url
        assert response.json()["parameter"] == "total"
    response = await client.get("/search", params={"q": "de", "total": "all"})
    assert response.status_code == 400 and "total must be exact" in response.text


async def test_total_exact_counts_everything_and_its_links_repeat_it(client: httpx.AsyncClient) -> None:
    fast = (await client.get("/iiif/search/2", params={"q": "de"})).json()
    exact = (await client.get("/iiif/search/2", params={"q": "de", "total": "exact"})).json()
    assert exact["partOf"][0]["total"] == fast["partOf"][0]["total"]  # one word: exact either way
    assert exact["items"] == fast["items"]
    assert "total=exact" in exact["next"]["id"] and "total=exact" not in fast["next"]["id"]
    books = (await client.get("/api/search", params={"q": "de", "total": "exact"})).json()
    assert books["total_exact"] is True and "total=exact" in books["first"]
    book = (await client.get("/iiif/fish/search/2", params={"q": "de", "total": "exact"})).json()
    assert book["partOf"][0]["total"] > 0
