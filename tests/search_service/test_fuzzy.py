"""Search that forgives OCR errors (#14): `word~` and the server's fuzzy retry, on real OCR of real books.

Kant (Fraktur, tests/data) is OCR'd here by real Tesseract with the model `--lang auto`
picks; Bebel (Antiqua) comes from the session's `indexed_books`. Their misreadings are
Tesseract's own: Kant's *gedankenlosen* is read *gedanfenloſen*, *zuletzt* *zuleßt*,
Bebel's *abschafft* *abschafit*. Every search goes through the HTTP API, as a viewer's does.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.page_record import NO_ALTERNATIVES
from indexer.pipeline import IndexOptions, index
from search_service.settings import Settings
from search_service.web.app import create_app

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")

REPO = Path(__file__).resolve().parents[2]
KANT = REPO / "tests/data/books/de_kant_aufklaerung_1784_fraktur"
KANT_ID = "de_kant_aufklaerung_1784_fraktur"
BEBEL_ID = "de_bebel_frau_1879"

Client = Callable[..., Any]


@pytest.fixture(scope="module")
def kant_dir(make_data_dir) -> Path:  # type: ignore[no-untyped-def]
    """Kant indexed with the defaults (--lang auto: a Fraktur model), without the alternative readings of #21.

    They would find gedankenlosen as typed (tests/search_service/test_alternatives.py); these
    tests are about the fuzzy search alone.
    """
    data_dir: Path = make_data_dir("kant-fuzzy")
    [report] = index([str(KANT)], IndexOptions(data_dir=data_dir, workers=2, alternatives=NO_ALTERNATIVES))
    assert report.ok, report.to_json()
    return data_dir


async def _client(data_dir: Path, fallback: bool) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=data_dir, fuzzy_fallback=fallback))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
async def kant(kant_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Kant's server with the fuzzy retry off: what `word~` alone does."""
    async for client in _client(kant_dir, fallback=False):
        yield client


@pytest.fixture
async def kant_forgiving(kant_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(kant_dir, fallback=True):
        yield client


async def search(client: httpx.AsyncClient, book: str, q: str, version: int = 2) -> dict[str, Any]:
    response = await client.get(f"/iiif/{book}/search/{version}", params={"q": q})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def canvas_of(target: str) -> int:
    """Canvas number (1-based) of a folder book's `.../canvas/pN#xywh=` target."""
    return int(target.split("/canvas/p")[1].split("#")[0])


async def test_a_fuzzy_word_finds_the_misread_form_and_highlights_it_as_printed(
    kant: httpx.AsyncClient,
) -> None:
    assert (await search(kant, KANT_ID, "gedankenlosen"))["items"] == []
    body = await search(kant, KANT_ID, "gedankenlosen~")
    [item] = body["items"]
    assert item["body"]["value"] == "gedanfenloſen"  # the word as printed (OCR'd), long s and all
    assert canvas_of(item["target"]) == 2
    _, _, w, h = (int(v) for v in item["target"].split("#xywh=")[1].split(","))
    assert 0 < w < 600 and 0 < h < 120  # one word's box, not a line's
    assert item["label"] == {"en": ["near match for 'gedankenlosen~'"]}
    [context] = body["annotations"][0]["items"]
    assert context["target"]["selector"][0]["exact"] == "gedanfenloſen"
    assert context["label"] == item["label"]
    # Search 1.0 (Mirador, UV): the hit's match is the printed word, its annotation labelled.
    v1 = await search(kant, KANT_ID, "gedankenlosen~", version=1)
    assert [hit["match"] for hit in v1["hits"]] == ["gedanfenloſen"]
    assert v1["resources"][0]["label"] == "near match for 'gedankenlosen~'"
    assert v1["resources"][0]["resource"]["chars"] == "gedanfenloſen"


async def test_the_distance_grows_with_the_word_and_can_be_chosen(kant: httpx.AsyncClient) -> None:
    # zuletzt (7 letters) is one edit away at most by default; its OCR, zuleßt, is two.
    assert (await search(kant, KANT_ID, "zuletzt~"))["items"] == []
    [item] = (await search(kant, KANT_ID, "zuletzt~2"))["items"]
    assert item["body"]["value"].startswith("zuleßt")
    # Short words stay exact: `der~` is `der`.
    assert len((await search(kant, KANT_ID, "der~"))["items"]) == len((await search(kant, KANT_ID, "der"))["items"])


async def test_in_a_phrase_too(kant: httpx.AsyncClient) -> None:
    """Kant's "öffentlichen Gebrauch", asked with the 1784 spelling (oe) that OCR of ö never gives."""
    assert (await search(kant, KANT_ID, '"oeffentlichen gebrauch"'))["items"] == []
    body = await search(kant, KANT_ID, '"oeffentlichen~ gebrauch"')
    texts = sorted(item["body"]["value"] for item in body["items"])
    assert texts and all(text.startswith("öffentliche") or text == "Gebrauch" for text in texts)
    contexts = body["annotations"][0]["items"]
    assert len(contexts) == 2  # "öffentlichen Gebrauch" and "öffentliche Gebrauch": one hit each
    label = {"en": ["near match for '\"oeffentlichen~ gebrauch\"'"]}
    assert all(context["label"] == label for context in contexts)


async def test_pages_as_typed_come_first_and_near_hits_are_marked(kant: httpx.AsyncClient) -> None:
    """`freiheit~` also finds *Feigheit* (two edits) on page 1; the page with *Freiheit* comes first."""
    exact = await search(kant, KANT_ID, "freiheit")
    body = await search(kant, KANT_ID, "freiheit~")
    items = body["items"]
    assert len(items) > len(exact["items"]) > 0
    canvases = [canvas_of(item["target"]) for item in items]
    assert canvases == sorted(canvases, reverse=True)  # page 2 (as typed) before page 1 (near only)
    for item in items:
        printed = item["body"]["value"]
        is_near = "label" in item
        assert is_near == (not printed.lower().startswith("freiheit")), printed
    assert any(item["body"]["value"].startswith("Feigheit") for item in items)


async def test_the_fallback_retries_as_fuzzy_and_says_so(
    kant: httpx.AsyncClient, kant_forgiving: httpx.AsyncClient
) -> None:
    body = await search(kant_forgiving, KANT_ID, "gedankenlosen")
    assert [item["body"]["value"] for item in body["items"]] == ["gedanfenloſen"]
    assert body["label"] == {
        "en": ["No hits for 'gedankenlosen' as typed: near matches shown, as for the same words with ~ (fuzzy)"]
    }
    v1 = await search(kant_forgiving, KANT_ID, "gedankenlosen", version=1)
    assert v1["label"].startswith("No hits for 'gedankenlosen'")
    assert [hit["match"] for hit in v1["hits"]] == ["gedanfenloſen"]
    # A word found as typed is not retried: no label, no near matches.
    found = await search(kant_forgiving, KANT_ID, "freiheit")
    assert "label" not in found and found == await search(kant, KANT_ID, "freiheit")
    # Quoted phrases are exact even then.
    assert (await search(kant_forgiving, KANT_ID, '"oeffentlichen gebrauch"'))["items"] == []


async def test_bebel_antiqua_misreading(indexed_books) -> None:  # type: ignore[no-untyped-def]
    data_dir, _ = indexed_books
    async for client in _client(data_dir, fallback=False):
        # Found as typed since #21: Tesseract's second choice for the `i` was `f` (an alternative reading).
        [typed] = (await search(client, BEBEL_ID, "abschafft"))["items"]
        assert typed["body"]["value"].rstrip(".,;") == "abschafit"
        assert typed["label"]["en"][0].startswith("alternative reading for 'abschafft'")
        found = await search(client, BEBEL_ID, "abschafft~")
        assert "abschafit" in [item["body"]["value"].rstrip(".,;") for item in found["items"]]
        # Search 1.0 highlights the printed word too, and the fuzzy word works in a phrase.
        v1 = await search(client, BEBEL_ID, "abschafft~", version=1)
        assert "abschafit" in [hit["match"].rstrip(".,;") for hit in v1["hits"]]
        assert all(resource["label"] == "near match for 'abschafft~'" for resource in v1["resources"])
        # The alternative sits at the printed word's position: an exact phrase finds it too.
        exact_phrase = (await search(client, BEBEL_ID, '"volksbeschluss abschafft"'))["items"]
        assert [item["body"]["value"] for item in exact_phrase] == ["Volksbeschluss abschafit"]
        assert exact_phrase[0]["label"]["en"][0].startswith("alternative reading")
        phrase = await search(client, BEBEL_ID, '"volksbeschluss abschafft~"')
        # One line, so one annotation for the hit: the phrase as printed, labelled a near match.
        assert [item["body"]["value"] for item in phrase["items"]] == ["Volksbeschluss abschafit"]
        assert phrase["items"][0]["label"] == {"en": ["near match for '\"volksbeschluss abschafft~\"'"]}


async def test_fuzzy_words_are_bounded_like_prefixes(kant: httpx.AsyncClient) -> None:
    response = await kant.get(f"/iiif/{KANT_ID}/search/2", params={"q": "eins~ zwei~ drei~ vier~ funf~"})
    assert response.status_code == 400
    assert response.json()["parameter"] == "q" and "fuzzy" in response.json()["error"]
    # A prefix stays a prefix: `aufkl*~` is `aufkl*`.
    prefix = (await search(kant, KANT_ID, "aufkl*"))["items"]
    assert prefix and (await search(kant, KANT_ID, "aufkl*~"))["items"] == prefix


async def test_over_every_book_too(kant: httpx.AsyncClient, kant_forgiving: httpx.AsyncClient) -> None:
    """Collection-wide search (#13) finds and labels near matches, and retries as the book's search does."""
    response = await kant.get("/iiif/search/2", params={"q": "gedankenlosen~"})
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["body"]["value"] == "gedanfenloſen"
    assert item["label"] == {"en": ["near match for 'gedankenlosen~'"]}
    v1 = (await kant.get("/iiif/search/1", params={"q": "gedankenlosen~"})).json()
    [resource] = v1["resources"]
    assert resource["label"] == "near match for 'gedankenlosen~'" and resource["resource"]["chars"] == "gedanfenloſen"
    retried = (await kant_forgiving.get("/iiif/search/2", params={"q": "gedankenlosen"})).json()
    assert retried["label"]["en"][0].startswith("No hits for 'gedankenlosen' as typed")
    assert [item["body"]["value"] for item in retried["items"]] == ["gedanfenloſen"]
