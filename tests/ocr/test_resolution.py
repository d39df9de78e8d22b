"""The resolution chosen per page (#21): big type is scaled down to `text_height`, small type left alone, both OCR paths alike."""

from __future__ import annotations

import io
from collections.abc import Iterator
from statistics import median

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr import engine
from ocr.cache import key_for
from ocr.hocr import parse
from ocr.model import OcrSettings
from ocr.tesseract import command_line_heights, ocr_image

LINES = ["The quick brown fox", "jumps over the lazy", "dog and runs away", "into the dark woods", "before the night"]


def _page(font_size: int, width: int) -> bytes:
    """A page of five lines of `font_size` px type, as PNG."""
    image = Image.new("L", (width, font_size * 2 * len(LINES) + 200), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(LINES):
        draw.text((60, 100 + number * font_size * 2), line, fill=0, font=ImageFont.load_default(size=font_size))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def process() -> Iterator[engine.EngineProcess]:
    child = engine.EngineProcess()
    yield child
    child.close()


def _read(hocr: bytes) -> tuple[int, list[str]]:
    page = parse(hocr)
    return page.width, [word.text for word in page.words()]


def test_big_type_is_scaled_down_to_the_text_height_with_the_same_words(process: engine.EngineProcess) -> None:
    png = _page(120, 2000)
    full_width, full_words = _read(process.hocr(png, OcrSettings(lang="eng"), {}))
    width, words = _read(process.hocr(png, OcrSettings(lang="eng", text_height=36), {}))
    assert full_width == 2000
    assert 450 < width < 900  # lines of ~120-150 px brought to ~36
    assert words == full_words == " ".join(LINES).split()
    # The command path OCRs the same pixels: its own first look chooses the same size.
    assert _read(ocr_image(png, OcrSettings(lang="eng", text_height=36))) == (width, words)


def test_small_type_is_left_at_its_size(process: engine.EngineProcess) -> None:
    png = _page(32, 1200)
    width, words = _read(process.hocr(png, OcrSettings(lang="eng", text_height=36), {}))
    assert width == 1200
    assert words == " ".join(LINES).split()


def test_the_text_height_is_part_of_the_cache_key_only_when_set() -> None:
    keys = {
        text_height: key_for(b"scan", OcrSettings(text_height=text_height), version="tesseract 5.3.0", models="eng=1")
        for text_height in (None, 36, 30)
    }
    assert len(set(keys.values())) == 3
    assert OcrSettings(text_height=None).key() == "lang=eng;psm=3;oem=1;extra="  # entries cached before #21 still match


def test_a_first_look_measures_the_lines_alike_on_the_engine_and_the_command(process: engine.EngineProcess) -> None:
    """`ocr.engine.line_heights` (#21): layout analysis alone on the warm engine, the hOCR's lines on the command."""
    png = _page(60, 1200)
    on_engine = process.line_heights(png, OcrSettings(lang="eng"), {})
    on_command = command_line_heights(png, OcrSettings(lang="eng"))
    assert len(on_engine) == len(LINES) and on_command == on_engine  # the same layout analysis under both
    assert 50 <= median(on_engine) <= 80, on_engine  # 60 px type, ascender to descender
    assert engine.line_heights(png, OcrSettings(lang="eng")) == on_engine  # the module's warm engine, the same look
