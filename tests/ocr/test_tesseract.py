"""ocr/tesseract.py with the real Tesseract: one OCR of phototest.tif, its failures and timeouts, script detection."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from PIL import Image

from ocr import tesseract
from ocr.errors import TesseractFailed, TesseractTimeout
from ocr.formats import detect_format, parse_ocr
from ocr.model import OcrSettings, Page
from ocr.tesseract import (
    ScriptGuess,
    available_languages,
    detect_script,
    ocr_image,
    parse_osd,
    tessdata_path,
    tesseract_version,
)
from ocr.text import tokens

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")

REPO = Path(__file__).resolve().parents[2]
KANT = REPO / "tests/data/books/de_kant_aufklaerung_1784_fraktur"
BEBEL = REPO / "sample_books/de_bebel_frau_1879"


@pytest.fixture(scope="module")
def phototest(test_data: Path) -> Path:
    return test_data / "ocr/tesseract-test-pages/phototest.tif"


@pytest.fixture(scope="module")
def phototest_hocr(phototest: Path) -> bytes:
    """The one real OCR run of this file (about 0.2 s), shared by the tests below."""
    return ocr_image(phototest, OcrSettings(lang="eng"))


def test_phototest_hocr_parses_with_the_words(phototest_hocr: bytes) -> None:
    assert detect_format(phototest_hocr) == "hocr"
    page = parse_ocr(phototest_hocr, source="phototest.tif")
    assert (page.width, page.height) == (640, 480)
    words = page.words()
    found = [token for word in words for token in tokens(word.text)]
    for expected in ("quick", "brown", "fox", "lazy", "jumped"):
        assert expected in found
    assert found.count("quick") == 4  # phototest.txt: four "The quick brown dog"
    quick = [word for word in words if word.text == "quick"]
    for word in quick:
        assert 10 <= word.box.h <= 60 and 40 <= word.box.w <= 120
        assert word.box.right <= 640 and word.box.bottom <= 480
        assert word.confidence is not None and word.confidence > 80
    # Reading order: the four lines with "quick" go down the page.
    assert [word.box.y for word in quick] == sorted(word.box.y for word in quick)


def test_text_lines_match_the_ground_truth(phototest_hocr: bytes, phototest: Path) -> None:
    page: Page = parse_ocr(phototest_hocr)
    truth = list(tokens(phototest.with_suffix(".txt").read_text()))
    ours = [token for word in page.words() for token in tokens(word.text)]
    common = sum(min(ours.count(t), truth.count(t)) for t in set(truth))
    assert common / len(truth) > 0.95


def test_image_bytes_give_the_same_words(phototest: Path, phototest_hocr: bytes) -> None:
    from_bytes = parse_ocr(ocr_image(phototest.read_bytes(), OcrSettings(lang="eng")))
    assert [w.text for w in from_bytes.words()] == [w.text for w in parse_ocr(phototest_hocr).words()]


def test_openmp_threads_are_limited_for_the_child_only(
    phototest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#11: Tesseract gets OMP_THREAD_LIMIT=1; our own process keeps what it had (numpy's threads, say)."""
    seen = tmp_path / "child-environment"
    wrapper = tmp_path / "tesseract"  # records the environment it is started with, then runs the real one
    wrapper.write_text(f'#!/bin/sh\necho "$OMP_THREAD_LIMIT" > {seen}\nexec {shutil.which("tesseract")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(tesseract, "command", str(wrapper))
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")  # restored after the test
    hocr = ocr_image(phototest, OcrSettings(lang="eng", psm=7, extra=("-c", "tessedit_char_whitelist=abc")))
    assert b"ocrx_word" in hocr
    assert seen.read_text().strip() == "1"
    assert os.environ["OMP_THREAD_LIMIT"] == "8"


def test_timeout(phototest: Path) -> None:
    with pytest.raises(TesseractTimeout) as error:
        ocr_image(phototest, OcrSettings(lang="eng", timeout=0.01))
    assert isinstance(error.value, TesseractFailed)  # callers catching failures catch timeouts too
    assert error.value.seconds == 0.01 and "phototest.tif" in str(error.value)


def test_not_an_image_fails(tmp_path: Path) -> None:
    with pytest.raises(TesseractFailed) as error:
        ocr_image(b"this is not an image", OcrSettings(lang="eng"))
    assert error.value.status not in (None, 0)
    assert error.value.stderr_tail
    path = tmp_path / "notes.txt"
    path.write_text("not an image either")
    with pytest.raises(TesseractFailed, match=r"notes\.txt"):
        ocr_image(path, OcrSettings(lang="eng"))


def test_unknown_language_fails(phototest: Path) -> None:
    with pytest.raises(TesseractFailed) as error:
        ocr_image(phototest, OcrSettings(lang="xyz"))
    assert "xyz" in error.value.stderr_tail


def test_missing_binary_fails(phototest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tesseract, "command", "/nonexistent/tesseract")
    with pytest.raises(TesseractFailed, match="install tesseract"):
        ocr_image(phototest, OcrSettings())
    with pytest.raises(TesseractFailed, match="install tesseract"):
        available_languages("/nonexistent/tessdata")


def test_version_and_languages() -> None:
    assert tesseract_version().startswith("tesseract ")
    assert tesseract_version() is tesseract_version()  # cached: every cache key asks for it
    # scripts/setup installs these; pytesseract's list dropped 'Fraktur' (not lower case), ours keeps it (#14).
    assert {"eng", "deu", "fra", "lat", "osd", "frk", "Fraktur"} <= set(available_languages())
    assert (tessdata_path() / "eng.traineddata").is_file()


def test_a_model_folder_of_ones_own(tmp_path: Path) -> None:
    """--tessdata-dir: Tesseract's own layout keeps script models in script/ (tessdata_best, tessdata_fast)."""
    (tmp_path / "script").mkdir()
    (tmp_path / "script" / "Fraktur.traineddata").symlink_to(tessdata_path() / "Fraktur.traineddata")
    (tmp_path / "eng.traineddata").symlink_to(tessdata_path() / "eng.traineddata")
    assert available_languages(str(tmp_path)) == ["eng", "script/Fraktur"]
    assert tessdata_path(str(tmp_path)) == tmp_path
    hocr = ocr_image(KANT / "0001.jpg", OcrSettings(lang="script/Fraktur", tessdata_dir=str(tmp_path), psm=6))
    assert "aufklarung" in tokens(" ".join(w.text for w in parse_ocr(hocr).words()))
    with pytest.raises(TesseractFailed, match="deu"):
        ocr_image(KANT / "0001.jpg", OcrSettings(lang="deu", tessdata_dir=str(tmp_path)))


def test_script_detection_tells_fraktur_from_antiqua(tmp_path: Path) -> None:
    fraktur = detect_script(KANT / "0002.jpg", OcrSettings())
    assert fraktur is not None and fraktur.script == "Fraktur" and fraktur.confidence > 1
    antiqua = detect_script((BEBEL / "0004.png").read_bytes(), OcrSettings())
    assert antiqua is not None and antiqua.script == "Latin"
    blank = tmp_path / "blank.png"
    Image.new("L", (600, 800), 255).save(blank)
    assert detect_script(blank, OcrSettings()) is None  # "Too few characters": no verdict, no failure
    with pytest.raises(TesseractFailed, match="osd"):
        detect_script(KANT / "0002.jpg", OcrSettings(tessdata_dir=str(tmp_path)))  # no osd model there


def test_osd_output_is_parsed() -> None:
    text = "Page number: 0\nOrientation in degrees: 180\nRotate: 180\nScript: Fraktur\nScript confidence: 4.91\n"
    assert parse_osd(text) == ScriptGuess("Fraktur", 4.91, 180)
    assert parse_osd("") is None
    assert parse_osd("Script: Latin\nScript confidence: lots\n") is None
