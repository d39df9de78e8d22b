"""Bad OCR files (#6): malformed, empty, in the wrong units, or with boxes outside the page.

End to end, each linked hOCR/ALTO file goes through `index-manifest --ocr existing` into
the session's seeded index behind the live server: a file that cannot be read fails its
canvas with the reason (MalformedOcr names the file), one that can is indexed with every
box inside its canvas, as the server's answers show; `seed` is never touched.

The parsers themselves are fuzzed with arbitrary and mutated bytes in tests/ocr; here
`hypothesis` builds *well-formed* hOCR and ALTO pages with arbitrary words, boxes (inside,
across and outside the page, inverted, empty) and units, and checks what the index is
promised: every box is inside the page, and every word printed inside it is kept as printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.common import hocr_manifest
from indexer.canvas_text import MAX_OCR_FILE_BYTES
from indexer.index.records import StoredWord
from indexer.model import Canvas
from indexer.page_record import page_record
from ocr import alto, hocr
from ocr.model import Page
from tests.reliability.conftest import Pages, Service, run_index, summary_of

ALTO_HEAD = '<?xml version="1.0" encoding="UTF-8"?><alto xmlns="http://www.loc.gov/standards/alto/ns-v3#">'


def alto_page(
    words: list[tuple[str, float, float, float, float]], width: float, height: float, unit: str = "pixel"
) -> bytes:
    strings = "".join(
        f"<String CONTENT={quoteattr(t)} HPOS='{x}' VPOS='{y}' WIDTH='{w}' HEIGHT='{h}'/><SP/>"
        for t, x, y, w, h in words
    )
    return (
        f"{ALTO_HEAD}<Description><MeasurementUnit>{unit}</MeasurementUnit></Description><Layout>"
        f"<Page ID='p1' WIDTH='{width}' HEIGHT='{height}'><PrintSpace><TextBlock ID='b1'><TextLine ID='l1'>"
        f"{strings}</TextLine></TextBlock></PrintSpace></Page></Layout></alto>"
    ).encode()


def hocr_page(words: list[tuple[str, int, int, int, int]], width: int, height: int) -> bytes:
    spans = " ".join(
        f"<span class='ocrx_word' title='bbox {x0} {y0} {x1} {y1}; x_wconf 90'>{t}</span>"
        for t, x0, y0, x1, y1 in words
    )
    return (
        f"<html><body><div class='ocr_page' title='bbox 0 0 {width} {height}'>"
        f"<span class='ocr_line' title='bbox 0 0 {width} {height}'>{spans}</span></div></body></html>"
    ).encode()


def link_ocr(service: Service, tmp_path: Path, pages: Pages, book: str, bad: bytes, fmt: str) -> dict[str, Any]:
    """Index [a good hOCR page, the file `bad` as `fmt`] as `book` with --ocr existing; the JSON summary."""
    manifest = hocr_manifest(pages[8:10], f"https://example.org/{book}")
    path = tmp_path / f"{book}.{fmt}"
    path.write_bytes(bad)
    link = manifest["items"][1]["seeAlso"][0]
    link["id"] = path.as_uri()
    link["format"] = "application/alto+xml" if fmt == "alto" else "text/vnd.hocr+html"
    (tmp_path / f"{book}.json").write_text(json.dumps(manifest))
    result = run_index([str(tmp_path / f"{book}.json"), "--id", book, "--ocr", "existing", "--json"], service.data_dir)
    summary = summary_of(result)
    assert result.exit_code == (0 if summary["ok"] else 1), result.output
    service.settle()
    return summary


DEEP = b"<html><body>" + b"<div>" * 5000 + b"<span class='ocrx_word' title='bbox 0 0 5 5'>x</span>"


@pytest.mark.parametrize(
    ("case", "data", "fmt", "expected"),
    [
        ("hocr-empty", b"", "hocr", "empty document"),
        ("hocr-whitespace", b"  \n\t ", "hocr", "empty document"),
        ("hocr-binary", bytes(range(256)) * 8, "hocr", "no hOCR ocr_page, ocr_line or ocrx_word elements found"),
        ("hocr-plain-text", b"Chapter one. It was a dark and stormy night.", "hocr", "no hOCR"),
        ("hocr-too-deep", DEEP, "hocr", "depth"),
        ("alto-served-as-hocr", alto_page([("word", 1, 1, 5, 5)], 100, 100), "hocr", "no hOCR"),
        ("alto-empty", b"", "alto", "not parseable as XML"),
        ("alto-binary", b"\x00\xff" * 500, "alto", "not parseable as XML"),
        ("alto-no-page", f"{ALTO_HEAD}<Layout/></alto>".encode(), "alto", "no ALTO Page or TextLine"),
        (
            "alto-unknown-unit",
            alto_page([("word", 1, 1, 5, 5)], 10, 10, unit="cm"),
            "alto",
            "unknown ALTO MeasurementUnit 'cm'",
        ),
        ("hocr-served-as-alto", hocr_page([("word", 1, 1, 5, 5)], 100, 100), "alto", "no ALTO Page or TextLine"),
    ],
)
def test_unreadable_ocr_fails_its_canvas_only(
    service: Service, tmp_path: Path, peru_pages: Pages, case: str, data: bytes, fmt: str, expected: str
) -> None:
    summary = link_ocr(service, tmp_path, peru_pages, f"ocr-{case}", data, fmt)
    [book] = summary["books"]
    assert book["committed"] and [f["canvas"] for f in book["failed"]] == [1], book
    reason = str(book["failed"][0]["reason"])
    assert expected in reason and f"ocr-{case}.{fmt}" in reason, reason
    service.check(f"OCR: {case}")


def test_ocr_file_over_the_size_cap(service: Service, tmp_path: Path, peru_pages: Pages) -> None:
    big = b"<html><body><div class='ocr_page' title='bbox 0 0 10 10'>" + b" " * MAX_OCR_FILE_BYTES
    summary = link_ocr(service, tmp_path, peru_pages, "ocr-huge", big, "hocr")
    assert "file is larger than the limit" in str(summary["books"][0]["failed"][0]["reason"])
    service.check("OCR: 50 MiB hOCR file")


LAUGHS = "<!ENTITY l0 'lol'>" + "".join(f"<!ENTITY l{i} '{f'&l{i - 1};' * 10}'>" for i in range(1, 10))


@pytest.mark.parametrize(
    ("case", "entities", "content", "after_survives"),
    [
        ("xxe", "<!ENTITY xxe SYSTEM 'file:///etc/passwd'>", "&xxe;", True),
        # libxml2 stops at its amplification limit; recover mode keeps what came before, so the page is empty.
        ("billion-laughs", LAUGHS, "&l9;", False),
    ],
)
def test_entities_are_neither_resolved_nor_expanded(
    service: Service, tmp_path: Path, peru_pages: Pages, case: str, entities: str, content: str, after_survives: bool
) -> None:
    data = (
        f"<?xml version='1.0'?><!DOCTYPE alto [{entities}]>"
        "<alto><Layout><Page WIDTH='100' HEIGHT='100'><PrintSpace><TextBlock><TextLine>"
        f"<String CONTENT='{content}' HPOS='1' VPOS='1' WIDTH='9' HEIGHT='9'/>"
        "<String CONTENT='safe' HPOS='20' VPOS='1' WIDTH='9' HEIGHT='9'/>"
        "</TextLine></TextBlock></PrintSpace></Page></Layout></alto>"
    ).encode()
    summary = link_ocr(service, tmp_path, peru_pages, f"ocr-{case}", data, "alto")
    assert summary["ok"] and summary["seconds"] < 10, summary
    assert service.server.total(f"ocr-{case}", "safe") == (1 if after_survives else 0)
    for q in ("root", "bin", "lol", "lollol"):
        assert service.server.total(f"ocr-{case}", q) == 0, q
    service.check(f"OCR: {case}")


def boxes_of(service: Service, book: str, q: str) -> list[tuple[int, int, int, int]]:
    """The xywh of every hit of `q` in `book`, from the live server's Search 1.0 answer."""
    body = service.server.get_json(f"/iiif/{book}/search/1?q={q}")
    boxes = []
    for resource in body["resources"]:
        fragment = resource["on"].split("#xywh=")[1]
        x, y, w, h = (int(v) for v in fragment.split(","))
        boxes.append((x, y, w, h))
    return boxes


@pytest.mark.parametrize(
    ("case", "data", "fmt"),
    [
        # Coordinates in pixels, declared as tenths of a millimetre: everything lands 11.8x too far.
        (
            "alto-pixels-declared-mm10",
            alto_page([("inside", 100, 100, 300, 50), ("beyond", 2500, 3000, 300, 50)], 2000, 2800, unit="mm10"),
            "alto",
        ),
        (
            "alto-inch1200",
            alto_page(
                [("inside", 400, 400, 1200, 200), ("beyond", 40000, 40000, 10, 10)], 8000, 11200, unit="inch1200"
            ),
            "alto",
        ),
        (
            "alto-outside",
            alto_page(
                [
                    ("inside", 10, 10, 100, 40),
                    ("beyond", 5000, 5000, 50, 50),
                    ("beyond", -300, -300, 50, 50),
                    ("beyond", 900, 10, -400, 40),
                ],
                1000,
                1000,
            ),
            "alto",
        ),
        (
            "hocr-outside",
            hocr_page(
                [
                    ("inside", 10, 10, 110, 50),
                    ("beyond", 2000, 2000, 3000, 3000),
                    ("beyond", -50, -50, -10, -10),
                    ("beyond", 300, 300, 200, 200),
                    ("beyond", 5, 5, 5, 5),
                ],
                1000,
                1000,
            ),
            "hocr",
        ),
        # The page bbox says 100 x 100, the words were written at 10x that scale.
        (
            "hocr-page-smaller-than-words",
            hocr_page([("inside", 10, 10, 60, 40), ("beyond", 500, 500, 900, 900)], 100, 100),
            "hocr",
        ),
    ],
)
def test_wrong_units_and_outside_boxes_stay_on_the_canvas(
    service: Service, tmp_path: Path, peru_pages: Pages, case: str, data: bytes, fmt: str
) -> None:
    summary = link_ocr(service, tmp_path, peru_pages, f"ocr-{case}", data, fmt)
    assert summary["ok"], summary
    book = f"ocr-{case}"
    _, width, height = peru_pages[9]
    for q in ("inside", "beyond"):
        found = boxes_of(service, book, q)
        assert found, (q, "a word outside the page is kept, on the nearest edge, so it can still be found")
        for x, y, w, h in found:
            assert x >= 0 and y >= 0 and w >= 1 and h >= 1 and x + w <= width and y + h <= height, (q, x, y, w, h)
    service.check(f"OCR: {case}")


# -- generated pages --------------------------------------------------------------------------------------

WORD = st.text(alphabet=st.characters(categories=["L", "N"], exclude_characters="\u0130"), min_size=1, max_size=12)
COORD = st.integers(-3000, 6000)
PAGE_SIDE = st.integers(1, 5000)


def inside(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    x0, y0, x1, y1 = box
    return 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def check_page(page: Page, width: int, height: int, words: list[tuple[str, int, int, int, int]]) -> None:
    """Every box inside the page; words printed wholly inside it kept as printed, in order, with their box."""
    assert (page.width, page.height) == (width, height)
    for word in page.words():
        assert word.box.x >= 0 and word.box.right <= width and word.box.y >= 0 and word.box.bottom <= height, word
        assert word.box.w >= 1 and word.box.h >= 1
    kept = [(w.text, w.box.x, w.box.y, w.box.right, w.box.bottom) for w in page.words()]
    expected = [(t, x0, y0, x1, y1) for t, x0, y0, x1, y1 in words if inside((x0, y0, x1, y1), width, height)]
    assert [k for k in kept if k in expected] == expected
    assert len(kept) == len(words)  # words outside are kept too (on the nearest edge), never dropped silently


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=PAGE_SIDE,
    height=PAGE_SIDE,
    words=st.lists(st.tuples(WORD, COORD, COORD, COORD, COORD), min_size=1, max_size=15),
)
def test_generated_hocr_boxes_stay_on_the_page(
    width: int, height: int, words: list[tuple[str, int, int, int, int]]
) -> None:
    check_page(hocr.parse(hocr_page(words, width, height)), width, height, words)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=PAGE_SIDE,
    height=PAGE_SIDE,
    words=st.lists(st.tuples(WORD, COORD, COORD, st.integers(1, 3000), st.integers(1, 3000)), min_size=1, max_size=15),
)
def test_generated_alto_boxes_stay_on_the_page(
    width: int, height: int, words: list[tuple[str, int, int, int, int]]
) -> None:
    corners = [(t, x, y, x + w, y + h) for t, x, y, w, h in words]
    check_page(alto.parse(alto_page(words, width, height)), width, height, corners)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    unit=st.sampled_from([("mm10", 254.0), ("inch1200", 1200.0)]),
    dpi=st.sampled_from([150.0, 300.0, 400.0]),
    x=st.integers(0, 20000),
    y=st.integers(0, 20000),
    w=st.integers(1, 5000),
    h=st.integers(1, 5000),
)
def test_generated_alto_units_scale_like_pixels(
    unit: tuple[str, float], dpi: float, x: int, y: int, w: int, h: int
) -> None:
    """The same page in physical units and in pixels gives the same words, boxes within a pixel of each other."""
    name, per_inch = unit
    side = 30000
    physical = alto.parse(alto_page([("word", x, y, w, h)], side, side, unit=name), dpi=dpi)
    s = dpi / per_inch
    pixels = alto.parse(alto_page([("word", x * s, y * s, w * s, h * s)], side * s, side * s))
    [a], [b] = physical.words(), pixels.words()
    assert a.text == b.text
    assert abs(a.box.x - b.box.x) <= 1 and abs(a.box.y - b.box.y) <= 1
    assert abs(a.box.right - b.box.right) <= 1 and abs(a.box.bottom - b.box.bottom) <= 1


@settings(max_examples=100, deadline=None)
@given(
    width=PAGE_SIDE,
    height=PAGE_SIDE,
    canvas_w=st.integers(1, 10**7),
    canvas_h=st.integers(1, 10**7),
    words=st.lists(st.tuples(WORD, COORD, COORD, COORD, COORD), min_size=1, max_size=10),
)
def test_generated_pages_land_inside_any_canvas(
    width: int, height: int, canvas_w: int, canvas_h: int, words: list[tuple[str, int, int, int, int]]
) -> None:
    """Whatever the canvas size (P3 canvases need not match the image), stored boxes are inside the canvas."""
    page = hocr.parse(hocr_page(words, width, height))
    canvas = Canvas(id="c", index=0, label="1", width=canvas_w, height=canvas_h, image=None)
    record = page_record("b", canvas, page)
    for word in map(StoredWord._make, record.words):
        assert word.x >= 0 and word.y >= 0 and word.w >= 1 and word.h >= 1
        assert word.x + word.w <= canvas_w and word.y + word.h <= canvas_h
    assert len(record.token_words) == len(record.tokens)
    for first, last in record.token_words:
        assert 0 <= first <= last < len(record.words)
