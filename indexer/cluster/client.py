"""The index-manifest side of `--cluster`: connect to a Dask scheduler, check its workers, OCR pages there.

`Cluster.connect(address)` fails with a one-line ClusterUnreachable when no scheduler
answers or no worker joins in time; `check()` fails with ClusterUnfit, before anything
is read or written, when the workers lack Tesseract, a language, or our package, and
warns when a worker would run several Tesseracts at once. `ocr()` streams a book's
canvases through the workers (tasks.py), a bounded number in flight, and yields each
page's hOCR (from the client's cache, or fresh) or the reason it failed:

- a worker that dies mid-page: the scheduler runs the page again elsewhere (Dask keeps
  every task's inputs, folder images included, until it is done);
- a page that kills every worker it lands on: after the scheduler's
  `distributed.scheduler.allowed-failures` (default 3) retries it is a failed page, with why;
  the pages that shared those workers lose tries too, so they are run again, one at a
  time, at the end, and fail only if they kill a worker on their own;
- the scheduler lost: ClusterLost, and the caller writes nothing of the book in progress.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal, TypeVar

import dask
from distributed import Client, Future, as_completed
from distributed.comm.addressing import get_address_host_port, parse_address
from distributed.comm.registry import get_backend
from distributed.scheduler import KilledWorker

from indexer.canvas_text import read_image
from indexer.cluster import tasks
from indexer.cluster.tasks import LoadedImage, WorkerProbe
from indexer.errors import CanvasFailed, ClusterLost, ClusterUnfit, ClusterUnreachable
from indexer.fetch import Fetcher
from indexer.model import Canvas
from ocr.cache import Kind, OcrCache
from ocr.errors import MissingModel
from ocr.languages import resolve
from ocr.model import OcrSettings
from ocr.tesseract import ScriptGuess, parse_osd

log = logging.getLogger("indexer")
T = TypeVar("T")

#: Canvases in flight per worker thread: one OCR'ing, one fetched and waiting, so no
#: worker idles while the client decides on the next page (cache look-up, parsing).
IN_FLIGHT_PER_THREAD = 2
#: Seconds between asking the scheduler how many workers it has.
WORKERS_REFRESH = 1.0
#: Tasks that carry a folder's image bytes exceed Dask's 10 MB "large graph" warning
#: for big scans; the bytes are the point (see hold_image), so do not warn.
_GRAPH_WARNING = {"distributed.admin.large-graph-warning-threshold": "4GiB"}
# Higher runs first on a worker: finish a fetched page before fetching the next.
_FOLLOW_UP_PRIORITY = 1

# The Dask client's own logs (reconnect attempts, with tracebacks) would bury the one-line
# errors this module raises; what matters reaches the user as a ClusterError. Dask's
# logging config gives some child loggers levels of their own (distributed.client), so
# each is quietened, and loggers made later inherit CRITICAL from their parent.
for _name in ["distributed", "tornado", *logging.root.manager.loggerDict]:
    if _name.split(".")[0] in ("distributed", "tornado"):
        logging.getLogger(_name).setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class RemoteText:
    """One canvas's hOCR from the cluster (or the cache), or why it has none."""

    canvas: Canvas
    hocr: bytes | None = None
    source: str = ""
    origin: Literal["ocr", "cache"] | None = None
    error: str | None = None


@dataclass(slots=True)
class _Flight:
    """A canvas on its way through the tasks: `future` is the one awaited now."""

    canvas: Canvas
    image: Future[Any]
    future: Future[Any]
    stage: Literal["key", "ocr"] = "key"
    key: str = ""
    source: str = ""


class Cluster:
    """A connection to one Dask scheduler; close() it when done."""

    def __init__(self, client: Client, address: str) -> None:
        self.client = client
        self.address = address
        self._probes: dict[str, WorkerProbe] = {}
        self._threads: dict[str, int] = {}
        self._threads_at = 0.0
        self._settings_checked: set[OcrSettings] = set()
        self._run = uuid.uuid4().hex[:8]
        self._local_files = Fetcher()  # reads a folder's files to send them

    @classmethod
    def connect(cls, address: str, *, timeout: float = 60.0) -> Cluster:
        """Connect, and wait up to `timeout` seconds for the scheduler and for a first worker."""
        try:
            # A malformed address is refused here: a Client that fails on one lingers until exit.
            scheme, _ = parse_address(address)
            get_backend(scheme)
            get_address_host_port(address)
        except ValueError as exc:
            raise ClusterUnreachable(
                f"{address!r} is not a Dask scheduler address ({exc}); give one like tcp://HOST:8786"
            ) from None
        try:
            client = Client(address, timeout=timeout, set_as_default=False, name="index-manifest")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterUnreachable(
                f"cannot reach the Dask scheduler at {address} ({_first_line(exc)}); "
                "is `dask scheduler` running there, and is the address right?"
            ) from None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            _close(client)
            raise ClusterUnreachable(
                f"the Dask scheduler at {address} has no worker after {timeout:g} s ({_first_line(exc)}); start "
                f"some with `dask worker {address} --nthreads 1 --nworkers N`"
            ) from None
        return cls(client, address)

    def close(self) -> None:
        self._local_files.close()
        _close(self.client)

    # -- the workers --------------------------------------------------------------------------

    def check(self, *, tesseract: bool, lang: str | None = None, tessdata_dir: str | None = None) -> str | None:
        """Raise ClusterUnfit when the workers cannot OCR as asked; warn about Tesseracts sharing cores.

        Returns `lang` with each model spelled as the workers have it (as `ocr.languages.resolve`
        spells it for a local run: 'script/Fraktur' may be installed as 'Fraktur'), or None.
        """
        try:
            probes: dict[str, WorkerProbe] = self._call(lambda: self.client.run(tasks.probe, tessdata_dir))
        except (ClusterLost, ClusterUnfit):
            raise
        except Exception as exc:  # e.g. ModuleNotFoundError: the worker cannot unpickle our function
            raise ClusterUnfit(
                f"the workers of {self.address} cannot run iiif-search's tasks ({type(exc).__name__}: "
                f"{_first_line(exc)}); install iiif-search[cluster] on every worker, the same version as here"
            ) from None
        self._probes = probes
        threads = self._worker_threads(refresh=True)
        self._warn_about_threads(probes, threads)
        ours = _package_version()
        others = sorted({p.package for p in probes.values()} - {ours})
        if others:
            log.warning("workers run iiif-search %s, this client %s: install the same version", ", ".join(others), ours)
        if not tesseract:
            return lang
        broken = {address: p.error for address, p in sorted(probes.items()) if p.tesseract is None}
        if broken:
            address, error = next(iter(broken.items()))
            raise ClusterUnfit(
                f"{len(broken)} of {len(probes)} workers of {self.address} cannot run Tesseract "
                f"({address} on {probes[address].host}: {error}); install tesseract-ocr there"
            )
        versions = {p.tesseract for p in probes.values()}
        if len(versions) > 1:
            raise ClusterUnfit(
                f"the workers of {self.address} run different Tesseracts ({', '.join(sorted(map(str, versions)))}); "
                "their OCR would differ page by page: install one version everywhere"
            )
        if not lang:
            return None
        spelled: dict[str, str] = {}
        lacking: dict[str, MissingModel] = {}
        for address, probe in sorted(probes.items()):
            try:
                spelled[address] = resolve(lang, probe.languages)
            except MissingModel as exc:
                lacking[address] = exc
        if lacking:
            address, missing = next(iter(lacking.items()))
            raise ClusterUnfit(
                f"{len(lacking)} of {len(probes)} workers of {self.address} have no Tesseract model for "
                f"{', '.join(missing.names)} ({address} on {probes[address].host}); {missing.hint} there"
            )
        if len(set(spelled.values())) > 1:
            raise ClusterUnfit(
                f"the workers of {self.address} have the models of {lang!r} under different names "
                f"({', '.join(sorted(set(spelled.values())))}): install them the same way everywhere"
            )
        return next(iter(spelled.values()))

    def _warn_about_threads(self, probes: dict[str, WorkerProbe], threads: dict[str, int]) -> None:
        several = {a: n for a, n in sorted(threads.items()) if n > 1}
        if several:
            address, n = next(iter(several.items()))
            log.warning(
                "%d of %d Dask workers run several tasks at once (%s: %d threads), so each would run "
                "Tesseracts in threads that fight over its cores; start workers with "
                "`dask worker %s --nthreads 1 --nworkers N` (N: the machine's cores)",
                len(several),
                len(threads),
                address,
                n,
                self.address,
            )
        per_host: dict[str, int] = {}
        cores: dict[str, int] = {}
        for address, probe in probes.items():
            per_host[probe.host] = per_host.get(probe.host, 0) + threads.get(address, 1)
            cores[probe.host] = probe.cpus
        for host, count in sorted(per_host.items()):
            if count > cores[host]:
                log.warning(
                    "%s runs %d Tesseracts at once on %d cores: they will fight over them", host, count, cores[host]
                )

    def languages(self) -> frozenset[str]:
        """The Tesseract languages every worker has."""
        sets = [frozenset(p.languages) for p in self._probes.values()]
        return frozenset.intersection(*sets) if sets else frozenset()

    def workers(self) -> int:
        """Workers connected now (refreshed at most every WORKERS_REFRESH seconds)."""
        return len(self._worker_threads())

    def _worker_threads(self, refresh: bool = False) -> dict[str, int]:
        now = time.monotonic()
        if refresh or now - self._threads_at >= WORKERS_REFRESH:
            self._threads = self._call(self.client.nthreads)
            self._threads_at = now
        return self._threads

    def _same_key_everywhere(self, settings: OcrSettings) -> None:
        """Every worker must compute the same cache keys, or a page's hOCR could be filed under another's."""
        if settings in self._settings_checked:
            return
        keys: dict[str, str] = self._call(lambda: self.client.run(tasks.settings_key, settings))
        if len(set(keys.values())) > 1:
            raise ClusterUnfit(
                f"the workers of {self.address} differ in Tesseract or its models for {settings.lang!r} "
                "(their OCR cache keys differ); install the same everywhere"
            )
        self._settings_checked.add(settings)

    # -- OCR ----------------------------------------------------------------------------------

    def ocr(
        self,
        book_id: str,
        canvases: Iterable[Canvas],
        settings: OcrSettings,
        cache: OcrCache,
        *,
        ocr_width: int,
        fetch_timeout: float,
        remote_only: bool,
        shared_files: bool = False,
    ) -> Iterator[RemoteText]:
        """hOCR of each canvas's image (all have one), in the order they finish.

        `shared_files`: the workers read a folder's files at their paths themselves;
        otherwise this process reads them and sends the bytes.
        """
        return self._stream(
            book_id, canvases, settings, cache, "hocr", ocr_width, fetch_timeout, remote_only, shared_files
        )

    def detect_scripts(
        self,
        book_id: str,
        canvases: Sequence[Canvas],
        settings: OcrSettings,
        *,
        cache: OcrCache,
        ocr_width: int,
        fetch_timeout: float,
        remote_only: bool,
        shared_files: bool = False,
    ) -> list[ScriptGuess | None]:
        """Tesseract's script detection of each canvas (the pages sampled to choose a book's models, #14).

        Cached like a local run's (`kind="osd"`); a page that fails gives None: no vote.
        """
        guesses: dict[int, ScriptGuess | None] = {}
        for text in self._stream(
            book_id, canvases, settings, cache, "osd", ocr_width, fetch_timeout, remote_only, shared_files
        ):
            if text.hocr is None:
                log.info("%s: script detection on canvas %d failed: %s", book_id, text.canvas.index + 1, text.error)
            guesses[text.canvas.index] = parse_osd(text.hocr.decode("utf-8", "replace")) if text.hocr else None
        return [guesses.get(canvas.index) for canvas in canvases]

    def _stream(
        self,
        book_id: str,
        canvases: Iterable[Canvas],
        settings: OcrSettings,
        cache: OcrCache,
        kind: Kind,
        ocr_width: int,
        fetch_timeout: float,
        remote_only: bool,
        shared_files: bool,
    ) -> Iterator[RemoteText]:
        """Each canvas through fetch (or hold) and key, and on a cache miss Tesseract: hOCR, or OSD for `kind="osd"`."""
        self._same_key_everywhere(settings)
        final, final_name = (tasks.ocr, "iiif-ocr") if kind == "hocr" else (tasks.detect, "iiif-osd")
        queue = iter(canvases)
        flights: dict[Any, _Flight] = {}
        # A worker's death counts against every task it held, queued ones too, so a page in
        # flight beside one that kills workers can run out of tries as well: such pages are
        # run again at the end, one at a time, and fail only if they kill a worker alone.
        suspects: list[Canvas] = []
        alone = False
        finished: as_completed = as_completed(loop=self.client.loop)

        def launch(canvas: Canvas) -> RemoteText | None:
            image = canvas.image
            assert image is not None
            name = f"{book_id} p{canvas.index + 1}"
            if image.path and not shared_files:
                try:
                    data, source = read_image(image, self._local_files, ocr_width)
                except CanvasFailed as exc:
                    return RemoteText(canvas, error=str(exc))
                with dask.config.set(_GRAPH_WARNING):
                    held = self.client.submit(
                        tasks.hold_image, LoadedImage(data, source), key=("iiif-image", name, self._token())
                    )
            else:
                held = self.client.submit(
                    tasks.fetch_image,
                    image,
                    ocr_width,
                    fetch_timeout,
                    remote_only,
                    # OCR looks first where it may ask the size (#21); a script detection takes the page as it is.
                    settings if kind == "hocr" else None,
                    key=("iiif-fetch", name, self._token()),
                )
            future = self.client.submit(
                tasks.cache_key, held, settings, key=("iiif-key", name, self._token()), priority=_FOLLOW_UP_PRIORITY
            )
            flights[future.key] = _Flight(canvas, held, future)
            finished.add(future)
            return None

        def settle(future: Future[Any], flight: _Flight) -> RemoteText | None:
            try:
                result = future.result()
            except CanvasFailed as exc:
                return RemoteText(flight.canvas, error=str(exc))
            except KilledWorker as exc:
                if alone:
                    return RemoteText(flight.canvas, error=_killed_reason(exc))
                suspects.append(flight.canvas)
                return None
            except (CancelledError, OSError, TimeoutError) as exc:
                raise self._lost(exc) from None
            except Exception as exc:
                return RemoteText(flight.canvas, error=f"{type(exc).__name__}: {exc}")
            if flight.stage == "key":
                flight.key, flight.source = result
                hocr = cache.get(flight.key, kind)
                if hocr is not None:
                    return RemoteText(flight.canvas, hocr, flight.source, "cache")
                flight.stage = "ocr"
                name = f"{book_id} p{flight.canvas.index + 1}"
                flight.future = self.client.submit(
                    final,
                    flight.image,
                    settings,
                    key=(final_name, name, self._token()),
                    priority=_FOLLOW_UP_PRIORITY,
                )
                flights[flight.future.key] = flight
                finished.add(flight.future)
                return None
            try:
                cache.put(flight.key, result, kind)
            except (ValueError, OSError) as exc:
                return RemoteText(flight.canvas, error=f"{type(exc).__name__}: {exc}")
            return RemoteText(flight.canvas, result, flight.source, "ocr")

        try:
            while True:
                while len(flights) < (1 if alone else self._window()):
                    canvas = next(queue, None)
                    if canvas is None:
                        break
                    failed = launch(canvas)
                    if failed is not None:
                        yield failed
                if not flights:
                    if alone or not suspects:
                        return
                    log.warning(
                        "%s: %d page(s) were on Dask workers that died; running each again on its own",
                        book_id,
                        len(suspects),
                    )
                    alone, queue = True, iter(suspects)
                    continue
                future = next(finished)
                flight = flights.pop(future.key)
                outcome = settle(future, flight)
                if outcome is not None:
                    yield outcome
        finally:
            # Interrupted (an error, Ctrl-C, the caller stopped): leave no work on the cluster.
            if flights and self.client.status == "running":
                pending = [f for flight in flights.values() for f in (flight.future, flight.image)]
                try:
                    self.client.cancel(pending)
                except Exception as exc:
                    log.debug("could not cancel %d tasks: %s", len(pending), exc)

    def _window(self) -> int:
        return max(2, IN_FLIGHT_PER_THREAD * sum(self._worker_threads().values()))

    def _token(self) -> str:
        return f"{self._run}-{uuid.uuid4().hex[:12]}"

    # -- the scheduler going away -------------------------------------------------------------

    def _call(self, ask: Callable[[], T]) -> T:
        """A request to the scheduler; ClusterLost when it does not answer."""
        try:
            return ask()
        except (CancelledError, OSError, TimeoutError) as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: BaseException) -> ClusterLost:
        detail = _first_line(exc) or type(exc).__name__
        return ClusterLost(
            f"lost the Dask scheduler at {self.address} ({detail}); the book in progress was not written, "
            "the pages OCR'd so far are cached: run the same command again to finish"
        )


def _killed_reason(exc: KilledWorker) -> str:
    tries = exc.args[2] + 1 if len(exc.args) > 2 and isinstance(exc.args[2], int) else "several"
    worker = getattr(exc.args[1], "address", "?") if len(exc.args) > 1 else "?"
    return (
        f"the page killed each Dask worker that ran it ({tries} tries, the last on {worker}): more memory than a "
        "worker has, or a crash in Tesseract or libvips; not tried again"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _close(client: Client) -> None:
    try:
        client.close(timeout=5)
    except Exception as exc:  # closing after the scheduler went away may time out: nothing left to free
        log.debug("closing the Dask client: %s", exc)


def _package_version() -> str:
    try:
        return metadata.version("iiif-search")
    except metadata.PackageNotFoundError:
        return "dev"
