"""The model files a Tesseract run reads, and their digests: the part of the OCR cache key that says which models (#14).

A model is named as Tesseract names it ('deu', 'Fraktur', 'script/Fraktur') and is the file
`<tessdata>/<name>.traineddata`. The cache key covers each file's SHA-256, not its folder: a
changed model (a newer `frk`, UB Mannheim's frak2021 copied over another) OCRs again, while
the same file in another folder or on another machine (a cluster worker) shares the cache.
Only the files of the models a run uses are read, on the machine that runs it.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from ocr.errors import MissingModel
from ocr.languages import install_hint
from ocr.model import OcrSettings

# Page segmentation modes 0 (OSD only) and 1 (auto with OSD) also read the osd model.
_OSD_MODES = (0, 1)


def model_names(settings: OcrSettings) -> list[str]:
    """The models a run with these settings reads, in order: its languages, and `osd` for --psm 0 and 1.

    >>> model_names(OcrSettings(lang="frk+Fraktur")), model_names(OcrSettings(lang="osd", psm=0))
    (['frk', 'Fraktur'], ['osd'])
    """
    names = [name for name in settings.lang.split("+") if name]
    if settings.psm in _OSD_MODES:
        names.append("osd")
    return list(dict.fromkeys(names))


def model_folder(settings: OcrSettings) -> Path:
    """The folder the models are read from: `settings.tessdata_dir`, else the one Tesseract reports."""
    if settings.tessdata_dir:
        return Path(settings.tessdata_dir)
    from ocr.tesseract import tessdata_path  # only here: a given folder needs no Tesseract

    return tessdata_path()


def model_files(settings: OcrSettings) -> list[Path]:
    """The traineddata file of each model the settings use; MissingModel naming those not installed."""
    folder = model_folder(settings)
    names = model_names(settings)
    files = [folder / f"{name}.traineddata" for name in names]
    missing = [name for name, file in zip(names, files, strict=True) if not file.is_file()]
    if missing:
        raise MissingModel(missing, str(folder), install_hint(missing))
    return files


def models_digest(settings: OcrSettings) -> str:
    """'frk=<sha256>;Fraktur=<sha256>': the models a run reads, by content, for the OCR cache key."""
    files = model_files(settings)
    return ";".join(f"{name}={file_digest(file)}" for name, file in zip(model_names(settings), files, strict=True))


def file_digest(path: Path) -> str:
    """SHA-256 of a file, computed once per process for each version of it (path, size, mtime)."""
    status = path.stat()
    return _digest(os.fspath(path.resolve()), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key only: a model replaced in place is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
