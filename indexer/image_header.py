"""An image's pixel size from its header, without decoding the pixels.

Pillow reads the header of every format a scan comes in (PNG, JPEG, TIFF, JPEG 2000, WebP) in
a few hundred microseconds and imports in ~70 ms; pyvips, tried where Pillow cannot read the
file (or refuses a header of more pixels than its decompression-bomb limit), costs ~0.3 s of
CPU to import. Reading with Pillow first also keeps libvips, and the threads it starts, out of
the indexing process, whose OCR workers must not inherit them (docs/architecture.md).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path


class UnreadableImage(ValueError):
    """The bytes or file are not an image either reader understands."""


def pixel_size(image: bytes | Path) -> tuple[int, int]:
    """Width and height in pixels of an image file or buffer; raises UnreadableImage.

    >>> import base64
    >>> gif = base64.b64decode("R0lGODlhAwACAIAAAP///wAAACwAAAAAAwACAAACAoRRADs=")
    >>> pixel_size(gif)
    (3, 2)
    """
    try:
        return _pixel_size_pillow(image)
    except UnreadableImage as unread:
        try:
            import pyvips
        except (ImportError, OSError):
            raise unread from None
        try:
            if isinstance(image, Path):
                header = pyvips.Image.new_from_file(str(image), access="sequential")
            else:
                header = pyvips.Image.new_from_buffer(image, "", access="sequential")
        except pyvips.Error as exc:
            raise UnreadableImage(str(exc).strip().splitlines()[0]) from exc
        return int(header.width), int(header.height)


def load_reader() -> None:
    """Import Pillow and its common formats' readers now, not on the first header read.

    Called by the OCR pool's server process (indexer/pool_preload.py), so that every worker
    forked from it starts with them.
    """
    from PIL import Image

    Image.preinit()


def _pixel_size_pillow(image: bytes | Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Only the header is read, so a very large scan is no decompression bomb here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(image if isinstance(image, Path) else io.BytesIO(image)) as opened:
                width, height = opened.size
                return int(width), int(height)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(str(exc)) from exc
