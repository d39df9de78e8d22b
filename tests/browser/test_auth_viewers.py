"""A restricted book in Mirador 4 and UV (#22): the login, then the pages and a highlighted hit.

The browser sample (conftest.py `sample`) is copied and its folder book `harper` (images
from our own image endpoint) made restricted, or clickthrough; a server of its own serves
the copy with a password file made here. Both viewers speak IIIF Auth 1.0: info.json
answers 401 with the login service, the viewer shows it, the reader logs in in the window
it opens (our form), the window closes itself, the viewer frames the token service and asks
again with the token; images come with the cookie. An anonymous reader gets the login
prompt and neither the page images nor the hits.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest

from indexer.index.library import Library
from tests.browser import test_viewers
from tests.browser.conftest import Sample, _free_port, serve
from tests.browser.test_viewers import WAIT_MS, assert_highlighted, make_driver, search_requests, wait_until

BOOK = "harper"
FIRST_PAGE, HIT_PAGE = "harper~0003", "harper~0005"  # "balfour" is on the second page only
USER, PASSWORD = "reader", "open sesame"
VIEWERS = ("mirador", "uv")


def _server_with(level: str, sample: Sample, root: Path) -> Iterator[str]:
    """A server of a copy of the sample where BOOK is at `level`, with a password file of USER."""
    data_dir = root / "data"
    shutil.copytree(sample.data_dir, data_dir)
    assert Library(data_dir).set_access(BOOK, level, wait=5)
    htpasswd = root / "htpasswd"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"{USER}:$2y${hashed[4:]}\n")
    env = {"IIIF_SEARCH_HTPASSWD": str(htpasswd), "IIIF_SEARCH_PAGE_SIZE": "5"}
    with serve(data_dir, _free_port(), root / "server.log", env=env) as url:
        yield url


@pytest.fixture(scope="module")
def restricted_server(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server_with("restricted", sample, tmp_path_factory.mktemp("auth-viewers"))


@pytest.fixture(scope="module")
def clickthrough_server(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server_with("clickthrough", sample, tmp_path_factory.mktemp("clickthrough-viewers"))


def logged_in_search(base: str, book: str, q: str) -> dict[str, Any]:
    """test_viewers.api_search as the logged-in reader (HTTP Basic on /auth/login, then the cookie)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/auth/login", auth=(USER, PASSWORD)).status_code == 200
        response = client.get(f"/iiif/{book}/search/1", params={"q": q})
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def image_answers(page: Any) -> list[tuple[str, int]]:
    """(URL, status) of every answer from our image endpoint the page receives."""
    seen: list[tuple[str, int]] = []
    page.on("response", lambda r: seen.append((r.url, r.status)) if "/iiif/image/" in r.url else None)
    return seen


def page_shown(images: list[tuple[str, int]], page_id: str) -> bool:
    """Whether a pixel request of `page_id` (not its info.json) was answered 200."""
    return any(status == 200 and f"/{page_id}/" in url and url.endswith(".jpg") for url, status in images)


def wait_for_page_image(page: Any, images: list[tuple[str, int]], page_id: str, requests: list[str]) -> None:
    """Wait until `page_id` is drawn. Playwright's sync API delivers the page's events only while
    it is called, so the wait is Playwright's own (a bare sleep would never see a response)."""

    def shown() -> bool:
        page.wait_for_timeout(200)
        return page_shown(images, page_id)

    auth = [url for url in requests if "/auth/" in url]
    wait_until(shown, f"{page_id}'s image (images: {images}; auth requests: {auth})")


def login_prompt(page: Any, viewer: str, label: str = "Log in to see this book") -> Any:
    """The viewer's prompt for the access service: Mirador's bar with the service's label, UV's dialog."""
    if viewer == "mirador":
        return page.get_by_text(label).first
    return page.locator(".overlay.auth").first


def confirm_button(page: Any, viewer: str, label: str = "Log in to see this book", confirm: str = "Log in") -> Any:
    """The viewer's button that opens the access service's window (the service's confirmLabel)."""
    login_prompt(page, viewer, label).wait_for(timeout=WAIT_MS)
    if viewer == "mirador":
        # Mirador 4 shows the label and "Continue"; then the header, description and confirmLabel.
        page.get_by_role("button", name="Continue").click()
        return page.get_by_role("button", name=confirm, exact=True).first
    # UV 4.4's auth dialog: the confirmLabel is a link (<a class="confirm" href="#">), not a button.
    return page.locator(".overlay.auth a.confirm").first


def go_through_access_window(page: Any, button: Any, fill: dict[str, str], submit: str) -> None:
    """Click the viewer's button, then in the window it opens fill `fill` and press `submit`; it closes itself."""
    button.wait_for(timeout=WAIT_MS)
    with page.expect_popup(timeout=WAIT_MS) as opened:
        button.click()
    window = opened.value
    window.wait_for_load_state()
    for selector, value in fill.items():
        window.fill(selector, value)
    with window.expect_event("close", timeout=WAIT_MS):
        window.get_by_role("button", name=submit).click()


def token_requests(requests: list[str]) -> list[str]:
    return [url for url in requests if "/auth/1/token?" in url and "messageId=" in url]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_reader_logs_in_sees_the_pages_and_a_highlighted_hit(
    page: Any,
    restricted_server: str,
    viewer: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    screenshots_dir: Path,
) -> None:
    # Where the hit's word is: asked of the search API as the reader, not anonymously (a 401).
    monkeypatch.setattr(test_viewers, "api_search", logged_in_search)
    images = image_answers(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    driver = make_driver(viewer, page, restricted_server)
    driver.open(f"{restricted_server}/iiif/{BOOK}/manifest")
    button = confirm_button(page, viewer)
    assert button.inner_text().strip().lower() == "log in"  # the service's confirmLabel
    if viewer == "uv":  # readable: UV's link-button took our link colour, dark blue on teal (site.css)
        assert button.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    page.screenshot(path=str(screenshots_dir / f"{viewer}-login.png"))  # docs/access.md's, with UPDATE_SCREENSHOTS=1
    assert not page_shown(images, FIRST_PAGE)
    go_through_access_window(page, button, {"#user": USER, "#password": PASSWORD}, "Log in")
    # The viewer frames the token service, asks info.json again with the token, and draws the
    # page it is on (the first) with the cookie: before any search moves it.
    wait_for_page_image(page, images, FIRST_PAGE, requests)
    assert token_requests(requests), [u for u in requests if "/auth/" in u]
    driver.search_box().wait_for(timeout=WAIT_MS)
    driver.search("balfour")
    assert [w.lower().strip(".,;") for w in driver.matched_words()] == ["balfour"]
    assert search_requests(requests, BOOK)
    assert_highlighted(driver, restricted_server, BOOK, "balfour", tmp_path)
    wait_for_page_image(page, images, HIT_PAGE, requests)
    if viewer == "mirador":
        logging_out_hides_the_page(page, images)


def logging_out_hides_the_page(page: Any, images: list[tuple[str, int]]) -> None:
    """Mirador's "Log out" opens the logout service (which revokes the session) and, 2 s later,
    asks info.json again: the page it is on is drawn anew, and its images now answer 401."""
    seen_before = len(images)
    with page.expect_popup(timeout=WAIT_MS) as opened:
        page.get_by_role("button", name="Log out").click()
    logout = opened.value
    logout.wait_for_load_state()
    assert "/auth/logout" in logout.url
    logout.close()

    def refused_again() -> bool:
        page.wait_for_timeout(200)
        later = images[seen_before:]
        return any(status == 401 and f"/{HIT_PAGE}/" in url and url.endswith(".jpg") for url, status in later)

    wait_until(refused_again, f"the page's images refused after the logout: {images[seen_before:]}")
    assert all(status == 401 for url, status in images[seen_before:]), images[seen_before:]


def test_a_reader_agrees_to_the_terms_in_mirador_and_sees_the_pages_and_the_hits(
    page: Any, clickthrough_server: str
) -> None:
    images = image_answers(page)
    driver = make_driver("mirador", page, clickthrough_server)
    driver.open(f"{clickthrough_server}/iiif/{BOOK}/manifest")
    label = "Agree to the terms to see this book"
    button = confirm_button(page, "mirador", label, confirm="I agree")
    assert not page_shown(images, FIRST_PAGE)
    go_through_access_window(page, button, {}, "I agree")
    wait_for_page_image(page, images, FIRST_PAGE, [])
    driver.search_box().wait_for(timeout=WAIT_MS)
    driver.search("balfour")
    assert [w.lower().strip(".,;") for w in driver.matched_words()] == ["balfour"]
    wait_for_page_image(page, images, HIT_PAGE, [])


@pytest.mark.parametrize("viewer", VIEWERS)
def test_an_anonymous_reader_sees_neither_pages_nor_hits(page: Any, restricted_server: str, viewer: str) -> None:
    images = image_answers(page)
    search_answers: list[int] = []
    page.on("response", lambda r: search_answers.append(r.status) if f"/iiif/{BOOK}/search/" in r.url else None)
    driver = make_driver(viewer, page, restricted_server)
    # Without `q`: UV shows one dialog at a time, and its "No matches" would hide the login.
    driver.open(f"{restricted_server}/iiif/{BOOK}/manifest")
    login_prompt(page, viewer).wait_for(timeout=WAIT_MS)
    driver.search("balfour")
    if viewer == "uv":
        driver.expect_no_hits_message()  # UV's answer to the search's 401

    def answered() -> bool:
        page.wait_for_timeout(200)
        return bool(search_answers)

    wait_until(answered, "the search's answer")
    page.wait_for_timeout(1000)  # time for anything the viewer would do with it
    assert images and all(status == 401 for _, status in images), images
    assert search_answers and all(status == 401 for status in search_answers), search_answers
    assert not page.locator(".annotationRect").count()  # UV's highlight
    assert not page.locator("#viewer li strong").count()  # Mirador's listed hit
