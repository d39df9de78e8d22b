"""A restricted book in Mirador 4 and UV (#22): the login, then the pages and a highlighted hit.

The browser sample (conftest.py `sample`) is copied and its book `harper` made restricted;
a server of its own serves the copy with a password file made here. Both viewers speak
IIIF Auth 1.0: info.json answers 401 with the login service, the viewer shows it, the
reader logs in in the window it opens (our form), the window closes itself, the viewer
frames the token service and asks again with the token; images come with the cookie.
An anonymous reader gets the login prompt and neither the page images nor the hits.
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
USER, PASSWORD = "reader", "open sesame"
VIEWERS = ("mirador", "uv")


@pytest.fixture(scope="module")
def restricted_server(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("auth-viewers")
    data_dir = root / "data"
    shutil.copytree(sample.data_dir, data_dir)
    assert Library(data_dir).set_access(BOOK, "restricted", wait=5)
    htpasswd = root / "htpasswd"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"{USER}:$2y${hashed[4:]}\n")
    env = {"IIIF_SEARCH_HTPASSWD": str(htpasswd), "IIIF_SEARCH_PAGE_SIZE": "5"}
    with serve(data_dir, _free_port(), root / "server.log", env=env) as url:
        yield url


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


def login_prompt(page: Any, viewer: str) -> Any:
    """The viewer's prompt for the login service: Mirador's bar with the service's label, UV's dialog."""
    if viewer == "mirador":
        return page.get_by_text("Log in to see this book").first
    return page.get_by_role("button", name="Log in", exact=True).first


def confirm_button(page: Any, viewer: str) -> Any:
    """The viewer's button that opens the login window (the service's confirmLabel, "Log in")."""
    login_prompt(page, viewer).wait_for(timeout=WAIT_MS)
    if viewer == "mirador":
        # Mirador 4 shows the label and "Continue"; then the header, description and confirmLabel.
        page.get_by_role("button", name="Continue").click()
    return page.get_by_role("button", name="Log in", exact=True).first


@pytest.mark.xfail(
    reason="unfinished (#22): after the login window closes, Mirador 4 shows Log out but frames no token "
    "service and asks info.json no more; UV not yet tried",
    strict=False,
)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_reader_logs_in_sees_the_pages_and_a_highlighted_hit(
    page: Any, restricted_server: str, viewer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where the hit's word is: asked of the search API as the reader, not anonymously (a 401).
    monkeypatch.setattr(test_viewers, "api_search", logged_in_search)
    images = image_answers(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    driver = make_driver(viewer, page, restricted_server)
    driver.open(f"{restricted_server}/iiif/{BOOK}/manifest")
    button = confirm_button(page, viewer)
    button.wait_for(timeout=WAIT_MS)
    with page.expect_popup(timeout=WAIT_MS) as opened:
        button.click()
    login = opened.value
    login.wait_for_load_state()
    assert "/auth/login" in login.url
    login.fill("#user", USER)
    login.fill("#password", PASSWORD)
    with login.expect_event("close", timeout=WAIT_MS):
        login.get_by_role("button", name="Log in").click()
    # The viewer takes the token and loads the page images, with the cookie.
    wait_until(
        lambda: any(status == 200 and ".jpg" in url for url, status in images),
        f"page images: {images} {[u for u in requests if '/auth/' in u]}",
    )
    driver.search_box().wait_for(timeout=WAIT_MS)
    driver.search("balfour")
    assert [w.lower().strip(".,;") for w in driver.matched_words()] == ["balfour"]
    assert search_requests(requests, BOOK)
    assert_highlighted(driver, restricted_server, BOOK, "balfour", tmp_path)


@pytest.mark.parametrize(
    "viewer",
    [
        "mirador",
        pytest.param("uv", marks=pytest.mark.xfail(reason="unfinished (#22): UV's login prompt not yet located")),
    ],
)
def test_an_anonymous_reader_sees_neither_pages_nor_hits(page: Any, restricted_server: str, viewer: str) -> None:
    images = image_answers(page)
    search_answers: list[int] = []
    page.on("response", lambda r: search_answers.append(r.status) if f"/iiif/{BOOK}/search/" in r.url else None)
    driver = make_driver(viewer, page, restricted_server)
    driver.open(f"{restricted_server}/iiif/{BOOK}/manifest", q="balfour")
    login_prompt(page, viewer).wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(2000)
    assert images and all(status == 401 for _, status in images), images
    assert all(status == 401 for status in search_answers), search_answers
    anonymous = httpx.get(f"{restricted_server}/iiif/{BOOK}/search/1", params={"q": "balfour"})
    assert anonymous.status_code == 401
