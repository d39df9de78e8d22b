"""ocr/formats.py: sniffing every real file, the parser table, and the errors at its edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr import formats
from ocr.errors import MalformedOcr, UnknownOcrFormat
from ocr.formats import FORMATS, detect_format, parse_ocr, parse_ocr_pages
from tests.conftest import read_test_file


def test_every_hocr_file_is_detected(hocr_file: Path) -> None:
    assert detect_format(read_test_file(hocr_file)[: formats.SNIFF_BYTES]) == "hocr"


def test_every_alto_file_is_detected(alto_file: Path) -> None:
    assert detect_format(read_test_file(alto_file)[: formats.SNIFF_BYTES]) == "alto"


def test_every_file_parses_through_parse_ocr(alto_file: Path) -> None:
    page = parse_ocr(read_test_file(alto_file), source=alto_file.name)
    assert page.format == "alto" and page.words()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"<a:alto xmlns:a='http://www.loc.gov/standards/alto/ns-v2#'>", "alto"),
        (b"<TextBlock ID='b1'><TextLine>", "alto"),
        (b"<div class='ocr_page' title='bbox 0 0 1 1'>", "hocr"),
        (b"<meta name='ocr-capabilities' content='ocr_line ocr_page'/>", "hocr"),
        ("<span class='ocrx_word'>é</span>".encode("utf-16"), "hocr"),
    ],
)
def test_detect_format_from_markers(head: bytes, expected: str) -> None:
    assert detect_format(head) == expected


@pytest.mark.parametrize("head", [b"", b"%PDF-1.7", b"<html><body><p>hello</p></body></html>", b"\x89PNG\r\n"])
def test_unknown_format(head: bytes) -> None:
    with pytest.raises(UnknownOcrFormat):
        detect_format(head)


def test_parse_ocr_names_the_source_when_it_cannot_tell() -> None:
    with pytest.raises(UnknownOcrFormat, match=r"scan-12\.txt"):
        parse_ocr(b"plain text", source="scan-12.txt")


def test_explicit_format_wins_and_is_case_insensitive() -> None:
    data = b"<span class='ocr_line' title='bbox 0 0 50 10'>Hello world</span>"
    assert parse_ocr(data, format="HOCR").format == "hocr"
    with pytest.raises(MalformedOcr):
        parse_ocr(data, format="alto")  # read as ALTO it has no TextLine


def test_unknown_format_name() -> None:
    with pytest.raises(UnknownOcrFormat, match="miniocr") as error:
        parse_ocr(b"<p/>", format="miniocr", source="x.xml")
    assert error.value.format == "miniocr" and error.value.source == "x.xml"


def test_pages_of_a_book() -> None:
    book = "ocr/hocr/solr-ocrhighlighting/google1000_histoire_du_perou_1840_347pages.hocr.html"
    data = read_test_file(book)
    pages = parse_ocr_pages(data)
    assert len(pages) == 347
    assert parse_ocr(data) == pages[0]


def test_table_has_both_entry_points() -> None:
    assert set(FORMATS) == {"hocr", "alto"}
    for entry in FORMATS.values():
        assert callable(entry.parse) and callable(entry.parse_pages)
