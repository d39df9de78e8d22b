"""The warm engine (#21): the command's words and boxes, a killed engine replaced, a hung page timed out, the fallback."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr import engine
from ocr.errors import TesseractTimeout, UnreadableImage
from ocr.hocr import parse
from ocr.model import OcrSettings

REPO = Path(__file__).resolve().parents[2]
HARPER_PAGE = REPO / "sample_books/en_harper_half_hours_with_highwaymen_1908/0003.png"
KANT_PAGE = REPO / "tests/data/books/de_kant_aufklaerung_1784_fraktur/0001.jpg"


def _png(text: str) -> bytes:
    image = Image.new("L", (700, 120), 255)
    ImageDraw.Draw(image).text((20, 30), text, fill=0, font=ImageFont.load_default(size=48))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _command_words(path: Path, lang: str) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Words and boxes of the plain `tesseract IMAGE stdout -l LANG hocr`, as a user would run it."""
    hocr = subprocess.run(
        ["tesseract", str(path), "stdout", "-l", lang, "hocr"],
        capture_output=True,
        check=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    ).stdout
    return [(w.text, (w.box.x, w.box.y, w.box.w, w.box.h)) for w in parse(hocr).words()]


@pytest.fixture
def process() -> Iterator[engine.EngineProcess]:
    child = engine.EngineProcess()
    yield child
    child.close()


@pytest.mark.parametrize(("page", "lang"), [(HARPER_PAGE, "eng"), (KANT_PAGE, "frk+Fraktur")])
def test_the_engine_reads_the_words_and_boxes_of_the_command(page: Path, lang: str) -> None:
    """Same model, same image: the engine's hOCR (with the LSTM's choices) has the command's words and boxes."""
    hocr = engine.ocr_page(page, OcrSettings(lang=lang))
    assert engine.engine_info()["engine"] == "tesserocr"
    ours = [(w.text, (w.box.x, w.box.y, w.box.w, w.box.h)) for w in parse(hocr).words()]
    assert ours == _command_words(page, lang)
    assert len(ours) > 100


def test_image_bytes_read_like_their_file(process: engine.EngineProcess) -> None:
    png = _png("Hello warm world")
    settings = OcrSettings(lang="eng")
    words = [w.text for w in parse(process.hocr(png, settings, {})).words()]
    assert words == ["Hello", "warm", "world"]
    assert process.started == 1
    assert [w.text for w in parse(process.hocr(_png("Second page"), settings, {})).words()] == ["Second", "page"]
    assert process.started == 1  # one engine, kept warm between pages


def test_an_unreadable_image_says_so_through_the_engine_and_the_command(process: engine.EngineProcess) -> None:
    """A JPEG cut short: the reason, with no 'exit status None' (the engine has none), and the engine carries on."""
    image = Image.open(io.BytesIO(_png("Cut short"))).convert("RGB")
    jpeg = io.BytesIO()
    image.save(jpeg, "JPEG", quality=90)
    truncated = jpeg.getvalue()[: len(jpeg.getvalue()) * 6 // 10]
    settings = OcrSettings(lang="eng")
    with pytest.raises(UnreadableImage) as warm:
        process.hocr(truncated, settings, {})
    assert str(warm.value).startswith("<image bytes>: the image cannot be read (image file is truncated")
    with pytest.raises(UnreadableImage) as command:
        engine.ocr_image(truncated, settings)
    assert "Premature end of JPEG file" in str(command.value)
    assert "exit status" not in str(warm.value) + str(command.value)
    pid = process.pid
    assert [w.text for w in parse(process.hocr(_png("Still here"), settings, {})).words()] == ["Still", "here"]
    assert process.pid == pid  # a bad image costs its page, not the engine


def test_a_killed_engine_is_replaced(process: engine.EngineProcess) -> None:
    settings = OcrSettings(lang="eng")
    process.hocr(_png("first"), settings, {})
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    words = [w.text for w in parse(process.hocr(_png("Still reading"), settings, {})).words()]
    assert words == ["Still", "reading"]
    assert process.started == 2 and process.pid not in (None, first)


def test_a_hung_page_times_out_and_the_next_page_gets_a_fresh_engine(process: engine.EngineProcess) -> None:
    """A page past its time limit kills the engine (it cannot be asked to stop), the next page starts another."""
    process.hocr(_png("warm"), OcrSettings(lang="eng"), {})
    hung = process.pid
    with pytest.raises(TesseractTimeout):
        process.hocr(HARPER_PAGE, OcrSettings(lang="eng", timeout=0.2), {})
    assert process.pid is None
    assert hung is not None
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)
    assert [w.text for w in parse(process.hocr(_png("Carry on"), OcrSettings(), {})).words()] == ["Carry", "on"]


def test_threads_at_work_get_an_engine_each_and_reuse_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dask worker with two threads OCRs two pages at once, each in its own warm engine."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(engine, "_idle", [])
    monkeypatch.setattr(engine, "_engines", [])
    texts = ["One page", "Two pages", "Three pages", "Four pages"]
    with ThreadPoolExecutor(2) as pool:
        pages = list(pool.map(lambda text: engine.ocr_page(_png(text), OcrSettings()), texts))
    assert [" ".join(w.text for w in parse(page).words()) for page in pages] == texts
    assert 1 <= len(engine._engines) <= 2 and all(e.started == 1 for e in engine._engines)
    engine.close()


def _choices(hocr: bytes) -> list[bytes]:
    """The LSTM's choices an hOCR keeps, as `character confidence` (ocr.tesseract.compact_choices)."""
    return [b" ".join(m) for m in re.findall(rb"id='choice_[^']*' title='x_confs ([^']*)'>([^<]*)<", hocr)]


def test_the_choice_passes_reach_the_engine_and_the_command(process: engine.EngineProcess) -> None:
    """OcrSettings.choice_iterations (#21) reaches the warm engine and the command; it never changes the words."""
    with Image.open(KANT_PAGE) as page:  # a third of a Fraktur page: dozens of uncertain characters, ~1 s
        crop = page.crop((0, 0, page.width, page.height // 3))
        png = io.BytesIO()
        crop.save(png, "PNG")
    none, one, five = (OcrSettings(lang="frk+Fraktur", choice_iterations=n) for n in (0, 1, 5))
    warm = {n: process.hocr(png.getvalue(), settings, {}) for n, settings in ((0, none), (1, one), (5, five))}
    # No pass, no second choice (a character's first choice alone is dropped): the variable is read.
    assert _choices(warm[0]) == [] and _choices(warm[1]) and _choices(warm[5])
    assert len({tuple(w.text for w in parse(hocr).words()) for hocr in warm.values()}) == 1
    assert _choices(engine.ocr_image(png.getvalue(), none)) == []
    assert _choices(engine.ocr_image(png.getvalue(), one)) == _choices(warm[1])


def test_settings_the_engine_cannot_take_go_to_the_command() -> None:
    assert engine.engine_settings(OcrSettings(extra=("-c", "a=1"))) == {"a": "1"}
    assert engine.engine_settings(OcrSettings(extra=("--user-words", "x.txt"))) is None


def test_without_tesserocr_pages_go_to_the_command_with_one_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A tesserocr that cannot load (as where libtesseract is missing) shadows the installed one in the child.
    (tmp_path / "tesserocr.py").write_text("raise ImportError('libtesseract.so.5: cannot open shared object file')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(engine, "_idle", [])
    monkeypatch.setattr(engine, "_engines", [])
    monkeypatch.setattr(engine, "_unavailable", None)
    caplog.set_level(logging.WARNING, "ocr.engine")
    for text in ("Fallback one", "Fallback two"):
        assert [w.text for w in parse(engine.ocr_page(_png(text), OcrSettings())).words()] == text.split()
    notices = [r.getMessage() for r in caplog.records if r.name == "ocr.engine"]
    assert len(notices) == 1
    assert "OCR through the tesseract command" in notices[0] and "libtesseract.so.5" in notices[0]
    assert engine.engine_info()["engine"] == "command"
    engine.close()
