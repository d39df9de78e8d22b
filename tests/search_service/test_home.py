"""The landing page: the indexed books with manifest and viewer links, or how to index one."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from indexer.index.records import BookRecord
from indexer.index.store import Store
from search_service.settings import Settings
from search_service.web.app import create_app
from tests.conftest import TEST_HOSTS

BASE = "http://testserver"


def fake_viewers(root: Path) -> Path:
    """A viewers folder holding the files the viewer pages load (see test_viewer_pages.py)."""
    for package, version, files in (
        ("node_modules/mirador", "4.0.0", ["mirador.min.js"]),
        ("mirador3/node_modules/mirador", "3.4.3", ["mirador.min.js"]),
        ("node_modules/universalviewer", "4.4.0", ["uv.css", "umd/UV.js"]),
        ("clover/build", "3.3.8-0123456789ab", ["clover.js"]),
    ):
        for name in files:
            (root / package / "dist" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / package / "dist" / name).write_text("/* */")
        (root / package / "package.json").write_text(f'{{"version": "{version}"}}')
    return root


def add_book(
    data_dir: Path, book_id: str, label: str, *, pages: int, canvases: int, words: int, version: int = 3
) -> None:
    """Index a book record without pages: all the landing page reads."""
    record = BookRecord(
        id=book_id,
        label=label,
        manifest_id=f"https://example.org/{book_id}/manifest",
        version=version,
        source="test",
        manifest={},
        canvas_count=canvases,
        page_count=pages,
        word_count=words,
    )
    Store(data_dir).replace_book(record, [])


async def get_home(data_dir: Path, viewers: Path, **settings: object) -> httpx.Response:
    app = create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=data_dir, **settings))  # type: ignore[arg-type]
    app.state.viewers_dir = viewers
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        return await http.get("/")


@pytest.fixture
def viewers(tmp_path: Path) -> Path:
    return fake_viewers(tmp_path / "viewers")


@pytest.fixture
async def two_books(tmp_path: Path, viewers: Path) -> AsyncIterator[httpx.Response]:
    data = tmp_path / "data"
    add_book(data, "harper_1908", "Half-Hours with the Highwaymen", pages=3, canvases=3, words=1234)
    add_book(data, "kant<script>", 'Was ist "Aufklärung"?', pages=1, canvases=2, words=56, version=2)
    yield await get_home(data, viewers)


async def test_lists_every_book_with_counts(two_books: httpx.Response) -> None:
    assert two_books.status_code == 200
    assert two_books.headers["content-type"].startswith("text/html")
    rows = re.findall(r'<tr class="book".*?</tr>', two_books.text, re.S)
    assert len(rows) == 2
    assert "Half-Hours with the Highwaymen" in rows[0]
    assert '<td class="num pages">3</td><td class="num words">1,234</td>' in rows[0]
    assert '<td class="num pages">1 of 2</td><td class="num words">56</td>' in rows[1]
    assert "2 books, 1,290 words indexed." in two_books.text


async def test_links_the_manifest_and_each_viewer(two_books: httpx.Response) -> None:
    manifest = f"{BASE}/iiif/harper_1908/manifest"
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', two_books.text)]
    assert manifest in hrefs
    for key in ("mirador", "mirador3", "uv", "clover"):
        assert f"/viewer/{key}?manifest=http%3A%2F%2Ftestserver%2Fiiif%2Fharper_1908%2Fmanifest" in hrefs


async def test_a_search_box_per_book_opens_a_viewer_with_q(two_books: httpx.Response) -> None:
    forms = re.findall(r'<form class="search".*?</form>', two_books.text, re.S)
    assert len(forms) == 2
    assert f'name="manifest" value="{BASE}/iiif/harper_1908/manifest"' in forms[0]
    assert 'name="q"' in forms[0]
    assert re.findall(r'formaction="([^"]+)"', forms[0]) == [
        "/viewer/mirador",
        "/viewer/mirador3",
        "/viewer/uv",
        "/viewer/clover",
    ]


async def test_book_ids_and_labels_are_escaped(two_books: httpx.Response) -> None:
    assert "<script>" not in two_books.text.split("</head>", 1)[1]
    assert "kant&lt;script&gt;" in two_books.text
    assert "/iiif/kant%3Cscript%3E/manifest" in two_books.text
    assert "Was ist &quot;Aufklärung&quot;?" in two_books.text


async def test_without_books_it_says_how_to_index_one(tmp_path: Path, viewers: Path) -> None:
    response = await get_home(tmp_path / "empty", viewers)
    assert response.status_code == 200
    assert "No books indexed yet" in response.text
    assert "index-manifest sample_books/" in response.text
    assert '<table class="books"' not in response.text
    assert '<form class="open"' in response.text


async def test_manifest_links_follow_the_public_url(tmp_path: Path, viewers: Path) -> None:
    add_book(tmp_path / "data", "b1", "B", pages=1, canvases=1, words=1)
    response = await get_home(tmp_path / "data", viewers, public_url="https://search.example.org")
    assert 'href="https://search.example.org/iiif/b1/manifest"' in response.text


async def test_says_when_the_viewers_are_not_installed(tmp_path: Path, viewers: Path) -> None:
    response = await get_home(tmp_path / "data", viewers)
    assert "not installed" not in response.text
    response = await get_home(tmp_path / "data", tmp_path / "nothing")
    assert response.status_code == 200
    assert "Mirador 4, Mirador 3, Universal Viewer, Clover not installed" in response.text
    assert "scripts/install-viewers" in response.text
