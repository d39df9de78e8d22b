"""Folder sources: canvases in natural order, pixel sizes from headers, a manifest that validates."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from PIL import Image

from indexer.errors import SourceError
from indexer.fetch import Fetcher
from indexer.model import BASE_URL_MARKER
from indexer.sources import read_folder, read_source
from indexer.sources.folder import natural_key
from tests.conftest import ROMAN_BOOKS

HARPER = "en_harper_half_hours_with_highwaymen_1908"


@pytest.fixture(scope="module")
def iiif_schema(test_data: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((test_data / "iiif" / "schema" / "iiif_3_0.json").read_bytes())
    return schema


def _urls(value: Any) -> list[str]:
    """Every id and service id in a manifest."""
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in ("id", "@id") and isinstance(v, str)]
        return found + [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return []


def _validate(manifest: dict[str, Any], schema: dict[str, Any]) -> None:
    public = json.loads(json.dumps(manifest).replace(BASE_URL_MARKER, "http://example.org"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class(schema, format_checker=validator_class.FORMAT_CHECKER).validate(public)


def test_harper_scans(iiif_schema: dict[str, Any]) -> None:
    folder = ROMAN_BOOKS[HARPER]
    book = read_folder(folder)
    assert book.id == HARPER
    assert book.label == "Charles G. Harper, Half-Hours with the Highwaymen (1908)"
    assert book.language == "eng"
    assert book.version == 3
    assert book.source == str(folder.resolve())
    assert len(book.canvases) == 10  # 0001.png ... 0010.png
    assert [c.index for c in book.canvases] == list(range(10))
    assert [c.id for c in book.canvases] == [f"{BASE_URL_MARKER}/iiif/{HARPER}/canvas/p{n}" for n in range(1, 11)]
    assert {(c.width, c.height) for c in book.canvases} == {(1433, 2313)}
    paths = [c.image.path for c in book.canvases if c.image]
    assert paths == [str((folder / f"{n:04d}.png").resolve()) for n in range(1, 11)]
    first = book.canvases[0].image
    assert first is not None
    assert (first.width, first.height, first.format, first.url) == (1433, 2313, "image/png", None)
    # The service the manifest declares for it (our Image API), beside the file the pipeline reads.
    assert (first.service, first.service_version) == (f"{BASE_URL_MARKER}/iiif/image/3/{HARPER}~0001", 3)
    assert book.images == {f"{HARPER}~{n:04d}": str((folder / f"{n:04d}.png").resolve()) for n in range(1, 11)}

    manifest = book.manifest
    assert manifest["id"] == book.manifest_id == f"{BASE_URL_MARKER}/iiif/{HARPER}/manifest"
    assert manifest["label"] == {"en": [book.label]}
    assert all(url.startswith(BASE_URL_MARKER) for url in _urls(manifest))
    body = manifest["items"][0]["items"][0]["items"][0]["body"]
    assert body == {
        "id": f"{BASE_URL_MARKER}/iiif/image/3/{HARPER}~0001/full/max/0/default.jpg",
        "type": "Image",
        "format": "image/jpeg",
        "width": 1433,
        "height": 2313,
        "service": [
            {"id": f"{BASE_URL_MARKER}/iiif/image/3/{HARPER}~0001", "type": "ImageService3", "profile": "level1"}
        ],
    }
    assert manifest["requiredStatement"]["label"] == {"en": ["License"]}
    assert "rights" not in manifest  # the licence there is prose, not a rights URI
    _validate(manifest, iiif_schema)


def _image(path: Path, size: tuple[int, int] = (30, 40), image_format: str | None = None) -> None:
    Image.new("L", size, 255).save(path, format=image_format)


def test_natural_order_formats_and_ignored_files(tmp_path: Path, iiif_schema: dict[str, Any]) -> None:
    names = ["page10.png", "page2.PNG", "page1.jpg", "0010.tif", "0002.tiff", "x.webp", "y.JP2", "a.jpeg"]
    pillow_formats = {".jpg": "JPEG", ".jpeg": "JPEG", ".jp2": "JPEG2000"}
    for n, name in enumerate(names):
        _image(tmp_path / name, (30 + n, 40 + n), pillow_formats.get(Path(name).suffix.lower()))
    for other in ("notes.txt", "0001.xml", "pages.tsv", "meta.json", ".hidden.png"):
        (tmp_path / other).write_text("x")
    (tmp_path / "sub").mkdir()
    _image(tmp_path / "sub" / "0001.png")
    book = read_folder(tmp_path, "my-book")
    order = [Path(c.image.path).name for c in book.canvases if c.image and c.image.path]
    assert order == ["0002.tiff", "0010.tif", "a.jpeg", "page1.jpg", "page2.PNG", "page10.png", "x.webp", "y.JP2"]
    sizes = {Path(c.image.path).name: (c.width, c.height) for c in book.canvases if c.image and c.image.path}
    assert sizes == {name: (30 + n, 40 + n) for n, name in enumerate(names)}
    assert book.id == "my-book"
    assert "my-book~page2" in book.images
    assert book.language is None
    assert book.manifest["label"] == {"none": [tmp_path.name]}
    _validate(book.manifest, iiif_schema)


def test_natural_key() -> None:
    assert sorted(["p10", "p2", "P1", "p02a", "10", "9"], key=natural_key) == ["9", "10", "P1", "p2", "p02a", "p10"]


def test_same_stem_gets_distinct_identifiers(tmp_path: Path) -> None:
    _image(tmp_path / "0001.png")
    _image(tmp_path / "0001.jpg", image_format="JPEG")
    _image(tmp_path / "0001 (copy).png")
    book = read_folder(tmp_path, "b")
    assert sorted(book.images) == ["b~0001", "b~0001-copy", "b~0001.png"]
    assert all("/" not in identifier for identifier in book.images)


def test_book_json_rights_attribution_and_languages(tmp_path: Path, iiif_schema: dict[str, Any]) -> None:
    _image(tmp_path / "1.png")
    (tmp_path / "book.json").write_text(
        json.dumps(
            {
                "title": "Ein Buch",
                "language": "de+la",
                "attribution": "Staatsbibliothek",
                "license": "https://creativecommons.org/publicdomain/mark/1.0/",
            }
        )
    )
    book = read_folder(tmp_path)
    assert book.label == "Ein Buch"
    assert book.language == "deu+lat"
    assert book.manifest["label"] == {"de": ["Ein Buch"]}
    assert book.manifest["requiredStatement"] == {
        "label": {"en": ["Attribution"]},
        "value": {"none": ["Staatsbibliothek"]},
    }
    assert book.manifest["rights"] == "http://creativecommons.org/publicdomain/mark/1.0/"
    _validate(book.manifest, iiif_schema)


def test_broken_book_json_is_an_error(tmp_path: Path) -> None:
    _image(tmp_path / "1.png")
    (tmp_path / "book.json").write_text("{oops")
    with pytest.raises(SourceError, match=r"book\.json: not readable JSON"):
        read_folder(tmp_path)


def test_unreadable_images_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "0001.png").write_bytes(b"not a png at all")
    _image(tmp_path / "0002.png")
    with caplog.at_level(logging.WARNING, logger="indexer.sources"):
        book = read_folder(tmp_path, "b")
    assert [c.id.rsplit("/", 1)[1] for c in book.canvases] == ["p1"]
    assert list(book.images) == ["b~0002"]
    assert any("0001.png: not a readable image" in r.getMessage() for r in caplog.records)
    (tmp_path / "0002.png").write_bytes(b"")
    with pytest.raises(SourceError, match="no readable images"):
        read_folder(tmp_path, "b")


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="has no images"):
        read_folder(tmp_path)
    with pytest.raises(SourceError, match="not a folder"):
        read_folder(tmp_path / "notes.txt")


def test_pillow_reads_sizes_when_pyvips_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _image(tmp_path / "1.png", (31, 41))
    monkeypatch.setitem(sys.modules, "pyvips", None)  # makes `import pyvips` raise ImportError
    book = read_folder(tmp_path, "b")
    assert (book.canvases[0].width, book.canvases[0].height) == (31, 41)


def test_read_source_on_a_folder() -> None:
    folder = ROMAN_BOOKS[HARPER]
    with Fetcher() as fetcher:
        [book] = read_source(str(folder), fetcher)
        [same] = read_source(folder.as_uri(), fetcher, book_id="harper")
    assert book.id == HARPER
    assert same.id == "harper"
    assert len(same.canvases) == 10
