"""Mirador 4, Mirador 3 and UV 4.4 searching our books in Chromium, as a reader does.

Each viewer gets the same checks through a small driver that knows its DOM: the search
box appears, a query typed into it reaches our Search 1.0 service (listed after the 2.0
one, which these viewers must pass over; Clover's tests are in test_clover.py), the hits
are listed with the matched word, the highlight is drawn over that word on the page image,
autocomplete offers terms, a query without hits shows the viewer's own message, more
hits than one response page (IIIF_SEARCH_PAGE_SIZE=5) are reached, and `?q=` opens
the book with the search already run.

Where the highlight should be is computed, not eyeballed: the hit's `#xywh` box from
our API is mapped to screen pixels through the viewer's current viewport, then Mirador's
canvas pixels (it paints hits in #ffff00 / #00BFFF at 30% opacity) or UV's
`div.annotationRect` overlays are compared with it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from PIL import Image, ImageChops

from tests.browser.conftest import ALTERNATIVE_WORD

pytestmark = pytest.mark.browser

VIEWERS = ("mirador", "mirador3", "uv")
BOOKS = ("harper", "harper-v2")  # Presentation 3.0 folder book, Presentation 2.1 manifest
SCREENSHOT_NAMES = {"mirador": "mirador4.png", "mirador3": "mirador3.png", "uv": "uv.png"}
WAIT_MS = 30_000
TOLERANCE_PX = 4  # rounding of canvas units to screen pixels, and antialiasing


# -- what our API says -------------------------------------------------------------------


def api_search(base: str, book: str, q: str) -> dict[str, Any]:
    """Our Search 1.0 response for `q` in `book` (first page), straight from the server."""
    response = httpx.get(f"{base}/iiif/{book}/search/1", params={"q": q}, timeout=30)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def xywh(on: str) -> tuple[str, tuple[int, int, int, int]]:
    """Canvas id and box of a Search 1.0 `on` string."""
    canvas, fragment = on.split("#xywh=")
    x, y, w, h = (int(v) for v in fragment.split(","))
    return canvas, (x, y, w, h)


def search_requests(requests: list[str], book: str) -> list[dict[str, list[str]]]:
    """Query parameters of each request the page sent to this book's Search 1.0 service."""
    return [parse_qs(urlsplit(url).query) for url in requests if urlsplit(url).path == f"/iiif/{book}/search/1"]


def autocomplete_requests(requests: list[str], book: str) -> list[dict[str, list[str]]]:
    """Query parameters of each request the page sent to this book's autocomplete service."""
    return [parse_qs(urlsplit(url).query) for url in requests if urlsplit(url).path == f"/iiif/{book}/autocomplete/1"]


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT_MS / 1000) -> Any:
    """Poll `condition` until it returns something truthy; fail saying `what` was awaited."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


# -- highlight pixels --------------------------------------------------------------------------


def tinted(path: Path, box: tuple[int, int, int, int]) -> Image.Image:
    """A mask ("L", 255 = set) of the pixels in `box` (screen x0, y0, x1, y1) tinted by a highlight.

    Page images here are black-and-white, the viewer backgrounds grey: only a highlight
    (#ffff00 or #00BFFF at 30%) makes a pixel yellowish (R≈G, B well below) or blueish
    (B well above R).
    """
    r, g, b = Image.open(path).convert("RGB").crop(box).split()
    yellow = ImageChops.multiply(
        ImageChops.subtract(r, b).point(lambda v: 255 if v > 40 else 0),
        ImageChops.difference(r, g).point(lambda v: 255 if v < 25 else 0),
    )
    blue = ImageChops.multiply(
        ImageChops.subtract(b, r).point(lambda v: 255 if v > 40 else 0),
        ImageChops.subtract(g, r).point(lambda v: 255 if v > 25 else 0),
    )
    return ImageChops.lighter(yellow, blue)


def close_boxes(a: tuple[float, ...], b: tuple[float, ...], tolerance: float = TOLERANCE_PX) -> bool:
    """Whether two (x0, y0, x1, y1) screen boxes agree within `tolerance` pixels on every side."""
    return all(abs(p - q) <= tolerance for p, q in zip(a, b, strict=True))


# -- drivers: how each viewer is used ---------------------------------------------------------


class Driver:
    """One viewer's page: what a reader clicks and reads, and where its viewport is."""

    key = ""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base

    def open(self, manifest: str, q: str | None = None) -> None:
        """Load our viewer page for `manifest`, with `q` when given."""
        params = {"manifest": manifest} | ({"q": q} if q else {})
        self.page.goto(f"{self.base}/viewer/{self.key}?{urlencode(params)}")

    def search_box(self) -> Any:
        """The viewer's search input (a Playwright locator)."""
        raise NotImplementedError

    def search(self, q: str) -> None:
        """Type `q` into the search box and press Enter."""
        box = self.search_box()
        box.click()
        box.fill(q)
        box.press("Enter")

    def type_slowly(self, text: str) -> None:
        """Type key by key, as a reader does, so autocomplete reacts."""
        box = self.search_box()
        box.click()
        box.fill("")
        box.press_sequentially(text, delay=80)

    def matched_words(self) -> list[str]:
        """The matched words of the listed hits, once at least one is listed."""
        raise NotImplementedError

    def expect_no_hits_message(self) -> None:
        """Wait for the viewer's own "no results" message."""
        raise NotImplementedError

    def autocomplete_options(self) -> Any:
        """The suggestions the viewer lists under the search box (a locator)."""
        raise NotImplementedError

    def highlight_drawn(self, shot: Path) -> bool:
        """Whether any search highlight is on screen yet."""
        raise NotImplementedError

    def check_highlight(self, box: tuple[int, int, int, int], scale: float, shot: Path) -> str:
        """'' when the hit's box (canvas units) is highlighted on screen, else what is wrong.

        `scale` turns canvas units into pixels of the page image (image width / canvas width).
        """
        raise NotImplementedError


class MiradorDriver(Driver):
    """Mirador 3 and 4 (same DOM for what we use)."""

    key = "mirador"

    def search_box(self) -> Any:
        return self.page.locator('#viewer form input[id^="search-"]')

    def matched_words(self) -> list[str]:
        strong = self.page.locator("#viewer li strong, #viewer [class*=ListItemButton] strong")
        strong.first.wait_for(timeout=WAIT_MS)
        return [text.strip() for text in strong.all_inner_texts()]

    def expect_no_hits_message(self) -> None:
        self.page.get_by_text("No results found").wait_for(timeout=WAIT_MS)

    def autocomplete_options(self) -> Any:
        return self.page.locator('[role="listbox"] [role="option"]')

    def load_more(self) -> None:
        """Click "More results" under the hit list."""
        self.page.get_by_role("button", name=re.compile("More results")).click()

    def viewport(self) -> dict[str, Any]:
        """Mirador's viewer state (centre and zoom in canvas units) and the OpenSeadragon element's box."""
        return self.page.evaluate("""() => {
            const state = window.miradorInstance.store.getState();
            const windowId = Object.keys(state.windows)[0];
            const element = document.querySelector('#viewer .openseadragon-canvas');
            if (!element || !state.viewers[windowId]) return null;
            const r = element.getBoundingClientRect();
            return {view: state.viewers[windowId], canvasId: state.windows[windowId].canvasId,
                    rect: [r.x, r.y, r.width, r.height]};
        }""")

    def highlight_drawn(self, shot: Path) -> bool:
        info = self.viewport()
        if not info:
            return False
        rx, ry, rw, rh = info["rect"]
        self.page.screenshot(path=str(shot))
        return tinted(shot, (round(rx), round(ry), round(rx + rw), round(ry + rh))).getbbox() is not None

    def check_highlight(self, box: tuple[int, int, int, int], scale: float, shot: Path) -> str:
        # Mirador fits the image to the canvas: a canvas-unit box is where the word is drawn.
        info = self.viewport()
        if not info:
            return "no OpenSeadragon viewer yet"
        view, (rx, ry, rw, rh) = info["view"], info["rect"]
        # OpenSeadragon zoom = 1 / viewport width, and Mirador's world is in canvas units.
        px = rw * view["zoom"]
        x0 = rx + rw / 2 + (box[0] - view["x"]) * px
        y0 = ry + rh / 2 + (box[1] - view["y"]) * px
        expected = (x0, y0, x0 + box[2] * px, y0 + box[3] * px)
        self.page.screenshot(path=str(shot))
        inside = [round(v) for v in expected]
        mask = tinted(shot, (inside[0], inside[1], inside[2], inside[3]))
        area = max(1, mask.width * mask.height)
        covered = mask.histogram()[255] / area
        # Every tinted pixel in the viewer: the highlight must not spill far outside the word.
        osd = tinted(shot, (round(rx), round(ry), round(rx + rw), round(ry + rh)))
        found = osd.getbbox()
        if found is None:
            return f"no highlight drawn (word expected at {inside})"
        drawn = (found[0] + rx, found[1] + ry, found[2] + rx, found[3] + ry)
        if covered < 0.6 or not close_boxes(drawn, expected, TOLERANCE_PX + 2):
            return f"highlight at {tuple(round(v) for v in drawn)}, word at {inside} ({covered:.0%} of it tinted)"
        return ""


class Mirador3Driver(MiradorDriver):
    key = "mirador3"


class UvDriver(Driver):
    """Universal Viewer 4.4: footer search box, placemarkers, `div.annotationRect` overlays."""

    key = "uv"

    def search_box(self) -> Any:
        return self.page.locator("#searchWithinInput")

    def search(self, q: str) -> None:
        box = self.search_box()
        box.wait_for(timeout=WAIT_MS)
        box.fill(q)
        box.press("Enter")

    def results_info(self) -> tuple[int, str]:
        """(number of results, terms) of UV's "N results found for 'terms'" line, once shown."""
        info = self.page.locator(".searchResultsInfo")
        info.locator(".number").wait_for(state="visible", timeout=WAIT_MS)
        wait_until(lambda: info.locator(".number").inner_text().strip().isdigit(), "UV's result count")
        return int(info.locator(".number").inner_text()), info.locator(".terms").inner_text()

    def matched_words(self) -> list[str]:
        # UV lists hits as placemarkers on the page line and as counts on the thumbnails;
        # the matched word is in the results line ("3 results found for 'highwayman'").
        count, terms = self.results_info()
        return [terms] * count

    def expect_no_hits_message(self) -> None:
        self.page.get_by_text("No matches were found").wait_for(timeout=WAIT_MS)

    def autocomplete_options(self) -> Any:
        return self.page.locator("ul.autocomplete li.result")

    def go_to_first_hit(self) -> None:
        """UV opens on the first canvas; "Next Result" goes to the first hit, zoomed in."""
        if not self.page.locator(".annotationRect").count():
            self.page.locator(".nextResult").click()

    def highlight_drawn(self, shot: Path) -> bool:
        return bool(self.page.locator(".annotationRect").count())

    def check_highlight(self, box: tuple[int, int, int, int], scale: float, shot: Path) -> str:
        rects = self.page.evaluate("""() => [...document.querySelectorAll('.annotationRect')]
            .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
        if not rects:
            return "no div.annotationRect drawn"
        # Where the word's pixels are drawn: UV's OpenSeadragon maps image pixels to the screen.
        expected = self.page.evaluate(
            """([x, y, w, h]) => {
            const viewer = window.uv.assignedContentHandler.extension.centerPanel.viewer;
            const image = viewer.world.getItemAt(0);
            if (!image || viewer.world.needsDraw()) return null;
            const screen = (px, py) => viewer.viewport.viewportToViewerElementCoordinates(
                image.imageToViewportCoordinates(px, py));
            const r = viewer.element.getBoundingClientRect();
            const a = screen(x, y), b = screen(x + w, y + h);
            return [a.x + r.x, a.y + r.y, b.x + r.x, b.y + r.y];
        }""",
            [box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale],
        )
        if expected is None:
            return "the page image is still loading"
        if not any(close_boxes(tuple(rect), tuple(expected)) for rect in rects):
            return (
                f"annotationRects at {[[round(v) for v in r] for r in rects]}, word at {[round(v) for v in expected]}"
            )
        return ""


DRIVERS: dict[str, type[Driver]] = {"mirador": MiradorDriver, "mirador3": Mirador3Driver, "uv": UvDriver}


@pytest.fixture
def requests_seen(page: Any) -> list[str]:
    """Every URL the page requests, in order."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def make_driver(viewer: str, page: Any, base: str) -> Driver:
    """The driver of `viewer` ("mirador", "mirador3" or "uv") on `page`."""
    return DRIVERS[viewer](page, base)


def image_scale(base: str, book: str, canvas_id: str) -> float:
    """Image pixels per canvas unit on one canvas of a served manifest (v2 or v3)."""
    manifest = httpx.get(f"{base}/iiif/{book}/manifest", timeout=30).json()
    if "items" in manifest:
        for canvas in manifest["items"]:
            if canvas["id"] == canvas_id:
                body = canvas["items"][0]["items"][0]["body"]
                return float(body["width"]) / float(canvas["width"])
    else:
        for canvas in manifest["sequences"][0]["canvases"]:
            if canvas["@id"] == canvas_id:
                return float(canvas["images"][0]["resource"]["width"]) / float(canvas["width"])
    raise AssertionError(f"canvas {canvas_id} not in the manifest of {book}")


def assert_highlighted(
    driver: Driver, base: str, book: str, q: str, tmp_path: Path, settle_s: float = WAIT_MS / 1000
) -> None:
    """The single hit of `q` is highlighted over its word.

    Waits for a highlight to appear, then gives the viewer `settle_s` seconds (its pan and
    zoom animations) to put it over the word.
    """
    data = api_search(base, book, q)
    assert len(data["resources"]) == 1, "the check needs a query with one hit"
    canvas_id, box = xywh(data["resources"][0]["on"])
    scale = image_scale(base, book, canvas_id)
    if isinstance(driver, UvDriver):
        driver.go_to_first_hit()
    shot = tmp_path / "highlight.png"
    wait_until(lambda: driver.highlight_drawn(shot), f"a highlight in {driver.key}")
    problems: list[str] = []

    def highlighted() -> bool:
        problem = driver.check_highlight(box, scale, shot)
        problems.append(problem)
        return not problem

    deadline = time.monotonic() + settle_s
    while not highlighted():
        if time.monotonic() > deadline:
            pytest.fail(f"{driver.key}: hit of {q!r} on {book} not highlighted over its word: {problems[-1]}")
        time.sleep(0.3)


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("book", BOOKS)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_typed_search_lists_and_highlights_hits(
    page: Any, live_server: str, requests_seen: list[str], viewer: str, book: str, tmp_path: Path
) -> None:
    # Our manifests list the Search 2.0 service first (for Clover, #12): these viewers must find
    # the 1.0 service by its profile, not by its place.
    services = httpx.get(f"{live_server}/iiif/{book}/manifest", timeout=30).json()["service"]
    assert services[0]["type"] == "SearchService2"
    assert services[1]["profile"] == "http://iiif.io/api/search/1/search"
    driver = make_driver(viewer, page, live_server)
    driver.open(f"{live_server}/iiif/{book}/manifest")
    driver.search_box().wait_for(timeout=WAIT_MS)

    driver.search("balfour")
    words = driver.matched_words()
    assert [w.lower().strip(".,;") for w in words] == ["balfour"]
    # Mirador 3 sends a typed query twice (its autocomplete and its form both submit).
    sent = search_requests(requests_seen, book)
    assert sent and all(params == {"q": ["balfour"]} for params in sent), sent
    assert_highlighted(driver, live_server, book, "balfour", tmp_path)
    errors = [line for line in page.console_log if line.startswith("[pageerror]")]
    assert not errors, errors


@pytest.mark.parametrize("viewer", VIEWERS)
def test_search_lists_every_hit_with_its_word(
    page: Any, live_server: str, requests_seen: list[str], viewer: str
) -> None:
    driver = make_driver(viewer, page, live_server)
    driver.open(f"{live_server}/iiif/harper/manifest")
    driver.search("highwayman")
    expected = [hit["match"] for hit in api_search(live_server, "harper", "highwayman")["hits"]]
    assert len(expected) == 3
    words = wait_until(lambda: len(driver.matched_words()) == 3 and driver.matched_words(), "three hits")
    if viewer == "uv":
        assert words == ["highwayman"] * 3
        # One placemarker per canvas with hits, on the page slider.
        assert page.locator(".searchResultPlacemarker").count() == 2
    else:
        assert words == expected


@pytest.mark.parametrize("viewer", VIEWERS)
def test_autocomplete_offers_indexed_terms(page: Any, live_server: str, requests_seen: list[str], viewer: str) -> None:
    driver = make_driver(viewer, page, live_server)
    driver.open(f"{live_server}/iiif/harper/manifest")
    driver.search_box().wait_for(timeout=WAIT_MS)
    driver.type_slowly("highw")
    options = driver.autocomplete_options()
    wait_until(lambda: options.count() >= 2, "autocomplete suggestions")
    assert [text.strip() for text in options.all_inner_texts()] == ["highwayman", "highwaymen"]
    assert any(params.get("q", [""])[0].startswith("high") for params in autocomplete_requests(requests_seen, "harper"))
    # Choosing a suggestion (keyboard: down, enter) runs the search for it.
    box = driver.search_box()
    box.press("ArrowDown")
    box.press("Enter")
    wait_until(
        lambda: {"q": ["highwayman"]} in search_requests(requests_seen, "harper"), "a search for the chosen term"
    )


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_hits_shows_the_viewers_message(page: Any, live_server: str, requests_seen: list[str], viewer: str) -> None:
    driver = make_driver(viewer, page, live_server)
    driver.open(f"{live_server}/iiif/harper-v2/manifest")
    driver.search("xylophone")
    driver.expect_no_hits_message()
    sent = search_requests(requests_seen, "harper-v2")
    assert sent and all(params == {"q": ["xylophone"]} for params in sent), sent
    errors = [line for line in page.console_log if line.startswith("[pageerror]")]
    assert not errors, errors


@pytest.mark.parametrize("viewer", VIEWERS)
def test_more_hits_than_a_page_reach_the_next_page(
    page: Any, live_server: str, requests_seen: list[str], viewer: str, page_size: int
) -> None:
    first = api_search(live_server, "harper", "the")
    total = first["within"]["total"]
    assert total > 2 * page_size and len(first["resources"]) == page_size
    driver = make_driver(viewer, page, live_server)
    driver.open(f"{live_server}/iiif/harper/manifest")
    driver.search("the")
    if isinstance(driver, UvDriver):
        # UV follows `next` until the last page and counts every hit.
        count, terms = driver.results_info()
        assert (count, terms) == (total, "the")
        pages = [int(params.get("page", ["0"])[0]) for params in search_requests(requests_seen, "harper")]
        assert pages == list(range(-(-total // page_size)))
    else:
        assert isinstance(driver, MiradorDriver)
        wait_until(lambda: len(driver.matched_words()) == page_size, f"the first {page_size} hits")
        page.get_by_text(f"({total - page_size} remaining)").wait_for(timeout=WAIT_MS)
        driver.load_more()
        wait_until(lambda: len(driver.matched_words()) == 2 * page_size, f"{2 * page_size} hits after 'More results'")
        # Mirador 3 sends the typed query twice; then "More results" asks for page 1 once.
        pages = [params.get("page") for params in search_requests(requests_seen, "harper")]
        assert pages[-1] == ["1"] and set(map(str, pages[:-1])) == {"None"}, pages


@pytest.mark.parametrize("viewer", VIEWERS)
def test_q_opens_the_book_with_the_search_run(
    page: Any, live_server: str, requests_seen: list[str], viewer: str, screenshots_dir: Path
) -> None:
    driver = make_driver(viewer, page, live_server)
    driver.open(f"{live_server}/iiif/harper/manifest", q="highwayman")
    wait_until(lambda: len(driver.matched_words()) == 3, "the hits of ?q=highwayman")
    if isinstance(driver, UvDriver):
        page.locator(".annotationRect").first.wait_for(timeout=WAIT_MS)
    assert search_requests(requests_seen, "harper") == [{"q": ["highwayman"]}]
    page.wait_for_load_state("networkidle")
    # Screenshots for the README (UPDATE_SCREENSHOTS=1 writes them to docs/screenshots/).
    page.screenshot(path=str(screenshots_dir / SCREENSHOT_NAMES[viewer]))
    errors = [line for line in page.console_log if line.startswith("[pageerror]")]
    assert not errors, errors


MISPLACED = {
    "mirador": "Mirador 4.0.0 scales annotation boxes by image pixels, not canvas units (ProjectMirador/mirador#4533)",
    "mirador3": "Mirador 3 draws annotation boxes in the first image's pixel space, not canvas units (as mirador#4533)",
    "uv": "UV 4.4 uses the image's info.json size, not the canvas size (UniversalViewer/universalviewer#778)",
}


@pytest.mark.parametrize(
    "viewer", [pytest.param(v, marks=pytest.mark.xfail(strict=True, reason=MISPLACED[v])) for v in VIEWERS]
)
def test_highlight_on_a_canvas_smaller_than_its_image(page: Any, live_server: str, viewer: str, tmp_path: Path) -> None:
    """Presentation lets a canvas differ in size from its image; our boxes are in canvas units.

    Every viewer here places the highlight as if canvas units were image pixels, so on
    such manifests (common from other institutions) the boxes land off the words. Strict
    xfail: the day a viewer update fixes it, this test says so.
    """
    driver = make_driver(viewer, page, live_server)
    driver.open(f"{live_server}/iiif/harper-scaled/manifest")
    driver.search("balfour")
    driver.matched_words()
    assert_highlighted(driver, live_server, "harper-scaled", "balfour", tmp_path, settle_s=3)


@pytest.mark.parametrize("viewer", ["mirador", "mirador3"])
def test_hits_survive_leaving_and_reopening_the_search_panel(
    page: Any, live_server: str, requests_seen: list[str], viewer: str
) -> None:
    """Mirador 4.0.0 re-sends the search when its panel reappears and then crashes
    (mirador#4214); our page's `searchOnce` plugin keeps it to one request."""
    driver = make_driver(viewer, page, live_server)
    driver.open(f"{live_server}/iiif/harper/manifest", q="highwayman")
    wait_until(lambda: len(driver.matched_words()) == 3, "the hits of ?q=highwayman")
    page.get_by_role("tab", name="Information").click()
    page.locator("#viewer").get_by_text("About this item").wait_for(timeout=WAIT_MS)
    page.get_by_role("tab", name="Search").click()
    wait_until(lambda: len(driver.matched_words()) == 3, "the hits again")
    assert not page.get_by_text("An error occurred").count()
    assert search_requests(requests_seen, "harper") == [{"q": ["highwayman"]}]
    # A new query still goes out.
    driver.search("balfour")
    wait_until(lambda: driver.matched_words() == ["Balfour"], "the hit of the new query")
    errors = [line for line in page.console_log if line.startswith("[pageerror]")]
    assert not errors, errors


def test_a_word_found_through_an_alternative_reading_is_highlighted_at_the_printed_word(
    page: Any, live_server: str, tmp_path: Path
) -> None:
    """#21 in Mirador 4: the alternative finds the page, the printed word is listed, labelled and highlighted."""
    printed, other = ALTERNATIVE_WORD
    q = other.strip(".")
    [resource] = api_search(live_server, "harper-alt", q)["resources"]
    assert resource["resource"]["chars"] == printed and "alternative reading" in resource["label"]
    driver = make_driver("mirador", page, live_server)
    driver.open(f"{live_server}/iiif/harper-alt/manifest")
    driver.search(q)
    assert driver.matched_words() == [printed]
    page.get_by_text("alternative reading", exact=False).first.wait_for(timeout=WAIT_MS)
    assert_highlighted(driver, live_server, "harper-alt", q, tmp_path)
