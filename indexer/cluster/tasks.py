"""What runs on a Dask worker for `index-manifest --cluster`: plain functions of their arguments.

A canvas's OCR is up to three tasks, so that the image stays on the worker that read it
and the client, which keeps the OCR cache, decides whether Tesseract runs at all:

    image = fetch_image(ref, ...)        the worker downloads it (or reads a shared path; with
                                         --text-height, a first look asks the service its size), or
    image = hold_image(LoadedImage(...)) the client sent a folder's file as bytes
    key, source = cache_key(image, settings)   the client looks the key up in its cache
    hocr = ocr(image, settings)          only on a miss; the client parses and caches the hOCR
    osd = detect(image, settings)        or, for a page sampled to choose a book's models (#14),
                                         Tesseract's script detection, cached by the client too

The key is computed here, by `ocr.cache.key_for` like a local run, so it names the
Tesseract and the model files (by digest) that will read the page. Errors leave as `CanvasFailed(reason)`:
the packages' own exceptions take several constructor arguments and would not unpickle
on the client, and the reason is all the run's summary shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata

from indexer.canvas_text import check_pixels, read_image, read_looked_image
from indexer.errors import CanvasFailed, IndexerError
from indexer.fetch import Fetcher
from indexer.model import ImageRef
from ocr.cache import key_for
from ocr.engine import ocr_page
from ocr.errors import OcrError
from ocr.model import OcrSettings
from ocr.tesseract import available_languages, detect_script, format_osd, tesseract_version

#: The digest whose key every worker computes for the same settings: equal keys mean
#: equal Tesseract versions and models, so any worker's key is every worker's key.
PROBE_DIGEST = "0" * 64


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """Image bytes ready for Tesseract; `path` is a file this worker reads itself (shared storage)."""

    data: bytes
    source: str  # the URL or path, for error messages
    path: str | None = None
    # The image service sent it at the width a first look chose (#21): Tesseract reads it as it
    # comes, and its key has no text_height, as in a local run (indexer.canvas_text.page_for).
    sized: bool = False


@dataclass(frozen=True, slots=True)
class WorkerProbe:
    """What a worker can do, asked once before the run."""

    host: str
    pid: int
    cpus: int
    package: str  # iiif-search's version there
    tesseract: str | None  # `tesseract --version`'s first line; None when it cannot run
    languages: tuple[str, ...]
    error: str | None = None  # why Tesseract cannot run


# One Fetcher per worker process and read timeout, shared by the worker's threads (httpx is thread-safe).
_fetchers: dict[float, Fetcher] = {}
_fetchers_lock = threading.Lock()


def _fetcher(read_timeout: float) -> Fetcher:
    with _fetchers_lock:
        fetcher = _fetchers.get(read_timeout)
        if fetcher is None:
            fetcher = _fetchers[read_timeout] = Fetcher(read_timeout=read_timeout)
        return fetcher


@contextlib.contextmanager
def _failures() -> Iterator[None]:
    """Any error becomes CanvasFailed with the reason a local run would record."""
    try:
        yield
    except CanvasFailed:
        raise
    except (OcrError, IndexerError) as exc:
        raise CanvasFailed(str(exc) or type(exc).__name__) from None
    except Exception as exc:  # an unexpected library error is still one canvas's failure
        raise CanvasFailed(f"{type(exc).__name__}: {exc}") from None


def fetch_image(
    image: ImageRef, ocr_width: int, fetch_timeout: float, remote_only: bool, settings: OcrSettings | None = None
) -> LoadedImage:
    """The image as `page_for` reads it: IIIF size, timeouts, retries and size cap of a local run.

    With `settings.text_height` and an image service that serves any width, the first look runs
    here and the service is asked for the width it chose (`read_looked_image`), as in a local run.
    """
    with _failures():
        if settings is not None and not image.path:
            looked = read_looked_image(image, _fetcher(fetch_timeout), ocr_width, settings, remote_only)
            if looked is not None:
                return LoadedImage(*looked, sized=True)
        data, source = read_image(image, _fetcher(fetch_timeout), ocr_width, remote_only)
    return LoadedImage(data, source, image.path)


def _as_read(image: LoadedImage, settings: OcrSettings) -> OcrSettings:
    """The settings Tesseract reads `image` with: a page the service sized is not scaled again."""
    return dataclasses.replace(settings, text_height=None) if image.sized else settings


def hold_image(image: LoadedImage) -> LoadedImage:
    """A file the client read and sent: kept here for the tasks that follow (and re-sent if this worker dies)."""
    return image


def cache_key(image: LoadedImage, settings: OcrSettings) -> tuple[str, str]:
    """(OCR cache key, source) of an image, computed as a local run computes it."""
    with _failures():
        return key_for(hashlib.sha256(image.data).hexdigest(), _as_read(image, settings)), image.source


def ocr(image: LoadedImage, settings: OcrSettings) -> bytes:
    """Tesseract's hOCR of the image: the pixel check, then one Tesseract (OMP_THREAD_LIMIT=1)."""
    with _failures():
        check_pixels(image.data, image.source)
        # A file on shared storage goes to Tesseract by path, as in a local run.
        return ocr_page(image.path or image.data, _as_read(image, settings))


def detect(image: LoadedImage, settings: OcrSettings) -> bytes:
    """Tesseract's script detection (OSD) of the image, as the text the OCR cache keeps (`format_osd`)."""
    with _failures():
        check_pixels(image.data, image.source)
        return format_osd(detect_script(image.path or image.data, settings)).encode("utf-8")


def settings_key(settings: OcrSettings) -> str:
    """This worker's cache key of PROBE_DIGEST under `settings`, to compare workers."""
    with _failures():
        return key_for(PROBE_DIGEST, settings)


def probe(tessdata_dir: str | None = None) -> WorkerProbe:
    """Host, cores, Tesseract and its models (in `tessdata_dir`, or Tesseract's own folder) on this worker."""
    try:
        package = metadata.version("iiif-search")
    except metadata.PackageNotFoundError:
        package = "dev"
    found = WorkerProbe(socket.gethostname(), os.getpid(), os.cpu_count() or 1, package, None, ())
    try:
        version = tesseract_version()
        languages = tuple(available_languages(tessdata_dir))
    except OcrError as exc:
        return WorkerProbe(found.host, found.pid, found.cpus, package, None, (), str(exc))
    return WorkerProbe(found.host, found.pid, found.cpus, package, version, languages)
