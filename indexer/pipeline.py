"""index(sources, options) -> reports: read each source, get every canvas's text, commit each book.

Canvases run in a pool of worker processes (one Tesseract each), or with
`options.cluster` as tasks on a Dask cluster (indexer/cluster/), while this process
keeps the manifests, the OCR cache, parsing and the one index writer. A canvas that
fails is recorded and the rest carry on; the book is then committed in one Whoosh
commit, keeping the previously indexed text of any canvas that failed this time,
so a flaky run never loses what was there. An interrupted run resumes from the
OCR cache without OCRing finished pages again.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer import paths
from indexer.canvas_text import CanvasText, OcrMode, Origin, needs_tesseract, page_for, text_of_hocr
from indexer.errors import FetchError, IndexerError, SourceError
from indexer.fetch import Fetcher
from indexer.index.library import Library
from indexer.index.records import BookRecord, PageRecord
from indexer.index.store import Store
from indexer.model import Book, Canvas
from indexer.model_choice import ChoiceInputs, ModelChoice, choose_model
from indexer.page_record import AlternativePolicy, page_record
from indexer.shards import claim, shard_of
from indexer.sources import read_source
from ocr.cache import OcrCache
from ocr.errors import OcrError
from ocr.model import OcrSettings

if TYPE_CHECKING:  # the cluster module needs the optional `cluster` extra: imported only with --cluster
    from indexer.cluster.client import Cluster

log = logging.getLogger("indexer")


#: Tesseract's passes for the LSTM's choices that `index-manifest` asks (`lstm_choice_iterations`):
#: on the test books 2 find what Tesseract's own 5 find, for 3-6% less recognition CPU, and 1 loses
#: Kant's *gedankenlosen* (docs/search-quality.md, docs/benchmarks.md, #21).
CHOICE_ITERATIONS = 2


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """Everything `index-manifest` can be told, with the defaults of its options."""

    data_dir: Path
    lang: str | None = None  # None: per book, from its language and script (indexer/model_choice.py)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    ocr: OcrMode = "auto"
    ocr_width: int = 2400  # pixels wide asked of a IIIF image service; ~300 dpi for a book page
    # Scale each page so its text lines are about this many pixels tall before OCR (ocr/resolution.py,
    # #21); None: every page at the size it comes in.
    text_height: int | None = None
    timeout: float = 300.0  # seconds of Tesseract per page
    psm: int = 3
    book_id: str | None = None
    wait: float = 300.0  # seconds to wait for another job's write lock
    fetch_timeout: float = 60.0  # seconds a download may stall before it is retried (then failed)
    tessdata_dir: Path | None = None  # Tesseract's models; None: its own folder
    cluster: str | None = None  # a Dask scheduler's address: OCR there instead of in `workers` processes
    cluster_timeout: float = 60.0  # seconds to wait for the scheduler and its first worker
    shared_files: bool = False  # with `cluster`: workers read a folder's files at their paths themselves
    # Shard data directories in their order (#20): each book goes to shards[shard_of(id)], and
    # `data_dir` only holds the OCR cache. Empty: one index in `data_dir`.
    shards: tuple[Path, ...] = ()
    only_shard: int | None = None  # with `shards`: index only the books of this position (one job per shard)
    alternatives: AlternativePolicy = field(default_factory=AlternativePolicy)  # which alternative readings (#21)
    # Ask Tesseract for its choices (#21): off, pages are cached without them (2-8% less CPU).
    choices: bool = True
    choice_iterations: int = CHOICE_ITERATIONS  # Tesseract's passes for those choices (OcrSettings)
    # Access level of the books indexed (#22, paths.ACCESS_LEVELS); None: a book keeps its own, a new one is public.
    access: str | None = None


@dataclass(slots=True)
class CanvasOutcome:
    """What became of one canvas: its record, or why it has none."""

    index: int
    label: str
    origin: Origin | None = None
    words: int = 0
    error: str | None = None
    record: PageRecord | None = None


@dataclass(slots=True)
class BookReport:
    """The summary of one book (or of a source that yielded none, with `error`)."""

    id: str
    label: str
    source: str
    canvases: int = 0
    ocr: int = 0
    cached: int = 0
    existing: int = 0
    kept: int = 0  # failed now, previous text kept
    words: int = 0
    workers: int = 0  # local Tesseract processes, or the Dask workers connected at the end of the book
    failed: list[dict[str, object]] = field(default_factory=list)
    lang: str = ""  # the Tesseract models the book was OCR'd with
    script: str | None = None  # the script detected on its sampled pages, if asked
    lang_reason: str = ""  # why those models: --lang, the manifest's language, the script
    error: str | None = None
    seconds: float = 0.0
    committed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class Progress:
    """Receives progress events; the CLI gives a bar or log lines, tests give nothing."""

    def book_started(self, book: Book, total: int) -> None:
        pass

    def canvas_done(self, outcome: CanvasOutcome) -> None:
        pass

    def workers_changed(self, workers: int) -> None:
        """The number of Dask workers changed (with --cluster; also said once at each book's start)."""

    def book_finished(self, report: BookReport) -> None:
        pass


# -- worker side ----------------------------------------------------------------

# (cache dir, fetch timeout) -> this process's Fetcher and OCR cache. Keyed, because with
# --workers 1 the jobs run in the calling process, which may index into several data
# directories one after another: each run must use its own cache and timeouts.
_worker: tuple[tuple[str, float], Fetcher, OcrCache] | None = None


def _pool_context() -> multiprocessing.context.BaseContext:
    """How OCR workers start: forked from a fresh server process, else spawned; never forked from here.

    This process may have run libvips and threads by the time the pool starts, and a worker
    forked from it inherits their locks as they were; one held then is never released (a
    worker hung on its first pyvips call). The forkserver is a new process that only imports
    our modules (the command's and this one), once: each worker forked from it starts warm,
    where a spawned worker spends ~0.9 s of CPU importing them again. It also loads what a
    worker's first page needs (indexer/pool_preload.py).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__, "indexer.pool_preload"])
    return context


def _init_worker(cache_dir: str, fetch_timeout: float = 60.0) -> None:
    global _worker
    if _worker is not None:
        _worker[1].close()
    _worker = ((cache_dir, fetch_timeout), Fetcher(read_timeout=fetch_timeout), OcrCache(Path(cache_dir)))


def _canvas_job(
    book_id: str,
    canvas: Canvas,
    mode: OcrMode,
    settings: OcrSettings,
    ocr_width: int,
    cache_dir: str,
    fetch_timeout: float = 60.0,
    remote_only: bool = False,
    policy: AlternativePolicy | None = None,
) -> CanvasOutcome:
    """Text of one canvas as a PageRecord; never raises, so one page cannot stop a book."""
    if _worker is None or _worker[0] != (cache_dir, fetch_timeout):
        _init_worker(cache_dir, fetch_timeout)
    assert _worker is not None
    _, fetcher, cache = _worker
    return _outcome(
        book_id,
        canvas,
        lambda: page_for(
            canvas,
            mode=mode,
            settings=settings,
            fetcher=fetcher,
            cache=cache,
            ocr_width=ocr_width,
            remote_only=remote_only,
        ),
        policy,
    )


def _outcome(
    book_id: str, canvas: Canvas, text_of: Callable[[], CanvasText], policy: AlternativePolicy | None = None
) -> CanvasOutcome:
    """The record of `text_of()`, or the reason it failed; never raises, so one page cannot stop a book."""
    outcome = CanvasOutcome(canvas.index, canvas.label)
    try:
        text = text_of()
        outcome.record = page_record(book_id, canvas, text.page, policy)
        outcome.origin = text.origin
        outcome.words = len(outcome.record.texts)
    except (OcrError, IndexerError) as exc:  # CanvasFailed is an IndexerError too
        outcome.error = str(exc) or type(exc).__name__
    except Exception as exc:  # an unexpected library error is still one canvas's failure
        log.debug("canvas %s failed", canvas.id, exc_info=True)
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


# -- driver side ------------------------------------------------------------------


def _model_choice(book: Book, options: IndexOptions, fetcher: Fetcher, cluster: Cluster | None = None) -> ModelChoice:
    """The book's models, chosen once for all its canvases (#14); with a cluster, from its workers' models and Tesseract."""
    cache = OcrCache(paths.ocr_cache_dir(options.data_dir))
    inputs = ChoiceInputs(
        fetcher=fetcher,
        cache=cache,
        mode=options.ocr,
        tessdata_dir=_tessdata(options),
        ocr_width=options.ocr_width,
        timeout=options.timeout,
        remote_only=_remote_only(book),
        workers=options.workers,
    )
    if cluster is not None:
        # The models the workers have, and the sampled pages read there: no Tesseract needed here.
        detect = functools.partial(
            cluster.detect_scripts,
            book.id,
            cache=cache,
            ocr_width=options.ocr_width,
            fetch_timeout=options.fetch_timeout,
            remote_only=_remote_only(book),
            shared_files=options.shared_files,
        )
        inputs = dataclasses.replace(inputs, installed=cluster.languages(), detect=detect)
    return choose_model(book, options.lang, inputs)


def _tessdata(options: IndexOptions) -> str | None:
    return str(options.tessdata_dir) if options.tessdata_dir is not None else None


def _remote_only(book: Book) -> bool:
    # A manifest from the web may link only web resources, never this machine's files.
    return book.source.lower().startswith(("http://", "https://"))


def _job_args(book: Book, canvas: Canvas, options: IndexOptions, settings: OcrSettings) -> tuple[Any, ...]:
    """`_canvas_job`'s arguments for one canvas: plain values a worker process can be sent."""
    return (
        book.id,
        canvas,
        options.ocr,
        settings,
        options.ocr_width,
        str(paths.ocr_cache_dir(options.data_dir)),
        options.fetch_timeout,
        _remote_only(book),
        options.alternatives,
    )


def _run_canvases(
    book: Book, options: IndexOptions, settings: OcrSettings, pool: ProcessPoolExecutor | None
) -> Iterator[CanvasOutcome]:
    args = [_job_args(book, c, options, settings) for c in book.canvases]
    if pool is None:
        for job in args:
            yield _canvas_job(*job)
        return
    # Keep a bounded number of canvases in flight so a 10,000-page book does not queue everything.
    pending: set[Future[CanvasOutcome]] = set()
    queue = iter(args)
    limit = max(2, options.workers * 2)
    try:
        while True:
            while len(pending) < limit:
                next_job = next(queue, None)
                if next_job is None:
                    break
                pending.add(pool.submit(_canvas_job, *next_job))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        for future in pending:
            future.cancel()


def first_image(book: Book) -> dict[str, Any] | None:
    """The first canvas's painting image as BookRecord keeps it: the ImageRef's fields that are set.

    >>> from indexer.model import ImageRef
    >>> canvas = Canvas("c0", 0, "p. 1", 100, 150, ImageRef(service="https://img/x", service_version=3))
    >>> first_image(Book("b", "B", "m", 3, (canvas,), "m", manifest={}))
    {'service': 'https://img/x', 'service_version': 3}
    """
    for canvas in book.canvases:
        if canvas.image is not None:
            return canvas.image.public_fields()
    return None


def _cluster_canvases(
    book: Book, options: IndexOptions, settings: OcrSettings, cluster: Cluster, progress: Progress
) -> Iterator[CanvasOutcome]:
    """Tesseract's pages on the cluster; linked OCR (and canvases that cannot be read) here, as a local run would."""
    here = [c for c in book.canvases if not needs_tesseract(c, options.ocr)]
    for canvas in here:
        yield _canvas_job(*_job_args(book, canvas, options, settings))
    workers = cluster.workers()
    progress.workers_changed(workers)
    for text in cluster.ocr(
        book.id,
        [c for c in book.canvases if needs_tesseract(c, options.ocr)],
        settings,
        OcrCache(paths.ocr_cache_dir(options.data_dir)),
        ocr_width=options.ocr_width,
        fetch_timeout=options.fetch_timeout,
        remote_only=_remote_only(book),
        shared_files=options.shared_files,
    ):
        if text.hocr is not None and text.origin is not None:
            text_of = functools.partial(text_of_hocr, text.hocr, text.source, text.origin)
            yield _outcome(book.id, text.canvas, text_of, options.alternatives)
        else:
            yield CanvasOutcome(text.canvas.index, text.canvas.label, error=text.error)
        if cluster.workers() != workers:
            workers = cluster.workers()
            progress.workers_changed(workers)


def index_book(
    book: Book,
    store: Store,
    options: IndexOptions,
    progress: Progress,
    pool: ProcessPoolExecutor | None,
    fetcher: Fetcher,
    cluster: Cluster | None = None,
) -> BookReport:
    """OCR or read every canvas of `book` and commit it; the report says what happened.

    `fetcher` fetches the few pages whose script decides the book's models; canvases use their
    worker's own. With a `cluster`, the script is detected and the pages OCR'd there, and
    ClusterLost passes through before anything of the book is written.
    """
    started = time.monotonic()
    report = BookReport(id=book.id, label=book.label, source=book.source, canvases=len(book.canvases))
    progress.book_started(book, len(book.canvases))
    choice = _model_choice(book, options, fetcher, cluster)
    report.lang, report.script, report.lang_reason = choice.lang, choice.script, choice.reason
    settings = OcrSettings(
        lang=choice.lang,
        psm=options.psm,
        timeout=options.timeout,
        tessdata_dir=_tessdata(options),
        choices=options.choices,
        choice_iterations=options.choice_iterations,
        text_height=options.text_height,
    )
    records: dict[int, PageRecord] = {}
    failures: dict[int, CanvasOutcome] = {}
    outcomes = (
        _cluster_canvases(book, options, settings, cluster, progress)
        if cluster is not None
        else _run_canvases(book, options, settings, pool)
    )
    for outcome in outcomes:
        if outcome.record is not None:
            records[outcome.index] = outcome.record
            report.words += outcome.words
            if outcome.origin == "ocr":
                report.ocr += 1
            elif outcome.origin == "cache":
                report.cached += 1
            else:
                report.existing += 1
        else:
            failures[outcome.index] = outcome
        progress.canvas_done(outcome)
    previous = store.snapshot()
    for index, outcome in sorted(failures.items()):
        report.failed.append({"canvas": index, "label": outcome.label, "reason": outcome.error})
        old = previous.page_of(book.id, index)
        if old is not None and old.canvas_id == _canvas_id(book, index):
            records[index] = old
            report.kept += 1
    if not records:
        report.error = "no canvas could be read; nothing was written"
    else:
        record = BookRecord(
            id=book.id,
            label=book.label,
            manifest_id=book.manifest_id,
            version=book.version,
            source=book.source,
            manifest=book.manifest,
            canvas_count=len(book.canvases),
            page_count=len(records),
            word_count=sum(len(r.words) for r in records.values()),
            language=settings.lang,
            images=dict(book.images),
            indexed_at=time.time(),
            first_image=first_image(book),
        )
        store.replace_book(record, (records[i] for i in sorted(records)), wait=options.wait)
        report.committed = True
    report.workers = cluster.workers() if cluster is not None else (options.workers if pool is not None else 1)
    report.seconds = round(time.monotonic() - started, 3)
    progress.book_finished(report)
    return report


def _canvas_id(book: Book, index: int) -> str | None:
    for canvas in book.canvases:
        if canvas.index == index:
            return canvas.id
    return None


def index(
    sources: Iterable[str],
    options: IndexOptions,
    progress: Progress | None = None,
    *,
    fetcher_factory: Callable[[], Fetcher] | None = None,
) -> list[BookReport]:
    """Index every book of every source; a bad source is reported and the rest go on.

    `fetcher_factory` makes the Fetcher of manifests and Collections (default: one
    with `options.fetch_timeout`); canvases use their worker's own. With
    `options.cluster`, the cluster is reached and checked before any source is read
    (ClusterUnreachable, ClusterUnfit) and a lost scheduler stops the run (ClusterLost).
    With `options.workers` > 1 the pages are OCR'd in processes forked from a fresh server process
    (or spawned), which imports the calling script again: a script calling this needs
    `if __name__ == "__main__":`.
    """
    progress = progress or Progress()
    if options.shards:
        claim(options.shards)  # ShardMismatch before anything is read when the list is out of order
    libraries = [Library(d) for d in options.shards] if options.shards else [Library(options.data_dir)]
    reports: list[BookReport] = []
    cluster = None
    if options.cluster:
        cluster, lang = _open_cluster(options)
        options = dataclasses.replace(options, lang=lang)  # --lang spelled as the workers have the models
    fetcher = fetcher_factory() if fetcher_factory is not None else Fetcher(read_timeout=options.fetch_timeout)
    pool = None
    if options.workers > 1 and cluster is None:
        pool = ProcessPoolExecutor(
            max_workers=options.workers,
            initializer=_init_worker,
            initargs=(str(paths.ocr_cache_dir(options.data_dir)), options.fetch_timeout),
            mp_context=_pool_context(),
        )
    try:
        for location in sources:

            def member_failed(member: str, error: IndexerError) -> None:
                # One bad manifest of a Collection is reported; its siblings go on.
                reports.append(BookReport(id="", label="", source=member, error=str(error)))
                progress.book_finished(reports[-1])

            before = len(reports)
            skipped = 0
            try:
                for book in read_source(location, fetcher, book_id=options.book_id, on_error=member_failed):
                    position = shard_of(book.id, len(libraries))
                    if options.only_shard is not None and position != options.only_shard:
                        skipped += 1  # another job writes that shard
                        continue
                    library = libraries[position]
                    # A book indexed again keeps its access level unless told otherwise (#22).
                    access = options.access or library.access_of(book.id) or "public"
                    store = library.store(access)
                    reports.append(index_book(book, store, options, progress, pool, fetcher, cluster))
                    if reports[-1].committed:
                        library.remove_elsewhere(book.id, access, wait=options.wait)
                        if len(libraries) > 1:
                            _remove_elsewhere(book.id, libraries, position, options.wait)
            except (SourceError, FetchError) as exc:
                reports.append(BookReport(id="", label="", source=location, error=str(exc)))
                progress.book_finished(reports[-1])
            if len(reports) == before and not skipped:
                # A Collection with no members, or only itself: say so rather than "0 books".
                error = f"{location}: the Collection lists no manifest (repeats and cycles are skipped)"
                reports.append(BookReport(id="", label="", source=location, error=error))
                progress.book_finished(reports[-1])
    finally:
        fetcher.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if cluster is not None:
            cluster.close()
    return reports


def _remove_elsewhere(book_id: str, libraries: list[Library], position: int, wait: float) -> None:
    """Remove `book_id` from the shards other than its own: a copy left where it was before the shards grew."""
    for other, library in enumerate(libraries):
        if other != position and library.access_of(book_id) is not None:
            library.remove_book(book_id, wait=wait)
            log.warning(
                "%s moved to shard %d of %d (removed from shard %d)", book_id, position + 1, len(libraries), other + 1
            )


def _open_cluster(options: IndexOptions) -> tuple[Cluster, str | None]:
    """The connected, checked cluster, and --lang's models as its workers spell them."""
    assert options.cluster is not None
    try:
        from indexer.cluster.client import Cluster
    except ImportError as exc:
        raise IndexerError(
            f"--cluster needs Dask ({exc.name or exc} is missing): pip install 'iiif-search[cluster]'"
        ) from exc
    cluster = Cluster.connect(options.cluster, timeout=options.cluster_timeout)
    try:
        lang = cluster.check(tesseract=options.ocr != "existing", lang=options.lang, tessdata_dir=_tessdata(options))
    except BaseException:
        cluster.close()
        raise
    return cluster, lang
