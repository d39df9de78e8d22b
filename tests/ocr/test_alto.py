"""ocr/alto.py against every real ALTO file: namespaces, units, hyphenation, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocr import alto
from ocr.errors import MalformedOcr
from ocr.model import Page, Word
from tests.conftest import read_test_file

SOLR = Path("ocr/alto/solr-ocrhighlighting")


def read(name: str) -> bytes:
    return read_test_file(SOLR / name)


def assert_sane(page: Page) -> None:
    """Sizes positive; every word non-empty, trimmed, with a box inside the page."""
    assert page.width >= 1 and page.height >= 1
    assert page.format == "alto"
    for line in page.lines:
        assert line.words
        assert line.box.w >= 1 and line.box.h >= 1
        assert line.box.x >= 0 and line.box.right <= page.width
        assert line.box.y >= 0 and line.box.bottom <= page.height
        for word in line.words:
            assert word.text and word.text == " ".join(word.text.split())
            assert word.box.w >= 1 and word.box.h >= 1
            assert word.box.x >= 0 and word.box.right <= page.width
            assert word.box.y >= 0 and word.box.bottom <= page.height
            assert word.confidence is None or 0 <= word.confidence <= 100
            assert word.joined is None or word.joined


def pairs(page: Page) -> list[tuple[Word, Word]]:
    """(last word of a line, first word of the next line) for every line pair on the page."""
    lines = page.lines
    return [(lines[i].words[-1], lines[i + 1].words[0]) for i in range(len(lines) - 1)]


def joined_pair(page: Page, first: str, second: str) -> str | None:
    """The joined form on both halves of `first`/`second` across a line end (asserted equal)."""
    for last, next_first in pairs(page):
        if last.text == first and next_first.text == second:
            assert last.joined == next_first.joined
            return last.joined
    pytest.fail(f"{first!r} / {second!r} not found across a line end")


def test_every_real_file_parses(alto_file: Path) -> None:
    pages = alto.parse_pages(read_test_file(alto_file), str(alto_file))
    assert sum(len(page.words()) for page in pages) > 0
    for page in pages:
        assert_sane(page)


def test_alto4_pixel_page() -> None:
    page = alto.parse(read("ocrd_from_page_00000006_alto4.xml"))
    assert (page.width, page.height) == (2127, 2761)
    # <String ID="region0000_line0001_word0000" HEIGHT="8" WIDTH="30" HPOS="478" VPOS="103" CONTENT="E">
    first = page.words()[0]
    assert (first.text, first.box.xywh, first.confidence) == ("E", "478,103,30,8", None)
    assert page.lines[0].block == 1


def test_namespace_prefixes() -> None:
    page = alto.parse(read("namespaced_alto2_pixel.xml"))  # <a:alto>, <a:String ...>
    assert (page.width, page.height) == (5107, 7889)
    assert len(page.words()) == 1924
    assert {word.confidence for word in page.words()} <= {None} | {float(n) for n in range(101)}


def test_no_namespace_and_fragment_without_page() -> None:
    fragment = (
        b"<TextBlock><TextLine><String CONTENT='Hej' HPOS='1' VPOS='2' WIDTH='30' HEIGHT='10'/></TextLine></TextBlock>"
    )
    page = alto.parse(fragment)
    assert [word.text for word in page.words()] == ["Hej"]
    assert (page.width, page.height) == (31, 12)  # no Page size: the extent of the words


@pytest.mark.parametrize(
    ("name", "unit_per_inch", "size_in_units"),
    [
        ("bnl_lunion_1860-11-30_p1_alto3.xml", 254, (3170, 4890)),  # mm10
        ("chronicling_america_ccs_alto.xml", 1200, (20463, 25941)),  # inch1200
        ("adressecontoirs_1795_alto2.xml", 1200, (9148, 10928)),  # inch1200, ALTO v2
    ],
)
def test_units_become_pixels_at_the_given_dpi(name: str, unit_per_inch: int, size_in_units: tuple[int, int]) -> None:
    data = read(name)
    at_300 = alto.parse(data)
    assert (at_300.width, at_300.height) == tuple(round(v * 300 / unit_per_inch) for v in size_in_units)
    assert_sane(at_300)
    # The dpi cancels out: a word's place relative to the page is the same at any dpi.
    at_150 = alto.parse(data, dpi=150)
    assert abs(at_150.width * 2 - at_300.width) <= 1
    for a, b in zip(at_300.words()[:200], at_150.words()[:200], strict=True):
        assert a.text == b.text
        assert abs(a.box.x / at_300.width - b.box.x / at_150.width) < 0.002
        assert abs(a.box.bottom / at_300.height - b.box.bottom / at_150.height) < 0.002


def test_mm10_word_box_matches_its_units() -> None:
    page = alto.parse(read("bnl_lunion_1860-11-30_p1_alto3.xml"))
    # <String ID="P1_ST00065" HPOS="2894" VPOS="385" WIDTH="28" HEIGHT="15" CONTENT="ex" SUBS_TYPE="HypPart1" ...>
    (ex,) = [word for word in page.words() if word.text == "ex-" and word.joined == "excepté"]
    scale = 300 / 254
    assert ex.box.x == round(2894 * scale) and ex.box.y == round(385 * scale)
    assert ex.box.right == round((2894 + 28) * scale) and ex.box.bottom == round((385 + 15) * scale)
    assert ex.confidence == pytest.approx(94.0)
    assert ex.box.right <= page.width and ex.box.bottom <= page.height


def test_wc_becomes_0_to_100() -> None:
    page = alto.parse(read("chronicling_america_ccs_alto.xml"))
    confidences = [word.confidence for word in page.words() if word.confidence is not None]
    assert confidences and max(confidences) <= 100 and min(confidences) >= 0
    assert any(c > 90 for c in confidences)


@pytest.mark.parametrize(
    ("name", "first", "second", "joined"),
    [
        # HypPart1/HypPart2 with SUBS_CONTENT, and the HYP element's hyphen kept on the first half.
        ("bnl_lunion_1860-11-30_p1_alto3.xml", "ex-", "cepté", "excepté"),
        ("bnl_lunion_1860-11-30_p1_alto3.xml", "néan-", "moins", "néanmoins"),
        ("bnl_lunion_1860-11-30_p3_alto3.xml", "Provi-", "soriums", "Provisoriums"),
        ("lancaster_1880_hyphenation_ccs_alto.xml", "nonpa-", "reil", "nonpareil"),
        ("lancaster_1880_hyphenation_ccs_alto.xml", "separate-", "ly", "separately"),
        ("sn83032300_1881_12_29_3_lancaster_ccs_alto.xml", "re-", "ceiving", "receiving"),
        # SUBS_CONTENT="vientos" on HypPart1 only; HypPart2 has SUBS_CONTENT="" and takes its partner's.
        ("namespaced_alto2_pixel.xml", "vienÂ¬", "tos", "vientos"),
        # No SUBS_* at all: dehyphenate joins the HYP-marked word.
        ("adressecontoirs_1795_alto2.xml", "Skrif-", "temaal", "Skriftemaal"),
    ],
)
def test_hyphenation_joins_both_halves(name: str, first: str, second: str, joined: str) -> None:
    pages = alto.parse_pages(read(name))
    assert joined_pair(pages[0], first, second) == joined


def test_subs_content_is_kept_as_the_file_says() -> None:
    # The file's own (OCR-garbled) SUBS_CONTENT wins over what dehyphenation would build.
    page = alto.parse(read("lancaster_1880_hyphenation_ccs_alto.xml"))
    assert joined_pair(page, "repreent-", "d") == "repreent-d"


def test_every_hyp_part_pair_carries_joined() -> None:
    for number in (1, 2, 3, 4):
        page = alto.parse(read(f"bnl_lunion_1860-11-30_p{number}_alto3.xml"))
        hyphenated = [(last, first) for last, first in pairs(page) if last.text.endswith("-") and last.joined]
        assert len(hyphenated) > 50
        assert all(last.joined == first.joined for last, first in hyphenated)


def test_several_pages_in_one_file() -> None:
    pages = alto.parse_pages(read("adressecontoirs_1795_alto2.xml"))
    assert len(pages) == 2
    assert [word.text for word in pages[1].words()] == ["Permanent", "Committee"]
    assert alto.parse(read("adressecontoirs_1795_alto2.xml")) == pages[0]


def test_reading_order_is_document_order() -> None:
    page = alto.parse(read("bnl_lunion_1860-11-30_p1_alto3.xml"))
    blocks = [line.block for line in page.lines]
    assert blocks == sorted(blocks)
    assert len(set(blocks)) > 10


def test_hyp_without_subs_and_strings_without_coordinates() -> None:
    data = b"""<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout><Page WIDTH="200" HEIGHT="100">
      <PrintSpace><TextBlock><TextLine HPOS="0" VPOS="0" WIDTH="100" HEIGHT="10">
        <String CONTENT="Nord"/><SP/><String CONTENT="inter" HPOS="60" VPOS="0" WIDTH="30" HEIGHT="10"/>
        <HYP CONTENT="\xc2\xac"/></TextLine></TextBlock>
      <TextBlock><TextLine HPOS="0" VPOS="20" WIDTH="100" HEIGHT="10">
        <String CONTENT="national" HPOS="0" VPOS="20" WIDTH="80" HEIGHT="10" WC="0.5"/></TextLine></TextBlock>
      </PrintSpace></Page></Layout></alto>"""
    page = alto.parse(data)
    nord, inter, national = page.words()
    assert nord.box.xywh == "0,0,36,10"  # 4 of the line's 11 characters ("Nord inter¬") of its 100 pixels
    assert inter.text == "inter¬" and inter.joined == national.joined == "international"
    assert national.confidence == 50.0
    assert [line.block for line in page.lines] == [1, 2]


def test_unknown_unit_is_malformed() -> None:
    data = b"<alto><Description><MeasurementUnit>furlong</MeasurementUnit></Description><Layout><Page/></Layout></alto>"
    with pytest.raises(MalformedOcr, match="furlong"):
        alto.parse(data, "f.xml")


@pytest.mark.parametrize("data", [b"", b"<alto/>", b"<html><body>not alto</body></html>", b"\x00\x01\x02"])
def test_no_alto_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedOcr):
        alto.parse_pages(data, "page.xml")


def test_entities_are_not_resolved() -> None:
    data = b"""<?xml version="1.0"?><!DOCTYPE alto [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
      <alto><Layout><Page WIDTH="10" HEIGHT="10"><TextBlock><TextLine>
      <String CONTENT="&secret;x" HPOS="0" VPOS="0" WIDTH="5" HEIGHT="5"/>
      </TextLine></TextBlock></Page></Layout></alto>"""
    texts = [word.text for word in alto.parse(data).words()]
    assert all("root:" not in text for text in texts)


def test_dpi_must_be_positive() -> None:
    with pytest.raises(ValueError):
        alto.parse(b"<alto/>", dpi=0)


# Property tests: any bytes, and real files damaged at random, give MalformedOcr or sane pages.

ALTO_SEED = (
    b'<?xml version="1.0"?><alto xmlns="http://www.loc.gov/standards/alto/ns-v3#"><Description>'
    b"<MeasurementUnit>mm10</MeasurementUnit></Description><Layout><Page WIDTH='3170' HEIGHT='4890'>"
    b"<PrintSpace><TextBlock><TextLine HPOS='2437' VPOS='413' WIDTH='498' HEIGHT='33'>"
    b"<String HPOS='2894' VPOS='385' WIDTH='28' HEIGHT='15' CONTENT='ex' SUBS_TYPE='HypPart1' "
    b"SUBS_CONTENT='excepte' WC='0.94'/><HYP CONTENT='-'/></TextLine><TextLine HPOS='2437' VPOS='413' "
    b"WIDTH='498' HEIGHT='33'><String HPOS='2437' VPOS='418' WIDTH='68' HEIGHT='28' CONTENT='cepte' "
    b"SUBS_TYPE='HypPart2' SUBS_CONTENT='excepte' WC='0.98'/><SP/><String CONTENT='x'/></TextLine>"
    b"</TextBlock></PrintSpace></Page></Layout></alto>"
)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """A real file with a few bytes replaced, inserted or cut out, or truncated."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        chunk = draw(
            st.binary(min_size=1, max_size=16)
            | st.sampled_from(
                [b"<", b">", b"'", b'"', b"-", b"-7", b"1e308", b"nan", b"inch1200", b"<HYP/>", b"</TextLine>"]
            )
        )
        if operation == "replace":
            data[position : position + len(chunk)] = chunk
        elif operation == "insert":
            data[position:position] = chunk
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 200))]
        else:
            del data[position:]
    return bytes(data)


def check_never_crashes(data: bytes) -> None:
    try:
        pages = alto.parse_pages(data, "fuzz")
    except MalformedOcr:
        return
    for page in pages:
        assert_sane(page)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    check_never_crashes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choice=st.data())
def test_mutated_files_never_crash(choice: st.DataObject) -> None:
    seed = choice.draw(st.sampled_from([ALTO_SEED, read("ocrd_from_page_00000006_alto4.xml")[:20000]]))
    check_never_crashes(choice.draw(mutated(seed)))


def test_nesting_deeper_than_libxml2_allows_is_malformed() -> None:
    data = b"<alto>" + b"<ComposedBlock>" * 5000 + b"<TextLine><String CONTENT='x'/></TextLine>"
    with pytest.raises(MalformedOcr, match="depth"):
        alto.parse_pages(data)


def test_alternative_elements_are_read() -> None:
    """ALTO's ALTERNATIVE children of a String (#21): other readings, without confidence."""
    data = (
        b'<alto xmlns="http://www.loc.gov/standards/alto/ns-v3#"><Layout><Page WIDTH="100" HEIGHT="50">'
        b'<PrintSpace><TextBlock><TextLine><String CONTENT="Frciheit" HPOS="1" VPOS="1" WIDTH="50" HEIGHT="10">'
        b"<ALTERNATIVE>Freiheit</ALTERNATIVE><ALTERNATIVE>Frciheit</ALTERNATIVE><ALTERNATIVE>Freyheit</ALTERNATIVE>"
        b"</String></TextLine></TextBlock></PrintSpace></Page></Layout></alto>"
    )
    [word] = alto.parse(data).words()
    assert word.text == "Frciheit"
    assert [(a.text, a.confidence) for a in word.alternatives] == [("Freiheit", None), ("Freyheit", None)]
