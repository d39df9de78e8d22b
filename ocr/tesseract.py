"""Run the Tesseract binary: OCR an image to hOCR, detect its script, list models: the only module that starts it.

What Tesseract returns depends on the image, `OcrSettings` and the model files only, so callers
cache the result by `ocr.cache.key_for`; this module neither caches nor parses hOCR (see `ocr.hocr`).
Tesseract is started with `subprocess`, not pytesseract: pytesseract takes no environment for the
child (#11: it made us set OMP_THREAD_LIMIT in our own process) and drops model names that are
not lower case ('Fraktur', 'script/Fraktur') from the installed list (#14).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocr.errors import TesseractFailed, TesseractTimeout, UnreadableImage
from ocr.model import OcrSettings

#: The Tesseract binary: a name looked up on PATH, or a path.
command = "tesseract"

#: How much of Tesseract's stderr an error keeps: the end, where the reason is.
STDERR_TAIL = 2000

# Tesseract's OpenMP threads make it ~5x slower when we already run one process per core.
_CHILD_ENVIRONMENT = {"OMP_THREAD_LIMIT": "1"}
#: Variables set for every page OCR'd: the LSTM's choices per character, kept in the hOCR as
#: `ocrx_cinfo` spans (#21), from which `ocr.hocr` makes the words' alternative readings.
#: They add to the hOCR, never change its words or boxes (tests/ocr/test_engine.py), so asking
#: for them is no part of the cache key; how many passes find them (`choice_iterations`) is,
#: unless Tesseract's own 5, since it changes which choices an entry holds.
CHOICE_VARIABLES = {"lstm_choice_mode": "2"}


def choice_variables(settings: OcrSettings) -> dict[str, str]:
    """The variables that ask for the LSTM's choices under these settings; none without `settings.choices`.

    >>> choice_variables(OcrSettings(choice_iterations=2))
    {'lstm_choice_mode': '2', 'lstm_choice_iterations': '2'}
    >>> choice_variables(OcrSettings(choices=False, choice_iterations=2))
    {}
    """
    if not settings.choices:
        return {}
    return {**CHOICE_VARIABLES, "lstm_choice_iterations": str(settings.choice_iterations)}


# `tesseract --list-langs` starts with: List of available languages in "/usr/share/tesseract-ocr/5/tessdata/" (7):
_LIST_HEADER = re.compile(r'^List of available languages in "(.*)" \(\d+\):$')
# What Leptonica prints when it could not decode the image (pixRead gave nothing).
_UNREADABLE = "pix not read"
# What OSD prints when a page has too little text to tell: no verdict, not a failure.
_TOO_FEW_CHARACTERS = "Too few characters"


@dataclass(frozen=True, slots=True)
class ScriptGuess:
    """Tesseract's script detection (OSD) for one image: the script's name ('Latin', 'Fraktur') and confidence."""

    script: str
    confidence: float
    orientation: int = 0  # degrees the page is rotated, as OSD reads it


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
    arguments = ["-l", settings.lang, "--psm", str(settings.psm), "--oem", str(settings.oem)]
    # A variable, not the `hocr` config file: that file lives in the model folder, and a
    # --tessdata-dir of downloaded models has none. Same bytes out as pytesseract gave.
    arguments += [*_tessdata_arguments(settings.tessdata_dir), "-c", "tessedit_create_hocr=1"]
    arguments += [part for name, value in choice_variables(settings).items() for part in ("-c", f"{name}={value}")]
    if settings.text_height:
        image = _scaled_for_command(image, settings)
    return compact_choices(_on_file(image, [*arguments, *settings.extra], settings.timeout))


def _scaled_for_command(image: str | Path | bytes, settings: OcrSettings) -> str | Path | bytes:
    """The page scaled to `settings.text_height` (ocr/resolution.py), the first look an OCR of its thumbnail.

    The command has no layout analysis alone, so the look costs a small OCR (~0.3 s): the path
    where the warm engine cannot load, where what matters is that it OCRs the pixels the engine
    would, since both store under the same key.
    """
    from ocr.resolution import encoded, open_image, scaled_page

    def line_heights_of(thumbnail: Any) -> list[int]:
        return command_line_heights(encoded(thumbnail), settings)

    try:
        page = open_image(image)
    except OSError as error:
        name = image if isinstance(image, str | Path) else "<image bytes>"
        raise UnreadableImage(str(error), str(name)) from error
    scaled = scaled_page(page, settings.text_height or 0, line_heights_of)
    return image if scaled is None else encoded(scaled)


def command_line_heights(image: str | Path | bytes, settings: OcrSettings) -> list[int]:
    """The heights of an image's text lines, from the command's hOCR of it: a first look (ocr/resolution.py) without a warm engine."""
    from ocr.resolution import line_heights_of_hocr

    arguments = ["-l", settings.lang, "--psm", str(settings.psm), "--oem", str(settings.oem)]
    arguments += [*_tessdata_arguments(settings.tessdata_dir), "-c", "tessedit_create_hocr=1"]
    return line_heights_of_hocr(_on_file(image, arguments, settings.timeout))


#: A second choice below this confidence (0..100) is dropped from the hOCR: never an alternative worth indexing.
CHOICE_FLOOR = 5.0
# One character's LSTM choices, as TessHOcrRenderer writes them with lstm_choice_mode=2.
_CHOICE = re.compile(rb"\s*<span class='ocrx_cinfo' id='choice_[^']*' title='x_confs ([0-9.eE+-]+)'>(?:[^<]*)</span>")
_CHOICE_GROUP = re.compile(
    rb"\s*<span class='ocrx_cinfo' id='lstm_choices_[^']*'>((?:\s*<span [^>]*>[^<]*</span>)*)</span>"
)
# Where one word's groups start (after its text) and end (its closing tag).
_WORD_CHOICES = re.compile(
    rb"((?:\s*<span class='ocrx_cinfo' id='lstm_choices_[^']*'>(?:\s*<span [^>]*>[^<]*</span>)*</span>)+)"
)


def compact_choices(hocr: bytes) -> bytes:
    """hOCR with the LSTM's second choices below CHOICE_FLOOR dropped, and a word's groups dropped when none has a second choice.

    Tesseract writes six choices for every character, nearly all of confidence 0: a page's hOCR
    grows ~15 times. What is left is what the alternatives are made of (`ocr.hocr`).

    >>> word = (b"<span class='ocrx_word' id='w' title='bbox 0 0 9 9; x_wconf 90'>ab"
    ...     b"<span class='ocrx_cinfo' id='lstm_choices_1_1_1'><span class='ocrx_cinfo' id='choice_1' title='x_confs 90'>a</span>"
    ...     b"<span class='ocrx_cinfo' id='choice_2' title='x_confs 0'>o</span></span>"
    ...     b"<span class='ocrx_cinfo' id='lstm_choices_1_1_2'><span class='ocrx_cinfo' id='choice_3' title='x_confs 80'>b</span>"
    ...     b"<span class='ocrx_cinfo' id='choice_4' title='x_confs 40'>h</span></span></span>")
    >>> compact_choices(word).count(b"choice_"), compact_choices(word.replace(b"x_confs 40", b"x_confs 0"))
    (3, b"<span class='ocrx_word' id='w' title='bbox 0 0 9 9; x_wconf 90'>ab</span>")
    """
    if b"lstm_choices_" not in hocr:
        return hocr

    def word(match: re.Match[bytes]) -> bytes:
        groups = [_second_choices(group.group(0)) for group in _CHOICE_GROUP.finditer(match.group(1))]
        if all(group.count(b"id='choice_") < 2 for group in groups):
            return b""
        return b"".join(groups)

    return _WORD_CHOICES.sub(word, hocr)


def _second_choices(group: bytes) -> bytes:
    """A character's group with its first choice (the printed one) and the others of CHOICE_FLOOR or more."""
    first = True

    def keep(choice: re.Match[bytes]) -> bytes:
        nonlocal first
        kept = first or float(choice.group(1)) >= CHOICE_FLOOR
        first = False
        return choice.group(0) if kept else b""

    return _CHOICE.sub(keep, group)


def detect_script(image: str | Path | bytes, settings: OcrSettings) -> ScriptGuess | None:
    """The script an image is printed in, by Tesseract's OSD (`--psm 0`, the `osd` model); None when too little text.

    Only `settings.tessdata_dir` and `settings.timeout` are used. Raises like `ocr_image`.

    >>> import io
    >>> from PIL import Image
    >>> blank = io.BytesIO()
    >>> Image.new("L", (600, 800), 255).save(blank, "PNG")
    >>> detect_script(blank.getvalue(), OcrSettings()) is None  # too little text to tell (Kant's pages: 'Fraktur')
    True
    """
    try:
        output = _on_file(image, ["--psm", "0", *_tessdata_arguments(settings.tessdata_dir)], settings.timeout)
    except TesseractFailed as error:
        if _TOO_FEW_CHARACTERS in error.stderr_tail and not isinstance(error, TesseractTimeout):
            return None
        raise
    return parse_osd(output.decode("utf-8", errors="replace"))


def parse_osd(text: str) -> ScriptGuess | None:
    """The script in the text `tesseract IMAGE stdout --psm 0` prints; None when it names none.

    >>> parse_osd("Orientation in degrees: 0\\nScript: Fraktur\\nScript confidence: 4.91\\n")
    ScriptGuess(script='Fraktur', confidence=4.91, orientation=0)
    """
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    script = fields.get("Script", "").strip()
    if not script:
        return None
    try:
        confidence = float(fields.get("Script confidence", "0"))
        orientation = int(fields.get("Orientation in degrees", "0"))
    except ValueError:
        return None
    return ScriptGuess(script, confidence, orientation)


def format_osd(guess: ScriptGuess | None) -> str:
    """The text `parse_osd` reads back as `guess` (None: a page with too little text to tell), for the cache.

    >>> parse_osd(format_osd(ScriptGuess("Latin", 3.5))), parse_osd(format_osd(None))
    (ScriptGuess(script='Latin', confidence=3.5, orientation=0), None)
    """
    if guess is None:
        return "Script confidence: 0\n"
    return (
        f"Orientation in degrees: {guess.orientation}\nScript: {guess.script}\nScript confidence: {guess.confidence}\n"
    )


@functools.cache
def tesseract_version() -> str:
    """The first line of `tesseract --version` ('tesseract 5.3.0'), part of every OCR cache key."""
    name = f"{command} --version"
    completed = _execute(["--version"], 60, name)
    output = (completed.stdout or completed.stderr).decode("utf-8", errors="replace").strip()
    if not output:
        raise TesseractFailed(completed.returncode, "no output", name)
    return output.splitlines()[0].strip()


def available_languages(tessdata_dir: str | None = None) -> list[str]:
    """Installed Tesseract models ('eng', 'deu', 'osd', 'Fraktur', 'script/Fraktur', ...), sorted.

    `tessdata_dir` lists that folder instead of Tesseract's own (TESSDATA_PREFIX or the built-in one).
    """
    return list(_list_languages(command, tessdata_dir, os.environ.get("TESSDATA_PREFIX"))[1])


def tessdata_path(tessdata_dir: str | None = None) -> Path:
    """The folder Tesseract reads its models from: `tessdata_dir`, else its own default, as it reports it."""
    return Path(_list_languages(command, tessdata_dir, os.environ.get("TESSDATA_PREFIX"))[0])


@functools.cache
def _list_languages(binary: str, tessdata_dir: str | None, prefix: str | None) -> tuple[str, tuple[str, ...]]:
    """(folder, sorted model names) from `tesseract --list-langs`; cached per binary, folder and TESSDATA_PREFIX."""
    name = f"{binary} --list-langs"
    completed = _execute(["--list-langs", *_tessdata_arguments(tessdata_dir)], 60, name)
    lines = completed.stdout.decode("utf-8", errors="replace").splitlines()
    folder = next((match.group(1) for line in lines if (match := _LIST_HEADER.match(line.strip()))), None)
    if folder is None:
        raise TesseractFailed(completed.returncode, "unexpected output of --list-langs", name)
    names = sorted(line.strip() for line in lines if line.strip() and not _LIST_HEADER.match(line.strip()))
    return folder, tuple(names)


def _tessdata_arguments(tessdata_dir: str | None) -> list[str]:
    return ["--tessdata-dir", tessdata_dir] if tessdata_dir else []


def _on_file(image: str | Path | bytes, arguments: list[str], timeout: float) -> bytes:
    """Tesseract's stdout for `tesseract IMAGE stdout ARGUMENTS`; image bytes go through a temporary file."""
    if isinstance(image, bytes | bytearray | memoryview):
        # Leptonica reads a file by its magic bytes; a temporary file is cheaper than a pipe through PIL.
        with tempfile.NamedTemporaryFile(prefix="ocr-", suffix=".img") as handle:
            handle.write(image)
            handle.flush()
            return _execute([handle.name, "stdout", *arguments], timeout, "<image bytes>").stdout
    path = os.fspath(image)
    return _execute([path, "stdout", *arguments], timeout, path).stdout


def _execute(arguments: list[str], timeout: float, name: str) -> subprocess.CompletedProcess[bytes]:
    """Run Tesseract with OMP_THREAD_LIMIT=1 in its own environment only; errors say what failed and on what."""
    try:
        completed = subprocess.run(
            [command, *arguments],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout or None,
            env={**os.environ, **_CHILD_ENVIRONMENT},
            check=False,
        )
    except OSError as error:
        raise TesseractFailed(None, f"cannot run {command!r}: {error}; install tesseract-ocr", name) from error
    except subprocess.TimeoutExpired as error:
        # subprocess.run has killed and reaped the child before raising.
        raise TesseractTimeout(timeout, name) from error
    if completed.returncode != 0:
        stderr = " ".join(completed.stderr.decode("utf-8", errors="replace").splitlines()).strip()
        if _UNREADABLE in stderr:
            # Leptonica could not decode it: the decoder's first words say why ("Premature end of JPEG file").
            raise UnreadableImage(stderr[:STDERR_TAIL], name)
        raise TesseractFailed(completed.returncode, stderr[-STDERR_TAIL:], name)
    return completed
