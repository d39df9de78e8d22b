"""A directory of Tesseract output, keyed by what decides it: image, settings, model files, Tesseract version.

The OCR of a canvas is a pure function of (image bytes, language, engine settings, the
models' files, Tesseract version), so its key can be computed anywhere and the work fanned
out over many processes or machines that share the directory. Entries are hOCR, or the
script detection of an image (`kind="osd"`). Writes are atomic; a damaged file reads as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Literal

from ocr.model import OcrSettings

_KEY = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"[0-9a-fA-F]{32,128}")
# Bump when the key recipe changes, so old entries stop matching instead of being misread.
# 2: the model files' digests joined the key (#14).
_KEY_VERSION = "ocr-cache-2"

#: What an entry holds, and its file suffix: hOCR, or the text of Tesseract's script detection (`--psm 0`).
Kind = Literal["hocr", "osd"]
_INCOMPLETE = {
    "hocr": "not a complete hOCR document (it must end with </html>)",
    "osd": "not a complete OSD output (it must hold a 'Script confidence:' line and end with a newline)",
}


def key_for(image: bytes | str, settings: OcrSettings, version: str | None = None, models: str | None = None) -> str:
    """The cache key (64 hex digits) for an image's bytes, or their hex digest, under these settings.

    `version` defaults to `tesseract_version()`, so upgrading Tesseract OCRs again; `models`
    to `ocr.models.models_digest(settings)`, the SHA-256 of each model file the settings use
    (read on the machine that computes the key), so changing a model OCRs again.

    >>> key_for(b"image bytes", OcrSettings(lang="eng"), version="tesseract 5.3.0", models="eng=ab12")[:12]
    '9804302f837a'
    """
    if isinstance(image, str):
        if not _DIGEST.fullmatch(image):
            raise ValueError("pass the image's bytes or their hex digest, not a path or name")
        digest = image.lower()
    else:
        digest = hashlib.sha256(image).hexdigest()
    if version is None:
        from ocr.tesseract import tesseract_version  # only here: keys for given versions need no Tesseract

        version = tesseract_version()
    if models is None:
        from ocr.models import models_digest  # only here: keys for given digests read no model files

        models = models_digest(settings)
    recipe = "\n".join((_KEY_VERSION, digest, settings.key(), version, models))
    return hashlib.sha256(recipe.encode("utf-8")).hexdigest()


def _complete(data: bytes, kind: Kind) -> bool:
    """Whether bytes are a whole entry: hOCR ends with </html>, OSD output with its 'Script confidence' line."""
    if kind == "osd":
        return b"Script confidence:" in data and data.endswith(b"\n")
    return data.rstrip()[-7:].lower() == b"</html>"


class OcrCache:
    """hOCR bytes stored as `<directory>/ab/abcdef....hocr` by key (OSD output as `....osd`).

    >>> import tempfile
    >>> cache = OcrCache(tempfile.mkdtemp())
    >>> key = OcrCache.key_for(b"image bytes", OcrSettings(), version="tesseract 5.3.0", models="eng=ab12")
    >>> cache.get(key) is None
    True
    >>> _ = cache.put(key, b"<html><body></body></html>")
    >>> cache.get(key)
    b'<html><body></body></html>'
    """

    key_for = staticmethod(key_for)

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path_for(self, key: str, kind: Kind = "hocr") -> Path:
        """Where the entry for a key lives; sharded by its first two digits to keep folders small."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"not a cache key (64 lowercase hex digits): {key!r}")
        return self.directory / key[:2] / f"{key}.{kind}"

    def get(self, key: str, kind: Kind = "hocr") -> bytes | None:
        """The stored entry, or None when absent, empty or cut short (a miss: OCR again and put)."""
        try:
            data = self.path_for(key, kind).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return data if _complete(data, kind) else None

    def put(self, key: str, data: bytes, kind: Kind = "hocr") -> Path:
        """Store an entry under a key, atomically: readers see the old entry or the new, never a part."""
        if not _complete(data, kind):
            raise ValueError(_INCOMPLETE[kind])
        path = self.path_for(key, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The temporary file sits in the same folder so os.replace is a rename on one filesystem.
        # No fsync: after a power cut the entry may be empty or short, and get() reads that as a miss.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, 0o644)  # mkstemp makes it 0600; other workers sharing the cache must read it
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return path
