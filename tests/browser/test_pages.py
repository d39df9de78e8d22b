"""The landing page and the viewer pages (Mirador 4, Mirador 3, UV, Clover) with manifests from elsewhere, in Chromium.

Other hosts are played by Playwright routes: `library.example.org` serves a manifest
(a copy of one of ours, as another institution would publish it) and
`search.example.org` answers its search service by passing requests on to our server,
so the viewers must take the search service from the manifest, not from our URLs.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.browser

WAIT_MS = 30_000
EXTERNAL_MANIFEST = "https://library.example.org/iiif/harper/manifest.json"
EXTERNAL_SEARCH = "https://search.example.org"
CORS = {"Access-Control-Allow-Origin": "*"}
CLOVER_SEARCH_TAB = '#viewer [role="tab"][id$="-trigger-manifest-content-search"]'
#: The search service each viewer takes from a manifest declaring both: Clover the first
#: typed SearchService1/2 (our 2.0), Mirador and UV the one with the 1.0 profile.
SEARCH_VERSION = {"mirador": 1, "mirador3": 1, "uv": 1, "clover": 2}


def page_errors(page: Any) -> list[str]:
    """Uncaught JavaScript errors the page has thrown so far."""
    return [line for line in page.console_log if line.startswith("[pageerror]")]


def external_manifest(base: str, *, with_search: bool) -> dict[str, Any]:
    """Our harper manifest as another host would serve it: its own id, a search service elsewhere or none."""
    text = httpx.get(f"{base}/iiif/harper/manifest", timeout=30).text
    text = text.replace(f"{base}/iiif/harper/search/", f"{EXTERNAL_SEARCH}/iiif/harper/search/")
    text = text.replace(f"{base}/iiif/harper/autocomplete/", f"{EXTERNAL_SEARCH}/iiif/harper/autocomplete/")
    manifest: dict[str, Any] = json.loads(text)
    manifest["id"] = EXTERNAL_MANIFEST
    if not with_search:
        manifest.pop("service", None)
        manifest.pop("services", None)
    return manifest


def serve_elsewhere(page: Any, base: str, manifest: dict[str, Any]) -> list[str]:
    """Route the two other hosts; returns the URLs asked of the search host."""
    asked: list[str] = []

    def manifest_route(route: Any) -> None:
        route.fulfill(status=200, json=manifest, headers=CORS)

    def search_route(route: Any) -> None:
        url = route.request.url
        asked.append(url)
        parts = urlsplit(url)
        upstream = httpx.get(f"{base}{parts.path}?{parts.query}", timeout=30)
        route.fulfill(
            status=upstream.status_code, body=upstream.content, headers={"Content-Type": "application/json", **CORS}
        )

    page.route(EXTERNAL_MANIFEST, manifest_route)
    page.route(f"{EXTERNAL_SEARCH}/**", search_route)
    return asked


def test_landing_page_lists_the_books_and_opens_one_with_a_search(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/")
    rows = page.locator("tr.book")
    assert rows.count() == 5
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.book)")) == [
        "harper",
        "harper-alt",  # the alternative-reading book (#21)
        "harper-scaled",
        "harper-v2",
        "harper-xss",
    ]
    row = page.locator('tr.book[data-book="harper"]')
    assert "Half-Hours with the Highwaymen" in row.inner_text()
    assert row.locator("a.manifest").get_attribute("href") == f"{live_server}/iiif/harper/manifest"

    row.get_by_role("searchbox").fill("balfour")
    row.get_by_role("button", name="Mirador 4").click()
    page.wait_for_url(re.compile(r"/viewer/mirador\?"))
    assert "q=balfour" in page.url
    page.locator("#viewer strong", has_text="Balfour").wait_for(timeout=WAIT_MS)
    assert not page_errors(page)


def test_landing_page_links_open_each_viewer(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/")
    row = page.locator('tr.book[data-book="harper-v2"]')
    for key, ready in (
        ("uv", "#searchWithinInput"),
        ("mirador3", '#viewer input[id^="search-"]'),
        ("clover", CLOVER_SEARCH_TAB),
    ):
        href = row.locator(f"a.open-{key}").get_attribute("href")
        assert href == f"/viewer/{key}?{urlencode({'manifest': f'{live_server}/iiif/harper-v2/manifest'})}"
        page.goto(f"{live_server}{href}")
        page.locator(ready).wait_for(timeout=WAIT_MS)
        page.go_back()
    assert not page_errors(page)


@pytest.mark.parametrize("viewer", ["mirador", "mirador3", "uv", "clover"])
def test_a_manifest_from_elsewhere_is_searched_through_its_own_service(
    page: Any, live_server: str, viewer: str
) -> None:
    asked = serve_elsewhere(page, live_server, external_manifest(live_server, with_search=True))
    page.goto(f"{live_server}/viewer/{viewer}?{urlencode({'manifest': EXTERNAL_MANIFEST, 'q': 'balfour'})}")
    if viewer == "uv":
        page.locator(".searchResultsInfo .number", has_text="1").wait_for(timeout=WAIT_MS)
    elif viewer == "clover":
        page.locator("#viewer .clover-iiif-annotation-item", has_text="Balfour").wait_for(timeout=WAIT_MS)
    else:
        page.locator("#viewer strong", has_text="Balfour").wait_for(timeout=WAIT_MS)
    assert f"{EXTERNAL_SEARCH}/iiif/harper/search/{SEARCH_VERSION[viewer]}?q=balfour" in asked
    assert not page_errors(page)


@pytest.mark.parametrize("viewer", ["mirador", "mirador3", "uv", "clover"])
def test_a_manifest_without_search_opens_without_a_search_box(page: Any, live_server: str, viewer: str) -> None:
    serve_elsewhere(page, live_server, external_manifest(live_server, with_search=False))
    page.goto(f"{live_server}/viewer/{viewer}?{urlencode({'manifest': EXTERNAL_MANIFEST, 'q': 'balfour'})}")
    if viewer == "uv":
        page.locator(".thumb").first.wait_for(timeout=WAIT_MS)
        assert not page.locator("#searchWithinInput").is_visible()
    elif viewer == "clover":
        # Clover opens on its About tab, with no Search tab to offer.
        page.locator("#viewer [role=tab]", has_text="About").wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1000)
        assert page.locator(CLOVER_SEARCH_TAB).count() == 0
    else:
        # The sidebar opens on the information panel, which shows the manifest's label.
        page.locator("#viewer").get_by_text("About this item").wait_for(timeout=WAIT_MS)
        assert page.locator('#viewer input[id^="search-"]').count() == 0
    assert not page_errors(page)
