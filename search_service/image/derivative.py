"""Tiled pyramid TIFF derivatives of source images, so a tile is a region read, not a full decode.

A derivative lives in `derivatives_dir(data_dir)` under a name made from the
source's resolved path, byte size and modification time: a changed source gets
a new name (and the stale file is removed), so a derivative is never out of
date. It is written to a temporary file and renamed into place, under a file
lock, so concurrent first requests (threads or worker processes) build it once
and nobody reads half a file. Pixels are `render`'s business; this module only
decides names, locking and the decompression-bomb check.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import uuid
from pathlib import Path

from indexer.paths import derivatives_dir
from search_service.errors import SizeAboveLimits
from search_service.image import render
from search_service.image.plan import TILE_SIZE
from search_service.image.render import SourceInfo
from search_service.settings import Settings

# Bump when write_pyramid's output changes, so every old derivative is rebuilt.
DERIVATIVE_VERSION = 1
DEFAULT_MAX_SOURCE_PIXELS: int = Settings.model_fields["max_source_pixels"].default


def derivative_path(source: Path, data_dir: Path) -> Path:
    """Where the derivative of `source` in its current state lives (it may not exist yet).

    >>> import tempfile, pyvips
    >>> scan = Path(tempfile.mkdtemp()) / "scan.png"
    >>> pyvips.Image.black(600, 400).write_to_file(str(scan))
    >>> derivative_path(scan, Path("data")).parent.parent
    PosixPath('data/derivatives')
    """
    stat = source.stat()
    source_key = _source_key(source)
    stamp = hashlib.blake2b(
        f"{stat.st_size}:{stat.st_mtime_ns}:{DERIVATIVE_VERSION}:{TILE_SIZE}".encode(), digest_size=6
    ).hexdigest()
    return derivatives_dir(data_dir) / source_key[:2] / f"{source_key}-{stamp}.tif"


def source_info(source: Path, max_pixels: int = DEFAULT_MAX_SOURCE_PIXELS) -> SourceInfo:
    """Width, height and colour of `source` from its header, refusing decompression bombs.

    Raises SizeAboveLimits when width * height is above `max_pixels`: such a file
    (a 30000 x 30000 PNG of one colour is a few hundred kilobytes) is never decoded.
    """
    stat = source.stat()
    info = _header(source, stat.st_size, stat.st_mtime_ns)
    if info.width * info.height > max_pixels:
        raise SizeAboveLimits(
            f"{source.stem} is {info.width}x{info.height} pixels, above this server's limit of "
            f"{max_pixels} source pixels; it is not decoded"
        )
    return info


def build_derivative(source: Path, data_dir: Path, *, max_pixels: int = DEFAULT_MAX_SOURCE_PIXELS) -> Path:
    """Return the pyramid TIFF of `source`, building it first if it is missing or stale.

    Safe to call from several threads or processes at once: one builds, the
    others wait for it and reuse the result. Raises SizeAboveLimits for a
    decompression bomb and UnknownImage for a file libvips cannot decode.

    >>> import tempfile, pyvips
    >>> folder = Path(tempfile.mkdtemp())
    >>> pyvips.Image.black(600, 400).write_to_file(str(folder / "scan.png"))
    >>> pyramid = build_derivative(folder / "scan.png", folder / "data")
    >>> pyramid == derivative_path(folder / "scan.png", folder / "data"), pyramid.suffix
    (True, '.tif')
    """
    dest = derivative_path(source, data_dir)
    if dest.exists():
        return dest
    source_info(source, max_pixels)
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock_path = dest.with_name(dest.name + ".lock")
    with open(lock_path, "a+b") as lock:
        # flock conflicts between separate open() calls, so it serialises threads
        # of this process as well as uvicorn workers.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not dest.exists():
                _write_atomically(source, dest)
                _remove_stale(dest)
        finally:
            # Removing the lock file lets a late waiter lock a new one and build again;
            # it finds `dest` in place first, so at worst it repeats a check.
            lock_path.unlink(missing_ok=True)
            fcntl.flock(lock, fcntl.LOCK_UN)
    return dest


def _write_atomically(source: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        render.write_pyramid(source, tmp, TILE_SIZE)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale(dest: Path) -> None:
    """Remove derivatives of earlier versions of the same source (same path key, other stamp)."""
    source_key = dest.name.split("-", 1)[0]
    for old in dest.parent.glob(f"{source_key}-*.tif"):
        if old != dest:
            # A reader that still has it open keeps its inode until it is done.
            old.unlink(missing_ok=True)


def _source_key(source: Path) -> str:
    return hashlib.blake2b(os.fsencode(source.resolve()), digest_size=10).hexdigest()


@functools.lru_cache(maxsize=4096)
def _header(source: Path, size: int, mtime_ns: int) -> SourceInfo:
    """Header of one state of a file; size and mtime are in the key so a change is re-read."""
    return render.read_header(source)
