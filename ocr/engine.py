"""A warm Tesseract per worker process: the models loaded once, the pages fed to it (#21).

`ocr_page(image, settings)` gives the hOCR `ocr.tesseract.ocr_image` gives, from a Tesseract
engine (tesserocr, built against the system's libtesseract) that a child process of this one
keeps loaded between pages. The child is ours to kill: a page that runs past `settings.timeout`
kills it and the next page starts a fresh one, and a child that dies (killed, crashed) is
replaced and the page tried once more, so a hung or crashed engine costs one page, never the
worker. Where tesserocr cannot load, or carries another Tesseract than the `tesseract` command
(whose version is in every OCR cache key), pages go to the command instead, with a one-line
notice. The child is started as `python -m ocr.engine`, never forked: Dask's worker processes
are daemons, which may not fork children of their own.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing.util
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ocr.errors import TesseractFailed, TesseractTimeout, UnreadableImage
from ocr.model import OcrSettings
from ocr.resolution import open_image, scaled_page
from ocr.tesseract import choice_variables, command_line_heights, compact_choices, ocr_image, tesseract_version

log = logging.getLogger("ocr.engine")

T = TypeVar("T")

#: Engines (one per model and settings) a child keeps loaded; a book uses one.
KEPT_ENGINES = 2
#: Seconds a child may take to start and load tesserocr before it counts as not loading.
START_TIMEOUT = 60.0

_HEADER = struct.Struct("<Q")
# TessHOcrRenderer's document around GetHOCRText's page (tesseract/src/api/hocrrenderer.cpp, 5.x),
# so an engine's hOCR reads like the command's.
_HOCR_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n <head>\n  <title></title>\n'
    '  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
    "  <meta name='ocr-system' content='{version}' />\n"
    "  <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>\n"
    " </head>\n <body>\n"
)
_HOCR_FOOT = " </body>\n</html>\n"


def engine_settings(settings: OcrSettings) -> dict[str, str] | None:
    """The Tesseract variables `settings.extra` sets, or None when it holds what an engine cannot take.

    `extra` holds command-line arguments: `-c name=value` and `--dpi N` have an engine's
    equal; anything else (a config file's name) keeps those settings on the command.

    >>> engine_settings(OcrSettings(extra=("-c", "preserve_interword_spaces=1", "--dpi", "300")))
    {'preserve_interword_spaces': '1', 'user_defined_dpi': '300'}
    >>> engine_settings(OcrSettings(extra=("hocr",))) is None
    True
    """
    variables: dict[str, str] = {}
    extra = list(settings.extra)
    while extra:
        flag = extra.pop(0)
        if flag == "-c" and extra and "=" in extra[0]:
            name, _, value = extra.pop(0).partition("=")
            variables[name] = value
        elif flag == "--dpi" and extra:
            variables["user_defined_dpi"] = extra.pop(0)
        else:
            return None
    return variables


# -- the child: one engine per settings, fed over its stdin ------------------------------


class _Engines:
    """tesserocr engines by settings, the least recently used closed past KEPT_ENGINES."""

    def __init__(self) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self._engines: OrderedDict[tuple[object, ...], Any] = OrderedDict()
        self.version = tesserocr.tesseract_version().splitlines()[0].strip()

    def _engine(self, settings: OcrSettings, variables: dict[str, str]) -> Any:
        key = (settings.lang, settings.psm, settings.oem, settings.tessdata_dir, tuple(sorted(variables.items())))
        engine = self._engines.get(key)
        if engine is not None:
            self._engines.move_to_end(key)
            return engine
        tesserocr = self._tesserocr
        path = settings.tessdata_dir or tesserocr.get_languages()[0]
        engine = tesserocr.PyTessBaseAPI(
            path=path.rstrip("/") + "/",
            lang=settings.lang,
            psm=settings.psm,
            oem=settings.oem,
        )
        for name, value in variables.items():
            if not engine.SetVariable(name, value):
                engine.End()
                raise ValueError(f"Tesseract has no variable {name!r}")
        self._engines[key] = engine
        while len(self._engines) > KEPT_ENGINES:
            _, old = self._engines.popitem(last=False)
            old.End()
        return engine

    def line_heights(self, settings: OcrSettings, variables: dict[str, str], path: str) -> list[int]:
        """The text lines' heights of an image (a first look, ocr/resolution.py): layout analysis alone."""
        # The same variables as `hocr`, so the look reuses the page's engine rather than loading another.
        engine = self._engine(settings, {**variables, **choice_variables(settings)})
        try:
            image = open_image(path)
        except OSError as exc:
            raise _Unreadable(str(exc) or type(exc).__name__) from exc
        return _layout(engine, image)

    def hocr(self, settings: OcrSettings, variables: dict[str, str], path: str) -> bytes:
        engine = self._engine(settings, {**variables, **choice_variables(settings)})
        scaled = None
        try:
            if settings.text_height:
                page = open_image(path)
                scaled = scaled_page(page, settings.text_height, lambda thumbnail: _layout(engine, thumbnail))
            if scaled is not None:
                engine.SetImage(scaled)
            else:
                engine.SetImageFile(path)  # tesserocr reads the file with Pillow, then hands Leptonica the pixels
        except (OSError, RuntimeError, ValueError) as exc:  # Pillow's and tesserocr's words for a bad image
            raise _Unreadable(str(exc) or type(exc).__name__) from exc
        try:
            page = engine.GetHOCRText(0)
        finally:
            engine.Clear()
        if page is None:
            raise RuntimeError(f"Tesseract read no image from {path}")
        document = _HOCR_HEAD.format(version=self.version) + page + _HOCR_FOOT
        return compact_choices(document.encode("utf-8"))


class _Unreadable(Exception):
    """In the child: the image could not be decoded (answered as ("unreadable", why))."""


def _layout(engine: Any, thumbnail: Any) -> list[int]:
    """The text lines' heights on `thumbnail`, by Tesseract's layout analysis alone (no recognition)."""
    from tesserocr import RIL

    engine.SetImage(thumbnail)
    heights = []
    try:
        lines = engine.AnalyseLayout()
        while lines is not None:
            box = lines.BoundingBox(RIL.TEXTLINE)
            if box is not None:
                heights.append(box[3] - box[1])
            if not lines.Next(RIL.TEXTLINE):
                break
    finally:
        engine.Clear()
    return heights


def _send(stream: Any, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: Any) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def serve() -> None:
    """The child's loop: read (task, settings, variables, path or bytes), answer ("ok", value), ("unreadable", why) or ("error", why).

    The task is "hocr" (the value: hOCR bytes) or "layout" (the text lines' heights, a first look).
    """
    # The replies own the original stdout; anything Tesseract prints goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    # Tesseract's OpenMP threads make it ~5x slower when we already run one process per core;
    # set before libtesseract loads, for this process only.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        engines = _Engines()
    except Exception as exc:  # no tesserocr, or one that cannot load its library
        _send(replies, ("unavailable", f"{type(exc).__name__}: {exc}"))
        return
    _send(replies, ("ready", engines.version))
    while (request := _receive(requests)) is not None:
        task, settings, variables, path, data = request
        run = engines.line_heights if task == "layout" else engines.hocr
        try:
            if data is not None:
                # Leptonica reads a file by its magic bytes, as the command does.
                with tempfile.NamedTemporaryFile(prefix="ocr-", suffix=".img") as handle:
                    handle.write(data)
                    handle.flush()
                    reply: tuple[str, object] = ("ok", run(settings, variables, handle.name))
            else:
                reply = ("ok", run(settings, variables, path))
        except _Unreadable as exc:
            reply = ("unreadable", str(exc))
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        _send(replies, reply)


# -- the parent: one supervised child per process -------------------------------------------


class EngineUnavailable(Exception):
    """tesserocr cannot load here, or carries another Tesseract than the command."""


class _ChildDied(Exception):
    pass


class EngineProcess:
    """A child process with warm engines; killed and replaced when a page hangs it, restarted when it dies.

    Not thread-safe: one page at a time (`ocr_page` gives each thread at work its own).
    """

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self.version: str | None = None
        self.started = 0  # children started, for tests and logs

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None and self._child.poll() is None else None

    def hocr(self, image: str | Path | bytes, settings: OcrSettings, variables: dict[str, str]) -> bytes:
        """hOCR of one image; raises TesseractTimeout past `settings.timeout`, TesseractFailed on errors."""
        value = self._run("hocr", image, settings, variables)
        assert isinstance(value, bytes)
        return value

    def line_heights(self, image: str | Path | bytes, settings: OcrSettings, variables: dict[str, str]) -> list[int]:
        """The heights of an image's text lines by layout analysis alone (a first look, #21); errors as `hocr`."""
        value = self._run("layout", image, settings, variables)
        assert isinstance(value, list)
        return value

    def _run(self, task: str, image: str | Path | bytes, settings: OcrSettings, variables: dict[str, str]) -> object:
        request: tuple[str, OcrSettings, dict[str, str], str | None, bytes | None]
        if isinstance(image, bytes | bytearray | memoryview):
            name, request = "<image bytes>", (task, settings, variables, None, bytes(image))
        else:
            name = os.fspath(image)
            request = (task, settings, variables, name, None)
        for attempt in (1, 2):
            child = self._running()
            try:
                reply = self._ask(child, request, settings.timeout)
            except _ChildDied as exc:
                self.close()
                if attempt == 2:
                    raise TesseractFailed(None, f"the OCR engine died twice on this page ({exc})", name) from None
                log.warning("the OCR engine died (%s); starting another and trying %s again", exc, name)
                continue
            except TimeoutError:
                self.close()  # a hung engine is killed; the next page gets a fresh one
                raise TesseractTimeout(settings.timeout, name) from None
            status, value = reply
            if status == "unreadable":
                raise UnreadableImage(str(value), name)
            if status != "ok":
                raise TesseractFailed(None, str(value), name)
            return value
        raise AssertionError("unreachable")

    def _running(self) -> subprocess.Popen[bytes]:
        if self._child is not None and self._child.poll() is None:
            return self._child
        self.close()
        child = subprocess.Popen(
            [sys.executable, "-m", "ocr.engine"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "OMP_THREAD_LIMIT": "1", "PYTHONPATH": _package_root()},
        )
        self._child = child
        self.started += 1
        try:
            status, value = _deadline_read(child, START_TIMEOUT)
        except (TimeoutError, _ChildDied) as exc:
            self.close()
            raise EngineUnavailable(f"the engine process did not start ({type(exc).__name__})") from None
        if status != "ready":
            self.close()
            raise EngineUnavailable(str(value))
        self.version = str(value)
        return child

    def _ask(self, child: subprocess.Popen[bytes], request: object, timeout: float) -> Any:
        assert child.stdin is not None
        try:
            _send(child.stdin, request)
        except (BrokenPipeError, OSError) as exc:
            raise _ChildDied(f"exit status {child.poll()}: {exc}") from None
        return _deadline_read(child, timeout or None)

    def close(self) -> None:
        """Kill the child, if any (a hung engine cannot be asked to stop)."""
        child, self._child = self._child, None
        if child is None:
            return
        with contextlib.suppress(OSError):
            child.kill()
        with contextlib.suppress(Exception):
            child.wait(5)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _package_root() -> str:
    root = str(Path(__file__).resolve().parents[1])
    current = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{current}" if current else root


def _deadline_read(child: subprocess.Popen[bytes], timeout: float | None) -> Any:
    """One reply from the child within `timeout` seconds (None: no limit); TimeoutError, _ChildDied."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    deadline = None if timeout is None else time.monotonic() + timeout
    buffer = bytearray()
    needed = _HEADER.size
    header_read = False
    while True:
        while len(buffer) < needed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, max(needed - len(buffer), 65536))
            if not chunk:
                raise _ChildDied(f"exit status {child.wait(5)}")
            buffer += chunk
        if header_read:
            return pickle.loads(bytes(buffer[_HEADER.size : needed]))
        (size,) = _HEADER.unpack_from(buffer)
        needed = _HEADER.size + size
        header_read = True


# -- what callers use ------------------------------------------------------------------------

_idle: list[EngineProcess] = []  # engines no thread is using
_engines: list[EngineProcess] = []  # every engine of this process, to stop them
_unavailable: str | None = None  # why this process OCRs with the command instead
_lock = threading.Lock()


def ocr_page(image: str | Path | bytes, settings: OcrSettings) -> bytes:
    """hOCR of one image (a path, or its encoded bytes) from this process's warm engine, else the command.

    Same words and boxes as `ocr.tesseract.ocr_image` (tests/ocr/test_engine.py), the same
    errors, the same `settings.timeout` per page. A process whose threads OCR at once (a Dask
    worker with several threads) gets one engine per thread at work.
    """
    return _on_engine(
        lambda engine, variables: engine.hocr(image, settings, variables), lambda: ocr_image(image, settings), settings
    )


def line_heights(image: str | Path | bytes, settings: OcrSettings) -> list[int]:
    """The heights (pixels) of an image's text lines: a first look at a thumbnail (ocr/resolution.py, #21).

    The warm engine's layout analysis alone (~0.05 CPU s on a 600 px thumbnail); where it cannot
    load, an OCR of the image by the command, whose hOCR's lines give the same kind of heights.
    """
    return _on_engine(
        lambda engine, variables: engine.line_heights(image, settings, variables),
        lambda: command_line_heights(image, settings),
        settings,
    )


def _on_engine(
    task: Callable[[EngineProcess, dict[str, str]], T], command: Callable[[], T], settings: OcrSettings
) -> T:
    """`task` on an idle warm engine of this process (started if none), else `command`: the tesseract command."""
    global _unavailable
    variables = engine_settings(settings)
    if variables is None or _unavailable is not None:
        return command()
    with _lock:
        if _idle:
            engine = _idle.pop()
        else:
            engine = EngineProcess()
            _engines.append(engine)
            # The child is killed and reaped when this process ends: atexit for a plain process,
            # multiprocessing's finalizers for a pool or Dask worker (which skip atexit).
            atexit.register(engine.close)
            multiprocessing.util.Finalize(None, engine.close, exitpriority=10)
    try:
        result = task(engine, variables)
        if engine.version != tesseract_version():
            engine.close()
            raise EngineUnavailable(f"tesserocr has {engine.version}, the command {tesseract_version()}")
        return result
    except EngineUnavailable as exc:
        with _lock:
            if _unavailable is None:
                _unavailable = str(exc)
                log.warning("OCR through the tesseract command (no warm engine: %s)", _unavailable)
    finally:
        with _lock:
            _idle.append(engine)
    return command()


def engine_info() -> dict[str, object]:
    """What this process OCRs with: {'engine': 'tesserocr' | 'command', 'pids': engine processes, 'reason': ...}."""
    if _unavailable is not None:
        return {"engine": "command", "reason": _unavailable}
    return {"engine": "tesserocr", "pids": [engine.pid for engine in _engines if engine.pid is not None]}


def close() -> None:
    """Stop this process's engines (a later page starts another)."""
    with _lock:
        for engine in _engines:
            engine.close()


if __name__ == "__main__":
    serve()
