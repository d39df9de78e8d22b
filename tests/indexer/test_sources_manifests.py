"""Every real manifest of tests/data loads (or fails clearly), plus spot checks of v2 and v3 reading."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.errors import IndexerError, SourceError
from indexer.fetch import Fetcher
from indexer.model import Book, OcrRef
from indexer.sources import BOOK_ID_PATTERN, read_manifest_v2, read_manifest_v3, read_source
from tests.conftest import TEST_DATA

# Parametrizing needs the list at import time, before fixtures exist.
MANIFESTS = TEST_DATA / "iiif" / "manifests"
ALL_FILES = sorted(MANIFESTS.rglob("*.json"))

# Files that are not one indexable manifest, and the message that says why.
NOT_A_BOOK = {
    "loc_2017498721.json": "has no canvases (it has no sequences)",  # metadata only
    "bodleian_e32a277e.json": "has no usable canvases",  # 0x0 canvas and image
    "mirador_structures_22canvases_v3.json": "has no usable canvases",  # bare canvas ids, no sizes
    "wellcome_b2846235x_v3.json": "has no usable canvases",  # a born-digital PDF, no image
    "0068-newspaper__newspaper_issue_1-anno_p1.json": "not a IIIF Manifest or Collection: type 'AnnotationPage'",
    "0068-newspaper__newspaper_issue_1-anno_p2.json": "not a IIIF Manifest or Collection: type 'AnnotationPage'",
}
COLLECTIONS = {
    "iiif_spec_fixture_collection.json",
    "0068-newspaper__newspaper_title-collection.json",
    "wellcome_b2178081x_collection_v3.json",
}


def _read(path: Path, fetcher: Fetcher) -> list[Book]:
    return list(read_source(str(path), fetcher))


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_every_real_manifest_reads(path: Path, local_iiif: Any) -> None:
    with local_iiif.fetcher() as fetcher:
        if path.name in NOT_A_BOOK:
            with pytest.raises(SourceError, match=str(path.name)) as caught:
                _read(path, fetcher)
            assert NOT_A_BOOK[path.name] in str(caught.value)
            return
        if path.name in COLLECTIONS:
            failures: list[tuple[str, IndexerError]] = []
            books = list(read_source(str(path), fetcher, on_error=lambda where, error: failures.append((where, error))))
            assert books or failures  # walked; the details are in test_sources_collection.py
            return
        books = _read(path, fetcher)
    assert len(books) == 1
    book = books[0]
    assert book.version == (2 if "/v2/" in str(path) else 3)
    assert BOOK_ID_PATTERN.match(book.id)
    assert book.id == path.stem
    assert book.label
    assert book.manifest_id.startswith("http")
    assert book.canvases
    assert len({c.id for c in book.canvases}) == len(book.canvases)
    assert [c.index for c in book.canvases] == sorted(c.index for c in book.canvases)
    for canvas in book.canvases:
        assert canvas.width > 0 and canvas.height > 0
        assert canvas.label
        if canvas.image is not None:
            assert canvas.image.url or canvas.image.service
            if canvas.image.service:
                assert not canvas.image.service.endswith(("/", "info.json"))
                assert canvas.image.service_version in (1, 2, 3)
    assert local_iiif.requested == []  # a manifest is read without fetching anything else


def _book(name: str, **kwargs: Any) -> Book:
    path = next(MANIFESTS.rglob(name))
    data = json.loads(path.read_bytes())
    reader = read_manifest_v2 if "/v2/" in str(path) else read_manifest_v3
    return reader(data, str(path), kwargs.get("book_id", "test-book"))


def test_wellcome_v3_book() -> None:
    book = _book("wellcome_b21506115_fish_entrees_131canvases_search1_v3.json")
    assert len(book.canvases) == 131
    assert book.manifest_id == "https://iiif.wellcomecollection.org/presentation/b21506115"
    assert book.label.startswith("Fish and fish entr")
    assert book.language == "eng"
    first = book.canvases[0]
    assert (first.width, first.height) == (1651, 2310)
    assert first.id == "https://iiif.wellcomecollection.org/presentation/b21506115/canvases/b21506115_0001.jp2"
    assert first.image is not None
    assert first.image.service == "https://iiif.wellcomecollection.org/image/b21506115_0001.jp2"
    assert first.image.service_version == 2
    assert first.image.service_profile == "http://iiif.io/api/image/2/level1.json"
    assert first.image.url == "https://iiif.wellcomecollection.org/image/b21506115_0001.jp2/full/732,1024/0/default.jpg"
    # The body is a 732x1024 derivative; the service's embedded size is the full image.
    assert (first.image.width, first.image.height) == (1651, 2310)
    assert first.image.format == "image/jpeg"
    assert first.ocr == OcrRef("https://api.wellcomecollection.org/text/alto/b21506115/b21506115_0001.jp2", "alto")
    assert all(c.ocr is not None and c.ocr.format == "alto" for c in book.canvases)
    assert all(c.image is not None and c.image.service_version == 2 for c in book.canvases)


def test_stanford_v2_book() -> None:
    book = _book("stanford_fg165hz3589_with_search1.json")
    assert book.version == 2
    assert len(book.canvases) == 5
    assert [c.label for c in book.canvases] == [f"Page {n}" for n in range(1, 6)]
    services = [c.image.service for c in book.canvases if c.image]
    assert services == [f"https://stacks.stanford.edu/image/iiif/fg165hz3589%2Ffg165hz3589_{n}" for n in range(1, 6)]
    assert {c.image.service_version for c in book.canvases if c.image} == {2}
    assert book.canvases[0].image is not None
    assert book.canvases[0].image.service_profile == "http://iiif.io/api/image/2/level2.json"
    assert book.language is None
    assert all(c.ocr is None for c in book.canvases)  # its seeAlso is MODS, not OCR


def test_biblissima_keeps_canvases_without_image() -> None:
    book = _book("biblissima_florus-dispersus_322canvases.json")
    assert len(book.canvases) == 322
    empty = [c for c in book.canvases if c.image is None]
    assert len(empty) == 84
    assert empty[0].label == "Lacune (32r)"
    assert (empty[0].width, empty[0].height) == (860, 1200)
    gallica = book.canvases[0].image
    assert gallica is not None
    # Gallica's Image API 1.1 service is kept as version 1, with the plain image URL beside it.
    assert gallica.service_version == 1
    assert gallica.url == "https://gallica.bnf.fr/ark:/12148/btv1b8438674r/f13.highres"
    assert [c.index for c in book.canvases] == list(range(322))


def test_v2_first_sequence_only() -> None:
    book = _book("e-codices_gau-Fragment_29canvases.json")
    assert len(book.canvases) == 13  # sequences[1] (16 canvases, embedded against P2.1 §5.1) is another order


def test_v2_image_service_trailing_slash_and_version_1() -> None:
    image = _book("yale_center_british_art_Osbornfa1.json").canvases[0].image
    assert image is not None
    assert image.service == "https://images.britishart.yale.edu/iiif/b38081da-8991-4464-a71e-d9891226a35f"
    assert image.service_version == 1


def test_bodleian_body_that_is_the_service_uri_has_no_url() -> None:
    for name in ("bodleian_9cca8fdd.json", "bodleian_9cca8fdd_v3.json"):
        image = _book(name).canvases[0].image
        assert image is not None
        assert image.url is None
        assert image.service == "https://iiif.bodleian.ox.ac.uk/iiif/image/9cca8fdd-4a61-4429-8ac1-f648764b4d6d"
        assert image.service_version == 2


def test_v3_choice_body_takes_its_first_item() -> None:
    book = _book("princeton_prtd_hamilton_v3.json")
    image = book.canvases[0].image
    assert image is not None
    assert image.url == "https://images.prtd.app/iiif/2/hamilton%2fHL_524_1r_00_PSC/full/,800/0/default.jpg"
    assert image.service == "https://images.prtd.app/iiif/2/hamilton%2fHL_524_1r_00_PSC"
    assert book.canvases[0].label == "Hamilton Letter (September 6, 1780)"
    assert book.language is None  # the label's language key is "true"


def test_cookbook_0068_newspaper() -> None:
    book = _book("0068-newspaper__newspaper_issue_1-manifest.json")
    assert book.label == "Berliner Tageblatt - 1925-02-16"
    assert book.language == "deu"
    assert [c.id for c in book.canvases] == [
        "https://iiif.io/api/cookbook/recipe/0068-newspaper/canvas/p1",
        "https://iiif.io/api/cookbook/recipe/0068-newspaper/canvas/p2",
    ]
    first = book.canvases[0]
    assert (first.width, first.height, first.label) == (3602, 5000, "p. 1")
    assert first.image is not None
    assert first.image.service_version == 3
    assert first.image.service_profile == "level1"
    assert first.image.width is None  # neither body nor service says
    assert first.ocr == OcrRef(
        "https://iiif.io/api/cookbook/recipe/0068-newspaper/newspaper_issue_1-alto_p1.xml", "alto"
    )


def _v3(*canvases: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "https://x/m", "type": "Manifest", "label": {"en": ["T"]}, "items": list(canvases), **extra}


def _canvas(n: int, body: Any = None, **extra: Any) -> dict[str, Any]:
    canvas: dict[str, Any] = {"id": f"https://x/c{n}", "type": "Canvas", **extra}
    if body is not None:
        canvas["items"] = [
            {
                "id": f"https://x/c{n}/p",
                "type": "AnnotationPage",
                "items": [
                    {
                        "id": f"https://x/c{n}/a",
                        "type": "Annotation",
                        "motivation": "painting",
                        "body": body,
                        "target": canvas["id"],
                    }
                ],
            }
        ]
    return canvas


IMAGE = {
    "id": "https://x/i/full/max/0/default.jpg",
    "type": "Image",
    "width": 100,
    "height": 200,
    "service": [{"id": "https://x/i", "type": "ImageService3", "profile": "level1"}],
}


def test_v3_canvas_sizes_images_and_skips(caplog: pytest.LogCaptureFixture) -> None:
    data = _v3(
        _canvas(1, IMAGE, width=1000, height=2000),
        _canvas(2, IMAGE),  # no size: the image's
        _canvas(3),  # no size, no image: skipped
        _canvas(4, width=10, height=20),  # no image: kept
        _canvas(5, {"id": "https://x/a.mp3", "type": "Sound"}, width=10, height=20),
        {"id": "https://x/range", "type": "Range"},
    )
    with caplog.at_level(logging.WARNING, logger="indexer.sources"):
        book = read_manifest_v3(data, "m.json", "b")
    assert [(c.index, c.width, c.height) for c in book.canvases] == [
        (0, 1000, 2000),
        (1, 100, 200),
        (3, 10, 20),
        (4, 10, 20),
    ]
    assert [c.image is None for c in book.canvases] == [False, False, True, True]
    assert book.canvases[2].label == "p. 4"
    messages = [r.getMessage() for r in caplog.records]
    assert any("items[2] (https://x/c3) has no width/height" in m for m in messages)
    assert any("items[5] is not a Canvas" in m for m in messages)


def test_v3_specific_resource_body_and_services_lookup() -> None:
    body = {
        "type": "SpecificResource",
        "source": {
            "id": "https://x/i.jpg",
            "type": "Image",
            "service": [{"id": "https://x/iiif/i", "type": "ImageService3"}],
        },
        "selector": {"type": "FragmentSelector", "value": "xywh=0,0,10,10"},
    }
    data = _v3(
        _canvas(1, body, width=10, height=10),
        services=[{"id": "https://x/iiif/i", "type": "ImageService3", "profile": "level2"}],
    )
    image = read_manifest_v3(data, "m.json", "b").canvases[0].image
    assert image is not None
    assert (image.url, image.service, image.service_profile) == ("https://x/i.jpg", "https://x/iiif/i", "level2")


def test_v3_ocr_from_annotation_and_supplementing_page_and_language() -> None:
    hocr = {"id": "https://x/c1.hocr", "type": "Text", "format": "text/vnd.hocr+html"}
    first = _canvas(1, IMAGE, width=10, height=10)
    first["items"][0]["items"][0]["seeAlso"] = [hocr]
    second = _canvas(
        2,
        IMAGE,
        width=10,
        height=10,
        annotations=[
            {
                "id": "https://x/c2/ocr",
                "type": "AnnotationPage",
                "items": [
                    {
                        "id": "https://x/c2/ocr/1",
                        "type": "Annotation",
                        "motivation": "supplementing",
                        "body": {
                            "id": "https://x/c2.xml",
                            "type": "Text",
                            "format": "application/xml",
                            "profile": "http://www.loc.gov/standards/alto/ns-v4#",
                        },
                        "target": "https://x/c2",
                    }
                ],
            }
        ],
    )
    book = read_manifest_v3(_v3(first, second, language=["de", "la"]), "m.json", "b")
    assert book.canvases[0].ocr == OcrRef("https://x/c1.hocr", "hocr")
    assert book.canvases[1].ocr == OcrRef("https://x/c2.xml", "alto")
    assert book.language == "deu+lat"


def test_v3_empty_manifest_is_an_error() -> None:
    with pytest.raises(SourceError, match=r"manifest m\.json has no canvases"):
        read_manifest_v3(_v3(), "m.json", "b")


def test_v2_choice_label_forms_and_hocr_see_also() -> None:
    data = {
        "@id": "https://x/m",
        "@type": "sc:Manifest",
        "label": [{"@value": "Titre", "@language": "fr"}, {"@value": "Title", "@language": "en"}],
        "sequences": [
            {
                "canvases": [
                    {
                        "@id": "https://x/c1",
                        "@type": "sc:Canvas",
                        "label": ["f. 1r"],
                        "width": 100,
                        "height": 200,
                        "seeAlso": {
                            "@id": "https://x/c1.hocr",
                            "format": "text/html",
                            "profile": "http://kba.cloud/hocr-spec/1.2/",
                        },
                        "otherContent": [{"@id": "https://x/list/c1", "@type": "sc:AnnotationList"}],
                        "images": [
                            {
                                "@type": "oa:Annotation",
                                "motivation": "sc:painting",
                                "on": "https://x/c1",
                                "resource": {
                                    "@type": "oa:Choice",
                                    "default": {
                                        "@id": "https://x/c1-color.jpg",
                                        "@type": "dctypes:Image",
                                        "format": "image/jpeg",
                                        "service": {
                                            "@context": "http://iiif.io/api/image/2/context.json",
                                            "@id": "https://x/iiif/c1",
                                            "profile": "http://iiif.io/api/image/2/level1.json",
                                        },
                                    },
                                    "item": [{"@id": "https://x/c1-ir.jpg", "@type": "dctypes:Image"}],
                                },
                            }
                        ],
                    }
                ]
            }
        ],
    }
    book = read_manifest_v2(data, "m.json", "b")
    canvas = book.canvases[0]
    assert book.label == "Title"
    assert book.language == "fra+eng"
    assert canvas.label == "f. 1r"
    assert canvas.image is not None
    assert (canvas.image.url, canvas.image.service) == ("https://x/c1-color.jpg", "https://x/iiif/c1")
    assert canvas.ocr == OcrRef("https://x/c1.hocr", "hocr")


def test_v2_other_content_is_not_fetched(tmp_path: Path) -> None:
    path = next(MANIFESTS.rglob("harvard_art_museums_299843.json"))  # has otherContent on every canvas
    requested: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        requested.append(request)
        return httpx.Response(500)

    with Fetcher(transport=httpx.MockTransport(refuse), retries=0) as fetcher:
        books = list(read_source(str(path), fetcher))
    assert len(books[0].canvases) == 6
    assert requested == []


def test_read_source_over_http_and_with_an_id(http_server: Any, fetcher: Fetcher) -> None:
    base = http_server(MANIFESTS)
    url = f"{base}/v2/stanford_fg165hz3589_with_search1.json"
    [book] = read_source(url, fetcher)
    assert book.id == "127-0-0-1-" + base.rsplit(":", 1)[1] + "-v2-stanford_fg165hz3589_with_search1-json"
    assert book.source == url
    [named] = read_source(url, fetcher, book_id="stanford")
    assert named.id == "stanford"
    with pytest.raises(SourceError, match="not usable"):
        read_source(url, fetcher, book_id="no/slashes")


def test_many_skipped_canvases_log_a_few_lines(caplog: pytest.LogCaptureFixture) -> None:
    data = _v3(*[_canvas(n) for n in range(20)], _canvas(99, IMAGE, width=1, height=1))
    with caplog.at_level(logging.WARNING, logger="indexer.sources"):
        book = read_manifest_v3(data, "m.json", "b")
    assert len(book.canvases) == 1
    assert len(caplog.records) == 6
    assert "15 more canvases skipped" in caplog.records[-1].getMessage()
