"""The results page of the search over every book (#13) in Chromium, on real books.

The server serves `indexed_books` (tests/conftest.py: three books of sample_books/ and the
French newspaper columns of tests/data, OCR'd by Tesseract, images from our Image API).
A reader types a word into the home page's box and presses Enter: the books come best
first, as `/api/search` ranks them; every hit's picture of its line loads; a hit, reached
with the keyboard, opens Mirador 4 on its page with the hit selected and highlighted;
axe-core (npm, tests/browser/package.json) finds no serious or critical violation, on a
desktop and on a phone-sized screen, where nothing needs scrolling sideways.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image, ImageChops

pytestmark = pytest.mark.browser

WAIT_MS = 30_000
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
COLUM = "en_colum_boy_apprenticed_enchanter_1920"
HARPER = "en_harper_half_hours_with_highwaymen_1908"
PHONE = {"width": 390, "height": 844}


def axe_violations(page: Any) -> list[str]:
    """The serious and critical violations axe-core finds on the page, one line each."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run scripts/setup --test (it installs axe-core from npm)")
    # Evaluated by Playwright, not added as a <script>: the page's CSP runs no inline script (#23).
    page.evaluate("() => {" + AXE.read_text(encoding="utf-8") + "\n}")
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def search_from_the_home_page(page: Any, base: str, q: str) -> None:
    """Type `q` into the home page's search over every book and press Enter."""
    page.goto(f"{base}/")
    box = page.get_by_role("searchbox", name="Search every book")
    box.fill(q)
    box.press("Enter")
    page.wait_for_url(f"{base}/search?*")
    page.locator("ol.results").wait_for(timeout=WAIT_MS)


def test_results_page_books_best_first_pictures_load_and_nothing_serious_for_axe(
    page: Any, books_server: str, screenshots_dir: Path
) -> None:
    search_from_the_home_page(page, books_server, "king")
    ranked = httpx.get(f"{books_server}/api/search", params={"q": "king"}, timeout=30).json()
    listed = page.locator("li.result").evaluate_all("items => items.map(i => i.dataset.book)")
    assert listed == [book["id"] for book in ranked["books"]] == [COLUM, HARPER]
    assert page.locator("li.result h2").all_inner_texts()[0] == ranked["books"][0]["label"]
    assert "35 hits on 8 pages" in page.locator("li.result").first.inner_text()

    pictures = page.locator("ol.results img")
    assert pictures.count() == 4
    for n in range(pictures.count()):
        picture = pictures.nth(n)
        picture.scroll_into_view_if_needed()
        src = picture.get_attribute("src")
        response = page.request.get(src)
        assert response.status == 200 and response.headers["content-type"] == "image/jpeg", src
        assert len(response.body()) > 500, src
        deadline = time.monotonic() + WAIT_MS / 1000
        while not picture.evaluate("img => img.complete && img.naturalWidth > 0"):
            assert time.monotonic() < deadline, f"{src} did not load in the page"
            time.sleep(0.1)
    marks = page.locator("ol.results .snippet mark").all_inner_texts()
    assert [m.lower().strip(".,") for m in marks] == ["king"] * 4
    assert axe_violations(page) == []
    assert not [line for line in page.console_log if line.startswith("[pageerror]")]
    # The README's picture of it (UPDATE_SCREENSHOTS=1 writes docs/screenshots/results.png).
    page.set_viewport_size({"width": 1100, "height": 900})
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots_dir / "results.png"))


def test_results_page_fits_a_phone_and_passes_axe_there(browser: Any, books_server: str) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{books_server}/search?q=king")
        page.locator("ol.results img").first.wait_for(timeout=WAIT_MS)
        width, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= inner, "the results page scrolls sideways on a phone"
        for picture in page.locator("ol.results img").all():
            box = picture.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= inner
        assert axe_violations(page) == []
    finally:
        context.close()


def test_the_list_works_without_javascript(browser: Any, books_server: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{books_server}/")
        page.get_by_role("searchbox", name="Search every book").fill("horse")
        page.get_by_role("button", name="Search", exact=True).click()
        page.locator("ol.results").wait_for(timeout=WAIT_MS)
        listed = page.locator("li.result").evaluate_all("items => items.map(i => i.dataset.book)")
        assert listed == [COLUM, HARPER]
        assert page.locator("a.hit-link").count() == 4
    finally:
        context.close()


def test_a_hit_reached_by_keyboard_opens_mirador_on_its_page_highlighted(
    page: Any, books_server: str, tmp_path: Path
) -> None:
    page.goto(f"{books_server}/search?q=king")
    harper_hit = page.locator(f'li.result[data-book="{HARPER}"] a.hit-link')
    href = harper_hit.get_attribute("href")
    target = parse_qs(urlsplit(href).query)["canvas"][0]
    canvas, box = target.split("#xywh=")
    x, y, w, h = (int(v) for v in box.split(","))
    # Tab through the page, as a keyboard user does, until the hit has the focus; then Enter.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("el => document.activeElement === el", harper_hit.element_handle()):
            break
    else:
        pytest.fail("Tab never reached the hit's link")
    page.keyboard.press("Enter")
    page.wait_for_url("**/viewer/mirador?*")

    # Mirador opens the book on the hit's page (p. 4, not the first) and selects the hit.
    own = httpx.get(f"{books_server}/iiif/{HARPER}/search/1", params={"q": "king"}, timeout=30).json()
    (annotation,) = [r["@id"] for r in own["resources"] if r["on"] == target]
    state_js = """() => { const s = window.miradorInstance && window.miradorInstance.store.getState();
        if (!s) return null; const w = Object.values(s.windows)[0];
        const e = document.querySelector('#viewer .openseadragon-canvas');
        const v = s.viewers[w.id]; if (!e || !v) return null; const r = e.getBoundingClientRect();
        return {canvas: w.canvasId, selected: w.selectedAnnotationId, view: v, rect: [r.x, r.y, r.width, r.height]}; }"""
    deadline = time.monotonic() + WAIT_MS / 1000
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(state_js)
        if state and state["selected"] == annotation:
            break
        time.sleep(0.3)
    assert state is not None and (state["canvas"], state["selected"]) == (canvas, annotation), state
    assert canvas.endswith("/canvas/p4")
    # The hit is painted over its word: Mirador's selected hit is yellow (#ffff00 at 30%).
    shot = tmp_path / "mirador.png"
    problem = "not checked"
    while time.monotonic() < deadline:
        state = page.evaluate(state_js)
        rx, ry, rw, rh = state["rect"]
        zoom = rw * state["view"]["zoom"]
        x0 = rx + rw / 2 + (x - state["view"]["x"]) * zoom
        y0 = ry + rh / 2 + (y - state["view"]["y"]) * zoom
        page.screenshot(path=str(shot))
        problem = _yellow_over(shot, (x0, y0, x0 + w * zoom, y0 + h * zoom))
        if not problem:
            break
        time.sleep(0.5)
    assert not problem, problem
    assert not [line for line in page.console_log if line.startswith("[pageerror]")]


def _yellow_over(shot: Path, box: tuple[float, float, float, float]) -> str:
    """'' when most of `box` (screen pixels) is tinted yellow, as Mirador paints a selected hit."""
    x0, y0, x1, y1 = (round(v) for v in box)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return f"the hit is too small on screen ({x0},{y0},{x1},{y1})"
    r, g, b = Image.open(shot).convert("RGB").crop((x0, y0, x1, y1)).split()
    # Page images here are black and white: only the highlight makes R≈G with B well below.
    yellow = ImageChops.multiply(
        ImageChops.subtract(r, b).point(lambda v: 255 if v > 40 else 0),
        ImageChops.difference(r, g).point(lambda v: 255 if v < 25 else 0),
    )
    share = yellow.histogram()[255] / max(1, yellow.width * yellow.height)
    return "" if share > 0.5 else f"only {share:.0%} of the hit's box ({x0},{y0},{x1},{y1}) is yellow"
