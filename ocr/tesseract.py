"""Run Tesseract (through pytesseract) on one image and return its hOCR: the only module that starts it.

What Tesseract returns depends on the image and `OcrSettings` only, so callers cache the
result by `ocr.cache.key_for`; this module neither caches nor parses (see `ocr.hocr`).
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import tempfile
from pathlib import Path

import pytesseract

from ocr.errors import TesseractFailed, TesseractTimeout
from ocr.model import OcrSettings

#: How much of Tesseract's stderr an error keeps: the end, where the reason is.
STDERR_TAIL = 2000


def ocr_image(image: str | Path | bytes, settings: OcrSettings) -> bytes:
    """hOCR bytes for one image file (a path, read by Tesseract itself) or its encoded bytes.

    Raises `TesseractTimeout` after `settings.timeout` seconds and `TesseractFailed` when
    Tesseract exits with an error (not an image, unknown language, ...).

    >>> import io
    >>> from PIL import Image, ImageDraw, ImageFont
    >>> image = Image.new("L", (500, 100), 255)
    >>> ImageDraw.Draw(image).text((20, 20), "Hello world", fill=0, font=ImageFont.load_default(size=48))
    >>> png = io.BytesIO()
    >>> image.save(png, "PNG")
    >>> hocr = ocr_image(png.getvalue(), OcrSettings(lang="eng"))
    >>> b"ocrx_word" in hocr, b"Hello" in hocr
    (True, True)
    """
    if isinstance(image, bytes | bytearray | memoryview):
        # pytesseract would decode and re-encode through PIL; a temporary file is cheaper.
        with tempfile.NamedTemporaryFile(prefix="ocr-", suffix=".img") as handle:
            handle.write(image)
            handle.flush()
            return _run(handle.name, settings, "<image bytes>")
    path = os.fspath(image)
    return _run(path, settings, path)


def _run(path: str, settings: OcrSettings, name: str) -> bytes:
    """Tesseract on a file path; pytesseract hands a str path to Tesseract without opening it."""
    config = f"--psm {settings.psm} --oem {settings.oem}"
    if settings.extra:
        # pytesseract shlex-splits the config; quoting keeps each extra argument whole.
        config += " " + shlex.join(settings.extra)
    # Tesseract's OpenMP threads make it ~5x slower when we already run one process per core.
    # pytesseract starts Tesseract with os.environ and takes no env argument, so set it there.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        result = pytesseract.image_to_pdf_or_hocr(
            path, lang=settings.lang, config=config, extension="hocr", timeout=settings.timeout
        )
    except pytesseract.TesseractNotFoundError as error:
        raise TesseractFailed(None, f"{error}; install tesseract-ocr", name) from error
    except pytesseract.TesseractError as error:
        raise TesseractFailed(error.status, str(error.message)[-STDERR_TAIL:], name) from error
    except RuntimeError as error:
        # pytesseract signals a timeout with a bare RuntimeError after killing the process.
        if "timeout" in str(error).lower():
            raise TesseractTimeout(settings.timeout, name) from error
        raise
    return bytes(result)


@functools.cache
def tesseract_version() -> str:
    """The first line of `tesseract --version` ('tesseract 5.3.0'), part of every OCR cache key.

    pytesseract's own get_tesseract_version() keeps only the number and exits the process
    on a version it cannot parse, so we ask the binary it is configured to use directly.
    """
    command = pytesseract.pytesseract.tesseract_cmd
    try:
        completed = subprocess.run(
            [command, "--version"], capture_output=True, stdin=subprocess.DEVNULL, timeout=60, check=False
        )
    except OSError as error:
        raise TesseractFailed(None, f"cannot run {command!r}: {error}; install tesseract-ocr") from error
    except subprocess.TimeoutExpired as error:
        raise TesseractTimeout(60, f"{command} --version") from error
    output = (completed.stdout or completed.stderr).decode("utf-8", errors="replace").strip()
    if completed.returncode != 0 or not output:
        raise TesseractFailed(completed.returncode, output[-STDERR_TAIL:], f"{command} --version")
    return output.splitlines()[0].strip()


def available_languages() -> list[str]:
    """Installed Tesseract language models ('eng', 'deu', 'osd', ...), sorted."""
    try:
        return sorted(pytesseract.get_languages(config=""))
    except pytesseract.TesseractNotFoundError as error:
        raise TesseractFailed(None, f"{error}; install tesseract-ocr") from error
