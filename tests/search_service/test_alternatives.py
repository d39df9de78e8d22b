"""Alternative readings (#21): a word Tesseract hesitated over is found by its second choice, at the printed word.

Kant (Fraktur, tests/data) is OCR'd here by real Tesseract through the warm engine; its LSTM
read *gedankenlosen* as *gedanfenloſen* and offered *gedankenloſen* among its choices (k and f
look alike in Fraktur; confidence 22). Indexed with the default policy, which keeps that choice,
a search for the word finds page 2 in both Search versions, with the printed word's text and
box, labelled.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.page_record import NO_ALTERNATIVES, AlternativePolicy
from indexer.pipeline import IndexOptions, index
from search_service.settings import Settings
from search_service.web.app import create_app

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")

REPO = Path(__file__).resolve().parents[2]
KANT = REPO / "tests/data/books/de_kant_aufklaerung_1784_fraktur"
KANT_ID = "de_kant_aufklaerung_1784_fraktur"
GENEROUS = AlternativePolicy()  # the default: every word, alternatives of 20 or more, 3 at most


@pytest.fixture(scope="module")
def kant_dirs(make_data_dir) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """Kant indexed twice from the same OCR: with the default alternatives, and with none."""
    dirs = {}
    for name, policy in (("generous", GENEROUS), ("none", NO_ALTERNATIVES)):
        data_dir: Path = make_data_dir(f"kant-{name}")
        [report] = index([str(KANT)], IndexOptions(data_dir=data_dir, workers=1, alternatives=policy))
        assert report.ok, report.to_json()
        dirs[name] = data_dir
    return dirs


async def _search(data_dir: Path, q: str, version: int) -> dict[str, Any]:
    app = create_app(Settings(data_dir=data_dir, fuzzy_fallback=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        response = await client.get(f"/iiif/{KANT_ID}/search/{version}", params={"q": q})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_search_2_finds_the_alternative_at_the_printed_word_labelled(kant_dirs: dict[str, Path]) -> None:
    printed = await _search(kant_dirs["generous"], "gedanfenlosen", 2)  # the word as Tesseract printed it
    [printed_item] = printed["items"]
    assert "label" not in printed_item
    body = await _search(kant_dirs["generous"], "gedankenlosen", 2)
    [item] = body["items"]
    assert item["body"]["value"] == "gedanfenloſen"
    assert item["target"] == printed_item["target"]  # the printed word's canvas and box
    assert "/canvas/p2#xywh=" in item["target"]
    assert item["label"]["en"][0].startswith("alternative reading for 'gedankenlosen'")
    [context] = body["annotations"][0]["items"]
    assert context["label"] == item["label"]


async def test_search_1_finds_the_alternative_at_the_printed_word_labelled(kant_dirs: dict[str, Path]) -> None:
    body = await _search(kant_dirs["generous"], "gedankenlosen", 1)
    [resource] = body["resources"]
    assert resource["resource"]["chars"] == "gedanfenloſen"
    assert resource["label"].startswith("alternative reading for 'gedankenlosen'")
    [hit] = body["hits"]
    assert hit["match"] == "gedanfenloſen"


async def test_without_alternatives_the_word_is_not_found(kant_dirs: dict[str, Path]) -> None:
    assert (await _search(kant_dirs["none"], "gedankenlosen", 2))["items"] == []
    assert len((await _search(kant_dirs["none"], "gedanfenlosen", 2))["items"]) == 1


async def test_an_umlaut_written_out_finds_the_printed_word(kant_dirs: dict[str, Path]) -> None:
    """Kant's 1784 print has a small e over the vowel, which readers and transcriptions write `ae`:
    `schaedlich` finds the page Tesseract read as `ſchädlich`, at that word, labelled."""
    printed = await _search(kant_dirs["generous"], "schädlich", 2)
    [printed_item] = printed["items"]
    assert "label" not in printed_item
    body = await _search(kant_dirs["generous"], "schaedlich", 2)
    [item] = body["items"]
    assert item["body"]["value"].startswith("ſchädlich")
    assert item["target"] == printed_item["target"]
    assert item["label"]["en"][0].startswith("alternative reading for 'schaedlich'")
    phrase = await _search(kant_dirs["generous"], '"oeffentlichen gebrauch"', 1)
    assert [hit["match"] for hit in phrase["hits"]] == ["öffentlichen Gebrauch"]
    assert (await _search(kant_dirs["none"], "schaedlich", 2))["items"] == []
