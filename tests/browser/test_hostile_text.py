"""Hit text never runs as markup in any bundled viewer (#12).

`harper-xss` is a page of the sample book whose hOCR holds two words that are markup,
as a remote hOCR can: `<img src=x onerror=alert(1)>` and `</script><b>bold</b>` (see
conftest.py). Mirador and UV read Search 1.0, Clover Search 2.0, and each of them puts
hit text into the page as HTML somewhere. Searched with `?q=`, every viewer must list
the hits, show the words as text, and neither run the handler (no alert, no error) nor
add the elements.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

pytestmark = pytest.mark.browser

WAIT_MS = 30_000
QUERY = "onerror bold"  # one word of each hostile "word"


def shown(page: Any, viewer: str, words: list[str]) -> None:
    """Wait until `viewer` shows the two hits of QUERY."""
    if viewer == "uv":
        page.locator(".searchResultsInfo .number", has_text="2").wait_for(timeout=WAIT_MS)
    elif viewer == "clover":
        items = page.locator("#viewer .clover-iiif-annotation-item button")
        items.nth(1).wait_for(timeout=WAIT_MS)
        assert sorted(text.strip() for text in items.all_inner_texts()) == sorted(words)
    else:
        # Mirador lists each hit's `match` (escaped, so shown as the characters themselves).
        for word in words:
            page.locator("#viewer").get_by_text(word).first.wait_for(timeout=WAIT_MS)


@pytest.mark.parametrize("viewer", ["mirador", "mirador3", "uv", "clover"])
def test_hit_text_is_shown_as_text_and_never_runs(
    page: Any, live_server: str, viewer: str, hostile_words: dict[str, str]
) -> None:
    manifest = f"{live_server}/iiif/harper-xss/manifest"
    hits = httpx.get(f"{live_server}/iiif/harper-xss/search/1", params={"q": QUERY}, timeout=30).json()
    assert hits["within"]["total"] == 2
    page.goto(f"{live_server}/viewer/{viewer}?{urlencode({'manifest': manifest, 'q': QUERY})}")
    shown(page, viewer, list(hostile_words.values()))
    if viewer == "uv":
        page.locator(".nextResult").click()  # to the hits, where UV draws them
        page.locator(".annotationRect").first.wait_for(timeout=WAIT_MS)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # a broken image's error event fires after its load fails
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"], #viewer b').length") == 0
    problems = [line for line in page.console_log if line.startswith(("[dialog]", "[pageerror]"))]
    assert not problems, problems


def test_a_javascript_homepage_in_clover_cannot_run(page: Any, live_server: str) -> None:
    """A manifest's `homepage` of `javascript:` is a link in Clover's About panel; clicking it runs nothing (#23).

    The manifest comes from "another site" (a route of the browser, no network): our harper
    manifest with a hostile homepage. The viewer page's CSP has no 'unsafe-inline' script
    source, so the navigation to the javascript: URL is refused and reported as a violation.
    """
    manifest = httpx.get(f"{live_server}/iiif/harper/manifest", timeout=30).json()
    manifest["homepage"] = [
        {"id": "javascript:alert(document.domain)", "type": "Text", "label": {"en": ["Visit"]}, "format": "text/html"}
    ]
    hostile = "https://hostile.example/manifest.json"
    manifest["id"] = hostile  # Clover finds the manifest it loaded by its id
    page.route(
        hostile,
        lambda route: route.fulfill(
            status=200, json=manifest, headers={"Access-Control-Allow-Origin": "*", "Content-Type": "application/json"}
        ),
    )
    page.goto(f"{live_server}/viewer/clover?{urlencode({'manifest': hostile})}")
    page.evaluate(
        "() => { window.violations = []; document.addEventListener('securitypolicyviolation',"
        " e => window.violations.push(e.blockedURI + ' ' + e.effectiveDirective)); }"
    )
    link = page.locator('#viewer a[href^="javascript:"]')
    link.first.wait_for(timeout=WAIT_MS)
    link.first.click()
    page.wait_for_timeout(500)
    problems = [line for line in page.console_log if line.startswith(("[dialog]", "[pageerror]"))]
    assert not problems, problems
    violations = page.evaluate("() => window.violations")
    assert any("script-src" in v for v in violations), violations
