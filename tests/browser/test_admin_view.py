"""The home page's admin view (#22) in Chromium: a logged-in reader adds a book with the form and watches its job.

A live server over a data directory holding `seed`; the book added is a manifest of hOCR
pages on a loopback server (tests/search_service/admin_site.py), each page answered slowly
enough that the job is seen running. The reader's access cookie is signed with the
server's own secret, as the login flow sets it. axe-core finds nothing serious or
critical in the view, empty and with jobs; an anonymous reader sees no admin view.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from search_service.web.auth.reader import COOKIE, Access
from tests.browser.test_results_page import axe_violations
from tests.reliability.conftest import LiveServer
from tests.search_service.admin_site import Library, peru_pages, seeded_data_dir

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Library, Path]]:
    tmp = tmp_path_factory.mktemp("admin-view")
    library = Library(peru_pages(tmp / "peru"), delay=0.3)
    data_dir = seeded_data_dir(tmp / "data", library.pages, tmp)
    server = LiveServer(data_dir)
    try:
        yield server, library, data_dir
    finally:
        server.stop()
        library.close()


def log_in(page: Any, base: str, data_dir: Path, levels: frozenset[str]) -> None:
    access = Access.for_settings(None, data_dir)
    token = access.token(access.mint("ada", levels, 3600))
    page.context.add_cookies([{"name": COOKIE, "value": token, "url": base}])


def test_a_logged_in_reader_adds_a_book_and_watches_its_job(
    page: Any, admin_site: tuple[LiveServer, Library, Path]
) -> None:
    server, library, data_dir = admin_site
    page.goto(server.base + "/")
    assert page.locator("#admin").count() == 0  # anonymous: no admin view
    log_in(page, server.base, data_dir, frozenset({"clickthrough"}))
    page.goto(server.base + "/")
    assert page.locator("#admin").count() == 0  # a clickthrough is no login
    log_in(page, server.base, data_dir, frozenset({"restricted"}))
    page.goto(server.base + "/")
    view = page.get_by_role("region", name="Admin: add a book")
    assert "No indexing job yet" in view.inner_text()
    assert axe_violations(page) == []

    page.get_by_label("Manifest or Collection URL").fill(library.book("peru-browser", 4, 4))
    page.get_by_label("Book id (optional)").fill("peru-browser")
    page.get_by_role("button", name="Index it").click()
    page.wait_for_url(server.base + "/#admin")
    row = page.locator("tr.job", has_text="peru-browser")
    states = set()
    deadline = time.monotonic() + 60
    while (state := row.get_attribute("data-state")) != "done":
        states.add(state)
        if state == "running" and page.locator("tr.job progress").count():
            assert axe_violations(page) == []  # the view with a job in progress
        assert time.monotonic() < deadline, f"the job did not finish: {row.inner_text()}"
        time.sleep(0.2)
        page.reload()
    assert "running" in states or "queued" in states
    assert "4 of 4 (0 left)" in row.inner_text()
    assert axe_violations(page) == []
    # The book is now listed on the home page.
    assert page.locator('tr.book[data-book="peru-browser"]').count() == 1
