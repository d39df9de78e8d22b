"""The Tesseract model a book is OCR'd with: `--lang` when given, else its language and the script of a few pages (#14).

Once per book, before its canvases go to the workers: a book whose language may be printed in
Fraktur (German, the Nordic and Baltic languages, or none given) has up to SAMPLE_PAGES of
its pages, spread over it, read by Tesseract's script detection (OSD, `--psm 0`); the script
most of them show picks the model (`ocr.languages.model_for`). Detection results are cached
beside the hOCR, so a re-run asks Tesseract nothing. A page whose detection fails gives no
vote and fails nothing: its OCR later says what is wrong with it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from indexer.canvas_text import OcrMode, check_pixels, read_image
from indexer.errors import IndexerError
from indexer.fetch import Fetcher
from indexer.model import Book, Canvas
from ocr.cache import OcrCache, key_for
from ocr.errors import OcrError
from ocr.languages import FRAKTUR, install_hint, installed_name, may_be_fraktur, model_for
from ocr.model import OcrSettings
from ocr.tesseract import ScriptGuess, available_languages, detect_script, format_osd, parse_osd

log = logging.getLogger(__name__)

#: Pages of a book read by script detection (~1.5 s of Tesseract each, cached).
SAMPLE_PAGES = 3


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The models a book's canvases are OCR'd with, and why (for the summary and --json)."""

    lang: str  # Tesseract's -l, e.g. 'deu' or 'frk+Fraktur'
    reason: str  # e.g. "--lang", "deu from the manifest, Fraktur on 3 of 3 sampled pages"
    script: str | None = None  # the script most sampled pages showed; None when not detected


@dataclass(frozen=True, slots=True)
class ChoiceInputs:
    """What the choice needs besides the book: the run's options and its fetcher and cache."""

    fetcher: Fetcher
    cache: OcrCache
    mode: OcrMode = "auto"
    tessdata_dir: str | None = None
    ocr_width: int = 2400
    timeout: float = 300.0
    remote_only: bool = False
    workers: int = 1  # Tesseract processes at once, as for the OCR
    # With --cluster (#15): the models every worker has, and script detection run there
    # (the sampled canvases and the osd settings in, one guess per canvas out).
    installed: frozenset[str] | None = None
    detect: Callable[[Sequence[Canvas], OcrSettings], list[ScriptGuess | None]] | None = None


def choose_model(book: Book, lang: str | None, inputs: ChoiceInputs) -> ModelChoice:
    """The models for `book`: `lang` as given (the CLI checked it), else chosen from its language and script."""
    if lang:
        return ModelChoice(lang, "--lang")
    declared = book.language
    from_manifest = f"{declared} from the manifest" if declared else "no language in the manifest"
    candidates = _needing_tesseract(book.canvases, inputs.mode)
    if not candidates:
        # Linked OCR only: Tesseract is not asked, not even for its languages.
        return ModelChoice(declared or "eng", f"{from_manifest}; every page has linked OCR")
    installed = inputs.installed if inputs.installed is not None else _installed(inputs.tessdata_dir)
    script = None
    detection = ""
    if may_be_fraktur(declared):
        has_osd, osd_folder = _osd_folder(inputs.tessdata_dir, installed, inputs.installed is None)
        if not has_osd:
            detection = "; script not detected: no osd model (install tesseract-ocr-osd)"
        else:
            guesses = _detect(book, candidates, inputs, osd_folder)
            script, votes = _vote(guesses)
            if script is not None:
                detection = f", {script} on {votes} of {len(guesses)} sampled pages"
            else:
                detection = f"; no script detected on {len(guesses)} sampled pages"
    chosen = model_for(declared, script, installed)
    if script == FRAKTUR and chosen == (declared or "eng"):
        detection += f"; no Fraktur model installed ({install_hint(['frk', FRAKTUR])})"
        log.warning("%s looks printed in Fraktur, but no Fraktur model is installed; using %s", book.id, chosen)
    usable = [spelled for code in chosen.split("+") if (spelled := installed_name(code, installed))]
    if not usable:
        log.warning("no Tesseract model for %r (book %s); using eng", chosen, book.id)
        return ModelChoice("eng", f"{from_manifest}{detection}; no model for {chosen} installed", script)
    return ModelChoice("+".join(usable), f"{from_manifest}{detection}", script)


def sample(canvases: Sequence[Canvas], count: int = SAMPLE_PAGES) -> list[Canvas]:
    """Up to `count` canvases spread evenly over the book, away from its covers and title pages when it is long.

    >>> sample(list(range(100))), sample([0, 1]), sample([0, 1, 2, 3])
    ([16, 50, 83], [0, 1], [0, 2, 3])
    """
    size = min(count, len(canvases))
    return [canvases[int((i + 0.5) * len(canvases) / size)] for i in range(size)]


def _needing_tesseract(canvases: Sequence[Canvas], mode: OcrMode) -> list[Canvas]:
    """The canvases this run will give to Tesseract (not those read from linked OCR), with an image."""
    if mode == "existing":
        return []
    return [c for c in canvases if c.image is not None and (mode == "tesseract" or c.ocr is None)]


def _installed(tessdata_dir: str | None) -> frozenset[str]:
    try:
        return frozenset(available_languages(tessdata_dir))
    except OcrError as exc:
        log.warning("cannot list Tesseract's languages: %s", exc)
        return frozenset()


def _osd_folder(tessdata_dir: str | None, installed: frozenset[str], here: bool = True) -> tuple[bool, str | None]:
    """Whether the osd model is installed, and in which folder: --tessdata-dir's, or Tesseract's own (None).

    `here`: Tesseract runs on this machine, whose own folder can be asked too (not a cluster's workers).
    """
    if "osd" in installed:
        return True, tessdata_dir
    # A folder of better models often lacks osd; Tesseract's own folder can still tell the script.
    return here and tessdata_dir is not None and "osd" in _installed(None), None


def _detect(
    book: Book, candidates: Sequence[Canvas], inputs: ChoiceInputs, osd_folder: str | None
) -> list[ScriptGuess | None]:
    """Script detection on the sampled pages, a few at once (each is one Tesseract process)."""
    pages = sample(candidates)
    settings = OcrSettings(lang="osd", psm=0, timeout=inputs.timeout, tessdata_dir=osd_folder)
    if inputs.detect is not None:
        return inputs.detect(pages, settings)
    with ThreadPoolExecutor(max_workers=max(1, min(len(pages), inputs.workers)), thread_name_prefix="osd") as threads:
        return list(threads.map(lambda canvas: _detect_page(book, canvas, inputs, settings), pages))


def _detect_page(book: Book, canvas: Canvas, inputs: ChoiceInputs, settings: OcrSettings) -> ScriptGuess | None:
    """One page's script, from the cache or from Tesseract; None when it cannot tell or the page fails."""
    assert canvas.image is not None
    try:
        data, source = read_image(canvas.image, inputs.fetcher, inputs.ocr_width, inputs.remote_only)
        key = key_for(hashlib.sha256(data).hexdigest(), settings)
        cached = inputs.cache.get(key, "osd")
        if cached is not None:
            return parse_osd(cached.decode("utf-8", errors="replace"))
        check_pixels(data, source)
        guess = detect_script(canvas.image.path or data, settings)
        inputs.cache.put(key, format_osd(guess).encode("utf-8"), "osd")
        return guess
    except (OcrError, IndexerError) as exc:  # CanvasFailed is an IndexerError too
        # The page's own OCR will fail too and say so in the summary; here it only loses its vote.
        log.info("%s: script detection on canvas %d failed: %s", book.id, canvas.index + 1, exc)
        return None


def _vote(guesses: Sequence[ScriptGuess | None]) -> tuple[str | None, int]:
    """The script most pages show (ties: the more confident), and on how many pages."""
    counts = Counter(guess.script for guess in guesses if guess is not None)
    if not counts:
        return None, 0
    confidence: dict[str, float] = {}
    for guess in guesses:
        if guess is not None:
            confidence[guess.script] = confidence.get(guess.script, 0.0) + guess.confidence
    script = max(counts, key=lambda name: (counts[name], confidence[name]))
    return script, counts[script]
