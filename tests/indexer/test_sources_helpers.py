"""The helpers the source readers share: book ids and slugs, labels, image services, OCR links, sniffing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from indexer.errors import SourceError
from indexer.model import OcrRef
from indexer.sources import BOOK_ID_PATTERN, slug, validate_book_id
from indexer.sources.image_services import ImageService, image_service
from indexer.sources.labels import label_text
from indexer.sources.ocr_links import ocr_link
from indexer.sources.sniff import sniff


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "https://iiif.wellcomecollection.org/presentation/v3/b21506115",
            "iiif-wellcomecollection-org-presentation-v3-b21506115",
        ),
        ("https://purl.stanford.edu/fg165hz3589/iiif/manifest", "purl-stanford-edu-fg165hz3589-iiif-manifest"),
        ("http://127.0.0.1:8000/m.json?v=2", "127-0-0-1-8000-m-json-v-2"),
        ("/data/manifests/stanford_fg165hz3589.json", "stanford_fg165hz3589"),
        ("file:///data/manifests/0009-book-1__manifest.json", "0009-book-1__manifest"),
        ("Book of Hours", "Book-of-Hours"),
        ("https://[::1/m.json", "m"),  # not a URL after all: a path, its stem
    ],
)
def test_slug(source: str, expected: str) -> None:
    assert slug(source) == expected
    assert BOOK_ID_PATTERN.match(expected)


def test_slug_of_a_folder_is_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "harper.1908"
    folder.mkdir()
    assert slug(str(folder)) == "harper-1908"  # a folder's "suffix" is part of its name
    assert slug(str(folder) + "/") == "harper-1908"


def test_long_slugs_are_cut_with_a_hash_and_stay_distinct() -> None:
    base = "https://example.org/" + "very-long-path/" * 20
    first, second = slug(base + "1"), slug(base + "2")
    assert first != second
    assert len(first) <= 100
    assert BOOK_ID_PATTERN.match(first)
    assert slug(base + "1") == first  # stable


def test_slug_of_nothing_usable_still_gives_an_id() -> None:
    assert BOOK_ID_PATTERN.match(slug("https://例え.jp/"))
    assert slug("---").startswith("book-")


@pytest.mark.parametrize("good", ["b21506115", "my-book_1908.v2", "A" * 128])
def test_valid_book_ids(good: str) -> None:
    assert validate_book_id(good) == good


@pytest.mark.parametrize("bad", ["", "-x", ".hidden", "a/b", "a b", "x" * 129, "ü", "a?b"])
def test_invalid_book_ids(bad: str) -> None:
    with pytest.raises(SourceError, match="not usable"):
        validate_book_id(bad)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ({"de": ["Seite 1"], "en": ["Page 1"]}, "Page 1"),
        ({"de": ["Seite 1"], "none": ["1r"]}, "1r"),
        ({"de": ["Seite 1"], "fr": ["Page un"]}, "Seite 1"),
        ({"en-GB": ["Colour"], "none": ["x"]}, "Colour"),
        ({"en": ["A monograph", "Volume 1"]}, "A monograph; Volume 1"),
        ("Whole Page", "Whole Page"),  # P2.1 string (also seen in sloppy P3)
        (["a", "b"], "a; b"),
        ([{"@value": "Standard", "@language": "de"}, {"@value": "Normal", "@language": "en"}], "Normal"),
        ([{"@value": "Uusi Aura"}], "Uusi Aura"),
        ({"en": [""]}, None),
        (None, None),
        (42, None),
    ],
)
def test_label_text(label: Any, expected: str | None) -> None:
    assert label_text(label) == expected


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (
            [{"id": "https://x/iiif3/p1", "type": "ImageService3", "profile": "level1"}],
            ImageService("https://x/iiif3/p1", 3, "level1"),
        ),
        (
            {
                "@id": "https://x/iiif/p1/",
                "@context": "http://iiif.io/api/image/2/context.json",
                "profile": ["http://iiif.io/api/image/2/level2.json", {"formats": ["png"]}],
            },
            ImageService("https://x/iiif/p1", 2, "http://iiif.io/api/image/2/level2.json"),
        ),
        (
            {"@id": "https://x/iiif/p1/info.json", "profile": "http://iiif.io/api/image/2/level1.json"},
            ImageService("https://x/iiif/p1", 2, "http://iiif.io/api/image/2/level1.json"),
        ),
        (
            {
                "@id": "https://gallica/iiif/f13",
                "@context": "http://library.stanford.edu/iiif/image-api/1.1/context.json",
                "profile": "http://library.stanford.edu/iiif/image-api/1.1/compliance.html#level2",
            },
            ImageService(
                "https://gallica/iiif/f13", 1, "http://library.stanford.edu/iiif/image-api/1.1/compliance.html#level2"
            ),
        ),
        (
            # Bodleian: type says 2, profile uses the 3.0 short name; the type wins.
            {"type": "ImageService2", "profile": "level1", "id": "https://bodleian/iiif/image/x"},
            ImageService("https://bodleian/iiif/image/x", 2, "level1"),
        ),
        (
            [
                {
                    "@id": "https://x/v2/p1",
                    "@type": "ImageService2",
                    "profile": "http://iiif.io/api/image/2/level2.json",
                    "width": 1651,
                    "height": 2310,
                },
                {"id": "https://x/v3/p1", "type": "ImageService3", "profile": "level2"},
            ],
            ImageService("https://x/v3/p1", 3, "level2"),
        ),
        (
            [
                {
                    "@id": "https://x/v2/p1",
                    "@type": "ImageService2",
                    "profile": "http://iiif.io/api/image/2/level1.json",
                    "width": 1651,
                    "height": 2310,
                }
            ],
            ImageService("https://x/v2/p1", 2, "http://iiif.io/api/image/2/level1.json", 1651, 2310),
        ),
        (
            {
                "@context": "http://iiif.io/api/annex/services/physdim/1/context.json",
                "profile": "http://iiif.io/api/annex/services/physdim",
            },
            None,
        ),
        ([{"id": "https://x/search", "type": "SearchService2"}], None),
        ("https://x/iiif/p1", None),
        (None, None),
    ],
)
def test_image_service(service: Any, expected: ImageService | None) -> None:
    assert image_service(service) == expected


def test_image_service_expanded_from_top_level_services() -> None:
    # P3 §3.3.1 services: the reference has id and type only; the profile is at the top.
    services = [{"id": "https://x/iiif3/p1", "type": "ImageService3", "profile": "level2"}]
    found = image_service([{"id": "https://x/iiif3/p1", "type": "ImageService3"}], services)
    assert found == ImageService("https://x/iiif3/p1", 3, "level2")


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (
            [
                {
                    "id": "https://api.wellcomecollection.org/text/alto/b1/b1_0001.jp2",
                    "type": "Dataset",
                    "profile": "http://www.loc.gov/standards/alto/v3/alto.xsd",
                    "format": "text/xml",
                }
            ],
            OcrRef("https://api.wellcomecollection.org/text/alto/b1/b1_0001.jp2", "alto"),
        ),
        (
            [
                {
                    "id": "https://x/alto_p1.xml",
                    "format": "application/xml",
                    "profile": "http://www.loc.gov/standards/alto/",
                }
            ],
            OcrRef("https://x/alto_p1.xml", "alto"),
        ),
        ([{"@id": "https://x/p1.alto", "format": "application/alto+xml"}], OcrRef("https://x/p1.alto", "alto")),
        ([{"id": "https://x/p1.hocr", "format": "text/vnd.hocr+html"}], OcrRef("https://x/p1.hocr", "hocr")),
        (
            {"@id": "https://x/p1.html", "format": "text/html", "profile": "http://kba.github.io/hocr-spec/1.2/"},
            OcrRef("https://x/p1.html", "hocr"),
        ),
        ([{"@id": "https://lccn.loc.gov/2017498721/marcxml", "format": "text/xml"}], None),
        ({"@id": "https://purl.stanford.edu/fg165hz3589.mods", "format": "application/mods+xml"}, None),
        ([{"id": "https://x/pdf", "format": "application/pdf", "profile": "alto"}], None),
        ([{"id": "https://x/salto", "profile": "https://example.org/basalto"}], None),
        (["https://x/p1.hocr"], None),  # a bare URI says nothing about its format
        (None, None),
    ],
)
def test_ocr_link(links: Any, expected: OcrRef | None) -> None:
    assert ocr_link(links) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"@context": "http://iiif.io/api/presentation/2/context.json", "@type": "sc:Manifest"}, ("manifest", 2)),
        ({"@type": "sc:Manifest"}, ("manifest", 2)),  # Yale and Bodleian v2 have no @context
        ({"@type": "sc:Collection"}, ("collection", 2)),
        ({"type": "Manifest"}, ("manifest", 3)),
        ({"@context": ["http://iiif.io/api/presentation/3/context.json"], "type": "Collection"}, ("collection", 3)),
    ],
)
def test_sniff(data: dict[str, Any], expected: tuple[str, int]) -> None:
    assert sniff(data, "x.json") == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"@type": "foo"}, "JSON but not a IIIF Manifest or Collection: @type 'foo'"),
        ({"type": "AnnotationPage"}, "type 'AnnotationPage'"),
        ({"label": "x"}, "no type or @type"),
        ([1, 2], "a list"),
    ],
)
def test_sniff_names_what_it_found(data: Any, message: str) -> None:
    with pytest.raises(SourceError, match=r"x\.json") as caught:
        sniff(data, "x.json")
    assert message in str(caught.value)
