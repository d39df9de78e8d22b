"""Errors raised by the `ocr` package; they say what went wrong and where, never an HTTP status.

    OcrError
    ├── UnknownOcrFormat      neither hOCR nor ALTO, or a format name with no parser
    ├── MalformedOcr          an hOCR/ALTO file we cannot read words from (source, reason, line)
    ├── MissingModel          a Tesseract model the settings name is not installed (what to install)
    └── TesseractFailed       Tesseract exited with an error (status, stderr tail)
        ├── TesseractTimeout  Tesseract ran longer than OcrSettings.timeout and was killed
        └── UnreadableImage   the image cannot be decoded (cut short, not an image): why

`indexer/cli.py` turns any `OcrError` into a clean message and exit status 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class OcrError(Exception):
    """Base class of every error the `ocr` package raises on purpose."""


class UnknownOcrFormat(OcrError):
    """The bytes are neither hOCR nor ALTO, or `format` names no parser."""

    def __init__(self, source: str = "", format: str | None = None) -> None:
        self.source = source
        self.format = format
        where = source or "the OCR data"
        if format is None:
            message = f"{where} is neither hOCR nor ALTO; pass format='hocr' or 'alto' if you know which"
        else:
            message = f"no parser for OCR format {format!r} ({where}); known formats: hocr, alto"
        super().__init__(message)


class MalformedOcr(OcrError):
    """An hOCR or ALTO file that cannot be read as pages of words."""

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        where = source or "<bytes>"
        if line is not None:
            where = f"{where}, line {line}"
        super().__init__(f"{where}: {reason}")


class MissingModel(OcrError):
    """Tesseract models that are not installed: no `<name>.traineddata` in the model folder."""

    def __init__(self, names: Iterable[str], folder: str = "", hint: str = "", installed: Iterable[str] = ()) -> None:
        self.names = list(names)
        self.folder = folder
        self.hint = hint
        self.installed = list(installed)
        where = f" in {folder}" if folder else ""
        message = f"Tesseract has no model for {', '.join(self.names)}{where}"
        if hint:
            message += f"; {hint}"
        if self.installed:
            message += f" (installed: {', '.join(self.installed)})"
        super().__init__(message)


class TesseractFailed(OcrError):
    """Tesseract exited with a non-zero status (or could not be started)."""

    def __init__(self, status: int | None, stderr_tail: str, image: str = "") -> None:
        self.status = status
        self.stderr_tail = stderr_tail
        self.image = image
        where = image or "the image"
        # The warm engine (#21) has no exit status to give: a status of None says nothing.
        status_note = f" (exit status {status})" if status is not None else ""
        super().__init__(f"Tesseract failed on {where}{status_note}: {stderr_tail or 'no message'}")


class TesseractTimeout(TesseractFailed):
    """Tesseract ran longer than the allowed number of seconds and was killed."""

    def __init__(self, seconds: float, image: str = "") -> None:
        self.seconds = seconds
        super().__init__(None, f"killed after {seconds:g} s", image)
        where = image or "the image"
        # Replace the generic message: say what to do about it.
        self.args = (
            f"Tesseract took longer than {seconds:g} s on {where} and was killed; "
            "raise OcrSettings.timeout or check the image size",
        )


class UnreadableImage(TesseractFailed):
    """The image cannot be decoded: cut short, damaged, or not an image; `reason` says what the decoder said.

    The same error whichever way the page went: the warm engine (Pillow and Leptonica in its
    process) or the command (Leptonica's `pixRead` errors on its stderr).

    >>> str(UnreadableImage("image file is truncated (31 bytes not processed)", "scan.jpg"))
    'scan.jpg: the image cannot be read (image file is truncated (31 bytes not processed))'
    """

    def __init__(self, reason: str, image: str = "") -> None:
        self.reason = reason
        super().__init__(None, reason, image)
        self.args = (f"{image or 'the image'}: the image cannot be read ({reason})",)


def fatal_note(error_log: Iterable[Any]) -> str:
    """libxml2's first fatal error in a parser's error log, to say why a file gave nothing.

    For example " (line 3: Excessive depth in document: 256)"; empty when there is none.
    Shared by the hOCR and ALTO parsers; takes the log as given, so no lxml import here.
    """
    fatal = [entry for entry in error_log if entry.level_name == "FATAL"]
    return f" (line {fatal[0].line}: {fatal[0].message})" if fatal else ""
