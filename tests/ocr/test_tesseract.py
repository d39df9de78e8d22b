"""ocr/tesseract.py with the real Tesseract: one OCR of phototest.tif, its failures and timeouts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytesseract
import pytest

from ocr.errors import TesseractFailed, TesseractTimeout
from ocr.formats import detect_format, parse_ocr
from ocr.model import OcrSettings, Page
from ocr.tesseract import available_languages, ocr_image, tesseract_version
from ocr.text import tokens

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")


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


def test_openmp_threads_are_limited_for_the_child(phototest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")  # restored after the test
    ocr_image(phototest, OcrSettings(lang="eng", psm=7, extra=("-c", "tessedit_char_whitelist=abc")))
    assert os.environ["OMP_THREAD_LIMIT"] == "1"


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
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(TesseractFailed, match="install tesseract"):
        ocr_image(phototest, OcrSettings())


def test_version_and_languages() -> None:
    assert tesseract_version().startswith("tesseract ")
    assert tesseract_version() is tesseract_version()  # cached: every cache key asks for it
    assert {"eng", "deu", "fra"} <= set(available_languages())
