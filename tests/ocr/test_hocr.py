"""ocr/hocr.py against every real hOCR file, the edge cases that broke other parsers, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocr import hocr
from ocr.errors import MalformedOcr
from ocr.model import Page, Word
from ocr.text import tokens
from tests.conftest import read_test_file

SOLR = Path("ocr/hocr/solr-ocrhighlighting")
DTA = Path("ocr/hocr/mirador-textoverlay/dta_andreas_fenitschka_1898_p24.tesseract4.hocr.html")


def read(relative: Path | str) -> bytes:
    return read_test_file(relative)


def assert_sane(page: Page) -> None:
    """Sizes positive; every word non-empty, trimmed, with a box inside the page."""
    assert page.width >= 1 and page.height >= 1
    assert page.format == "hocr"
    for line in page.lines:
        assert line.words, "a line without words must be dropped"
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


def by_text(page: Page, text: str) -> list[Word]:
    return [word for word in page.words() if word.text == text]


def test_every_real_file_parses(hocr_file: Path) -> None:
    pages = hocr.parse_pages(read_test_file(hocr_file), str(hocr_file))
    assert sum(len(page.words()) for page in pages) > 0
    for page in pages:
        assert_sane(page)


def test_parse_gives_the_first_page() -> None:
    data = read(SOLR / "edgecase_empty_words.hocr.html")
    assert hocr.parse(data) == hocr.parse_pages(data)[0]


def test_tesseract4_page_size_words_and_confidence() -> None:
    page = hocr.parse(read(SOLR / "tesseract411_ordine_nuovo_1924_ita.hocr"))
    assert (page.width, page.height) == (2491, 3600)
    first = page.words()[0]
    # <span class='ocrx_word' id='word_1_1' title='bbox 177 189 260 206; x_wconf 91'>aveva</span>
    assert (first.text, first.box.xywh, first.confidence) == ("aveva", "177,189,83,17", 91.0)
    assert [word.text for word in page.lines[0].words][:5] == ["aveva", "un", "grande", "significato", "storico."]


def test_abbyy_x_conf_and_float_confidence() -> None:
    page = hocr.parse(read(SOLR / "chronicling_america_abbyy_seq-1.hocr.html"))
    first_line = [(word.text, word.confidence) for word in page.lines[0].words]
    assert first_line == [("»", 100.0), ("IMPORTANT", 42.0), ("CHANGE", pytest.approx(55.6))]
    # sn90050316 writes `x_conf` instead of `x_wconf`.
    page = hocr.parse(read(SOLR / "sn90050316_1922_12_13_8.hocr.html"))
    assert page.words()[0].text == "**9t" and page.words()[0].confidence == pytest.approx(52.8)


def test_book_in_one_file_keeps_every_page_in_order() -> None:
    pages = hocr.parse_pages(read(SOLR / "google1000_histoire_du_perou_1840_347pages.hocr.html"))
    assert len(pages) == 347
    assert sum(len(page.words()) for page in pages) == 50907  # 50,908 spans, one of them empty
    assert (pages[0].width, pages[0].height) == (1688, 2536)
    assert (pages[1].width, pages[1].height) == (1488, 2394)
    assert [word.text for word in pages[0].words()] == ["I"]


def test_soft_hyphen_after_the_word_span_joins() -> None:
    # Google Books: <span class="ocrx_word">connais</span>&#173;</span><span class="ocr_line">...sance
    pages = hocr.parse_pages(read(SOLR / "google1000_histoire_du_perou_1840_347pages.hocr.html"))
    words = [word for page in pages for word in page.words()]
    connais = next(word for word in words if word.text == "connais\u00ad")
    sance = words[words.index(connais) + 1]
    assert (sance.text, connais.joined, sance.joined) == ("sance", "connaissance", "connaissance")
    assert tokens(connais.joined or "") == ["connaissance"]


@pytest.mark.parametrize(
    ("first", "second", "joined"),
    [
        ("verbun\u00ad", "den", "verbunden"),
        ("Schweizer\u00ad", "deutsch:", "Schweizerdeutsch:"),
        ("musika\u00ad", "lischen", "musikalischen"),
        ("lin\u00ad", "guistischen", "linguistischen"),
    ],
)
def test_hyphenation_file_joins_both_halves(first: str, second: str, joined: str) -> None:
    page = hocr.parse(read(SOLR / "bsb00091144_hyphenation.hocr.html"))
    lines = page.lines
    for index, line in enumerate(lines[:-1]):
        if line.words[-1].text == first:
            assert lines[index + 1].words[0].text == second
            assert line.words[-1].joined == lines[index + 1].words[0].joined == joined
            return
    pytest.fail(f"{first!r} not found at a line end")


def test_plain_hyphen_from_tesseract4_joins() -> None:
    page = hocr.parse(read(DTA))
    (aller,) = by_text(page, "aller-")
    (dings,) = by_text(page, "dings")
    assert aller.joined == dings.joined == "allerdings"


def test_soft_hyphen_inside_a_word_is_dropped() -> None:
    data = (
        b"<div class='ocr_page' title='bbox 0 0 100 100'><span class='ocr_line' title='bbox 0 0 90 10'>"
        b"<span class='ocrx_word' title='bbox 0 0 40 10'>Stil&shy;ling</span> "
        b"<span class='ocrx_word' title='bbox 50 0 90 10'>&shy;</span></span></div>"
    )
    assert [word.text for word in hocr.parse(data).words()] == ["Stilling"]


def test_broken_entities_are_kept_as_text() -> None:
    page = hocr.parse(read(SOLR / "edgecase_broken_entities.hocr.html"))
    assert_sane(page)
    texts = [word.text for word in page.words()]
    assert "3&72" in texts  # a bare `&72` in the file
    assert "dt&HiFi-i?cBßflpedx1ttonI-iii;_;ikW" in texts
    # `Still</span>&shy;<br /></span><span class='ocr_line'...>i-iig.`
    (still,) = by_text(page, "Still\u00ad")
    assert still.joined == "Stilli-iig."


def test_missing_whitespace_and_alternatives_give_separate_words() -> None:
    page = hocr.parse(read(SOLR / "edgecase_missing_whitespace.hocr.html"))
    lines = {" ".join(word.text for word in line.words) for line in page.lines}
    # <span class="ocrx_word"><span class="alternatives"><ins class="alt">atC</ins><del class="alt">ore</del>
    assert "r atC" in lines
    assert "flItIIa I If" in lines
    texts = [word.text for word in page.words()]
    assert "atCore" not in texts and "flItIIahalrPt" not in texts
    (atc,) = by_text(page, "atC")
    assert atc.box.xywh == "99,23000,126,75"
    assert atc.confidence == pytest.approx(95.24)


def test_spans_without_whitespace_between_them_are_separate_words() -> None:
    data = (
        b"<div class='ocr_page' title='bbox 0 0 100 20'><span class='ocr_line' title='bbox 0 0 100 20'>"
        b"<span class='ocrx_word' title='bbox 0 0 40 20'>alpha</span><span class='ocrx_word' "
        b"title='bbox 50 0 100 20'>beta</span></span></div>"
    )
    assert [word.text for word in hocr.parse(data).words()] == ["alpha", "beta"]


def test_empty_words_and_empty_pages() -> None:
    pages = hocr.parse_pages(read(SOLR / "edgecase_empty_words.hocr.html"))
    assert [[word.text for word in page.words()] for page in pages] == [
        [],  # only <span class="ocrx_word" title="bbox 0 0 2 2" />
        ["A", "Ephpol.", "/", "2/2"],
        [],
        [],
        ["-", "Rhein-u.", "Moſelzeitung."],
    ]
    assert [(page.width, page.height) for page in pages][2] == (2979, 4773)
    assert pages[4].language == "de" and pages[0].language is None  # lang="unknown"


def test_multicolumn_reading_order_is_column_by_column() -> None:
    page = hocr.parse(read(SOLR / "bsb10049004_multicolumn.hocr"))
    texts = [" ".join(word.text for word in line.words) for line in page.lines]
    left = texts.index(next(text for text in texts if text.startswith("Die gegenwärtig theils")))
    right = texts.index(next(text for text in texts if text.startswith("Rechnungs-, Kanzlei-")))
    # The right column starts higher on the page but is read after the whole left column.
    assert page.lines[right].box.y < page.lines[left].box.y
    assert left < right
    assert page.lines[left].block != page.lines[right].block
    left_block = [line for line in page.lines if line.block == page.lines[left].block]
    assert all(line.box.x < 500 for line in left_block)
    assert all(line.box.x > 1300 for line in page.lines if line.block == page.lines[right].block)
    # `Schel&shy;` / `lerer;` inside the right column.
    (schel,) = by_text(page, "Schel\u00ad")
    assert schel.joined == "Schellerer;"


def test_ocropy_lines_without_words_are_split_by_characters() -> None:
    page = hocr.parse(read("ocr/hocr/hocr-tools/alice_1.ocropy.hocr.html"))
    first = page.lines[0]
    # <span class='ocr_line' title='bbox 467 525 1386 588'>1 Down the Rabbit-Hole</span>
    assert [word.text for word in first.words] == ["1", "Down", "the", "Rabbit-Hole"]
    assert first.box.xywh == "467,525,919,63"
    assert first.words[0].box.x == 467 and first.words[-1].box.right == 1386
    assert all(word.box.y == 525 and word.box.h == 63 for word in first.words)
    xs = [word.box.x for word in first.words]
    assert xs == sorted(xs)
    # "Down" has 4 of the line's 22 characters: about 4/22 of its 919 pixels.
    assert abs(first.words[1].box.w - 919 * 4 / 22) <= 2


def test_same_page_from_tesseract3_and_ocropy_has_the_same_words() -> None:
    tesseract = hocr.parse(read("ocr/hocr/hocr-tools/alice_1.tesseract303.hocr"))
    ocropy = hocr.parse(read("ocr/hocr/hocr-tools/alice_1.ocropy.hocr.html"))
    assert (tesseract.width, tesseract.height) == (ocropy.width, ocropy.height) == (2488, 3507)
    common = {w.text for w in tesseract.words()} & {w.text for w in ocropy.words()}
    assert {"Alice", "Rabbit-Hole", "sister"} <= common


def test_words_outside_lines_and_pages_still_read() -> None:
    page = hocr.parse(b"<p><span class='ocrx_word' title='bbox 10 10 30 20'>lone</span></p>")
    assert [word.text for word in page.words()] == ["lone"]
    assert (page.width, page.height) == (30, 20)  # no ocr_page: the extent of the words


def test_boxes_outside_the_page_are_fitted_inside() -> None:
    data = (
        b"<div class='ocr_page' title='bbox 0 0 100 50'><span class='ocr_line' title='bbox -5 40 120 60'>"
        b"<span class='ocrx_word' title='bbox -5 40 20 60'>left</span> "
        b"<span class='ocrx_word' title='bbox 200 70 220 90'>away</span> "
        b"<span class='ocrx_word' title='bbox 30 45 20 42'>swapped</span> "
        b"<span class='ocrx_word' title='bbox 60.4 10.6 70.5 20'>decimal</span></span></div>"
    )
    page = hocr.parse(data)
    assert_sane(page)
    assert [word.box.xywh for word in page.words()] == ["0,40,20,10", "99,49,1,1", "20,42,10,3", "60,11,10,9"]


def test_xhtml_utf8_without_meta_and_with_bom() -> None:
    # No <meta charset>, only <?xml encoding="utf-8"?>: libxml2 alone would read it as Latin-1.
    page = hocr.parse(read(SOLR / "bsb10049004_multicolumn.hocr"))
    assert "Kanzlei-," in {word.text for word in page.words()}
    body = "<div class='ocr_page' title='bbox 0 0 9 9'><span class='ocrx_word' title='bbox 0 0 5 5'>Pérou</span></div>"
    assert hocr.parse(b"\xef\xbb\xbf" + body.encode()).words()[0].text == "Pérou"
    assert hocr.parse(body.encode("utf-16")).words()[0].text == "Pérou"
    latin = b"<meta charset='iso-8859-1'>" + body.encode("latin-1")
    assert hocr.parse(latin).words()[0].text == "Pérou"


@pytest.mark.parametrize("data", [b"", b"   ", b"<html><body><p>no hOCR here</p></body></html>", b"\x00\xff"])
def test_no_hocr_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedOcr) as error:
        hocr.parse_pages(data, "scan.hocr")
    assert error.value.source == "scan.hocr"
    assert "scan.hocr" in str(error.value)


def test_str_is_refused() -> None:
    with pytest.raises(TypeError):
        hocr.parse("<div class='ocr_page'></div>")  # type: ignore[arg-type]


# Property tests: any bytes, and real files damaged at random, give MalformedOcr or sane pages.

FUZZ_SEEDS = [
    SOLR / "edgecase_empty_words.hocr.html",
    Path("ocr/hocr/hocr-tools/alice_1.ocropy.hocr.html"),
    DTA,
]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """A real file with a few bytes replaced, inserted or cut out, or truncated."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        chunk = draw(
            st.binary(min_size=1, max_size=16)
            | st.sampled_from([b"<", b">", b"'", b'"', b"&", b"-1", b"bbox 9 9 0 0", b"</span>", b"&shy;"])
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
        pages = hocr.parse_pages(data, "fuzz")
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
def test_mutated_real_files_never_crash(choice: st.DataObject) -> None:
    seed = read(choice.draw(st.sampled_from(FUZZ_SEEDS)))
    check_never_crashes(choice.draw(mutated(seed)))


def test_nesting_deeper_than_libxml2_allows_is_malformed_not_a_crash() -> None:
    # libxml2 stops at depth 256, which also keeps the recursive walk far from Python's limit.
    data = b"<div>" * 5000 + b"<span class='ocrx_word' title='bbox 0 0 5 5'>x</span>"
    with pytest.raises(MalformedOcr, match="depth"):
        hocr.parse_pages(data)


def test_lstm_choices_become_alternatives_and_never_text() -> None:
    """Tesseract's lstm_choice_mode=2 groups (#21): the word's text is the printed one, its choices alternatives."""
    from ocr.tesseract import compact_choices

    compacted = compact_choices(_KANT_WORD)
    assert b"x_confs 0'" not in compacted  # choices of confidence 0 are dropped from what is cached
    [word] = hocr.parse(compacted).words()
    assert word.text == "Fraßze:"
    assert [(a.text, round(a.confidence or 0)) for a in word.alternatives] == [
        ("Frazze:", 78),
        ("Fraßße:", 76),
        ("Fragze:", 71),
        ("Frazße:", 59),
        ("Fragße:", 54),
    ]


def test_hocr_alternatives_markup() -> None:
    """hOCR 1.2 §8.1: the reading in <ins>, the others in <del> with nlp."""
    data = (
        b"<div class='ocr_page' title='bbox 0 0 100 50'><span class='ocr_line' title='bbox 0 0 100 20'>"
        b"<span class='ocrx_word' title='bbox 0 0 60 20'><span class='alternatives'>"
        b"<ins class='alt' title='nlp 0.1'>Freiheit</ins><del class='alt' title='nlp 0.7'>Frciheit</del>"
        b"</span></span></span></div>"
    )
    [word] = hocr.parse(data).words()
    assert word.text == "Freiheit"
    assert [(a.text, a.confidence) for a in word.alternatives] == [("Frciheit", 49.66)]


_KANT_WORD = (
    "<div class='ocr_page' title='bbox 0 0 900 900'><span class='ocr_line' title='bbox 0 0 500 80'>"
    "<span class='ocrx_word' id='word_1_8' title='bbox 10 10 300 70; x_wconf 43'>Fraßze:"
    + "".join(
        f"<span class='ocrx_cinfo' id='lstm_choices_1_8_{n}'>"
        + "".join(
            f"<span class='ocrx_cinfo' id='choice_1_8_{n}{k}' title='x_confs {conf}'>{char}</span>"
            for k, (char, conf) in enumerate(group)
        )
        + "</span>"
        for n, group in enumerate(
            [
                [(" ", 96)],
                [("F", 95)],
                [("r", 94)],
                [("a", 95)],
                [("ß", 90), ("z", 78), ("g", 71), ("o", 0)],
                [("z", 91), ("ß", 76)],
                [("e", 94)],
                [(":", 89)],
            ]
        )
    )
    + "</span></span></div>"
).encode()
