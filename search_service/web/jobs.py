"""Indexing jobs of the admin API (#22): a queue in the access database, run one at a time.

`POST /api/books` adds a row to `index_jobs`; a runner thread in every server process
claims the oldest queued job, but only while no job runs on the data directory (the
claim is one `BEGIN IMMEDIATE` transaction, so two workers or replicas never both
start one), and runs `indexer.pipeline.index` on it, the same call `index-manifest`
makes, with the same OCR cache. Progress (pages done, pages left, failures) is written
to the row as the pages finish, so any worker or replica answers `GET /api/jobs/{id}`.
A runner writes a heartbeat while its job runs; a job whose heartbeat stops (its
server was killed) is marked failed by the next claim, and the queue goes on.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from indexer.model import Book
from indexer.pipeline import BookReport, CanvasOutcome, IndexOptions, Progress, index
from ocr import tesseract
from search_service.web.auth.store import AccessStore

log = logging.getLogger("search_service.jobs")

#: A running job whose heartbeat is older than this was left by a server that stopped.
STALE_SECONDS = 60.0
HEARTBEAT_SECONDS = 5.0
#: Finished jobs kept for `GET /api/jobs` (the oldest are forgotten).
KEEP_FINISHED = 200
ACTIVE = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS index_jobs (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    source TEXT NOT NULL,
    book_id TEXT,
    access TEXT NOT NULL,  -- '' : the book's own level, else public
    replace_existing INTEGER NOT NULL,
    who TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    heartbeat REAL,
    runner TEXT,
    pages_total INTEGER NOT NULL DEFAULT 0,
    pages_done INTEGER NOT NULL DEFAULT 0,
    failures TEXT NOT NULL DEFAULT '[]',
    books TEXT NOT NULL DEFAULT '[]',
    error TEXT
);
-- One queued or running job per book (or Collection): a second is refused by the database
-- itself, whichever worker or replica it reaches.
CREATE UNIQUE INDEX IF NOT EXISTS one_active_job_per_target ON index_jobs(target)
    WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_by_created ON index_jobs(created);
"""


class JobConflict(Exception):
    """A job for the same book is queued or running."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


def tesseract_available() -> bool:
    """Whether this server can OCR pages: the Tesseract binary is on its PATH."""
    return shutil.which(tesseract.command) is not None


@dataclass(slots=True)
class Job:
    """One row of `index_jobs`, as the API shows it."""

    id: str
    target: str
    source: str
    book_id: str | None
    access: str
    replace: bool
    who: str
    state: str
    created: float
    started: float | None = None
    finished: float | None = None
    pages_total: int = 0
    pages_done: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    books: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Seconds left at the rate of the pages done so far; None before the first page."""
        if self.state != "running" or self.started is None or self.pages_done <= 0:
            return None
        elapsed = max((now or time.time()) - self.started, 0.0)
        left = max(self.pages_total - self.pages_done, 0)
        return round(left * elapsed / self.pages_done, 1)


_COLUMNS = (
    "id, target, source, book_id, access, replace_existing, who, state, created, started, finished, "
    "pages_total, pages_done, failures, books, error"
)


def _job(row: tuple[Any, ...]) -> Job:
    return Job(
        id=row[0],
        target=row[1],
        source=row[2],
        book_id=row[3],
        access=row[4],
        replace=bool(row[5]),
        who=row[6],
        state=row[7],
        created=row[8],
        started=row[9],
        finished=row[10],
        pages_total=row[11],
        pages_done=row[12],
        failures=json.loads(row[13]),
        books=json.loads(row[14]),
        error=row[15],
    )


class JobStore:
    """The `index_jobs` table of one data directory's access database."""

    def __init__(self, store: AccessStore) -> None:
        self.store = store
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        conn = self.store.connect()
        if not self._ready:
            conn.executescript(_SCHEMA)
            self._ready = True
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE: the write lock is taken at once, so a check and the write after it are one step.
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def submit(
        self, *, target: str, source: str, book_id: str | None, access: str, replace_existing: bool, who: str
    ) -> Job:
        """Queue a job; JobConflict when one for `target` is queued or running."""
        job = Job(
            id=secrets.token_urlsafe(9),
            target=target,
            source=source,
            book_id=book_id,
            access=access,
            replace=replace_existing,
            who=who,
            state="queued",
            created=time.time(),
        )
        with self._transaction() as conn:
            running = conn.execute(
                "SELECT id FROM index_jobs WHERE target = ? AND state IN ('queued', 'running')", (target,)
            ).fetchone()
            if running is not None:
                raise JobConflict(str(running[0]))
            conn.execute(
                "INSERT INTO index_jobs (id, target, source, book_id, access, replace_existing, who, state, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                (job.id, target, source, book_id, access, int(replace_existing), who, job.created),
            )
            # Forget the oldest finished jobs beyond KEEP_FINISHED.
            conn.execute(
                "DELETE FROM index_jobs WHERE state NOT IN ('queued', 'running') AND id NOT IN "
                "(SELECT id FROM index_jobs WHERE state NOT IN ('queued', 'running') ORDER BY created DESC LIMIT ?)",
                (KEEP_FINISHED,),
            )
        return job

    def get(self, job_id: str) -> Job | None:
        row = self._connect().execute(f"SELECT {_COLUMNS} FROM index_jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row is not None else None

    def recent(self, limit: int = 50) -> list[Job]:
        """Queued and running jobs first, then the most recent finished ones."""
        rows = (
            self._connect()
            .execute(
                f"SELECT {_COLUMNS} FROM index_jobs ORDER BY state IN ('queued', 'running') DESC, created DESC LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [_job(row) for row in rows]

    def active_for(self, target: str) -> Job | None:
        row = (
            self._connect()
            .execute(
                f"SELECT {_COLUMNS} FROM index_jobs WHERE target = ? AND state IN ('queued', 'running')", (target,)
            )
            .fetchone()
        )
        return _job(row) if row is not None else None

    def claim(self, runner: str, now: float | None = None) -> Job | None:
        """Start the oldest queued job, unless one runs on this data directory; None if none was started."""
        now = now or time.time()
        with self._transaction() as conn:
            conn.execute(
                "UPDATE index_jobs SET state = 'failed', finished = ?, error = "
                "'the server running this job stopped before it finished; submit it again' "
                "WHERE state = 'running' AND heartbeat < ?",
                (now, now - STALE_SECONDS),
            )
            if conn.execute("SELECT 1 FROM index_jobs WHERE state = 'running'").fetchone() is not None:
                return None  # one job at a time: Whoosh has one writer, and the cores are the searches' too
            row = conn.execute("SELECT id FROM index_jobs WHERE state = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE index_jobs SET state = 'running', started = ?, heartbeat = ?, runner = ? WHERE id = ?",
                (now, now, runner, row[0]),
            )
        return self.get(str(row[0]))

    def heartbeat(self, job_id: str) -> None:
        self._connect().execute("UPDATE index_jobs SET heartbeat = ? WHERE id = ?", (time.time(), job_id))

    def progress(self, job: Job) -> None:
        self._connect().execute(
            "UPDATE index_jobs SET pages_total = ?, pages_done = ?, failures = ?, books = ?, heartbeat = ? "
            "WHERE id = ?",
            (job.pages_total, job.pages_done, json.dumps(job.failures), json.dumps(job.books), time.time(), job.id),
        )

    def finish(self, job: Job, state: str, error: str | None = None) -> None:
        self._connect().execute(
            "UPDATE index_jobs SET state = ?, finished = ?, error = ?, pages_total = ?, pages_done = ?, "
            "failures = ?, books = ? WHERE id = ?",
            (
                state,
                time.time(),
                error,
                job.pages_total,
                job.pages_done,
                json.dumps(job.failures),
                json.dumps(job.books),
                job.id,
            ),
        )


class JobProgress(Progress):
    """The pipeline's progress events, written to the job's row for every worker and replica to read."""

    def __init__(self, jobs: JobStore, job: Job) -> None:
        self.jobs = jobs
        self.job = job
        self._book = ""
        self._last_write = 0.0

    def book_started(self, book: Book, total: int) -> None:
        self._book = book.id
        self.job.pages_total += total
        self._write(force=True)

    def canvas_done(self, outcome: CanvasOutcome) -> None:
        self.job.pages_done += 1
        if outcome.error:
            self.job.failures.append(
                {"book": self._book, "canvas": outcome.index, "label": outcome.label, "reason": outcome.error}
            )
        self._write(force=outcome.error is not None)

    def book_finished(self, report: BookReport) -> None:
        self.job.books.append(
            {"id": report.id or None, "source": report.source, "committed": report.committed, "error": report.error}
        )
        self._write(force=True)

    def _write(self, force: bool) -> None:
        # A 1,000-page book from the OCR cache finishes pages by the hundred a second: not a write each.
        now = time.monotonic()
        if force or now - self._last_write >= 0.2:
            self.jobs.progress(self.job)
            self._last_write = now


def outcome_state(reports: list[BookReport]) -> tuple[str, str | None]:
    """done (everything indexed), partial (some pages or books failed) or failed (nothing written)."""
    errors = [f"{r.id or r.source}: {r.error}" for r in reports if r.error]
    if not reports or not any(r.committed for r in reports):
        return "failed", "; ".join(errors) or "nothing was indexed"
    if errors or any(r.failed for r in reports):
        return "partial", "; ".join(errors) or None
    return "done", None


class JobRunner:
    """The thread that runs this process's share of the queue: one job at a time per data directory.

    `before_run(job)` is asked just before a job starts and may refuse it with a reason
    (the book appeared meanwhile and `replace` was not asked).
    """

    def __init__(
        self,
        jobs: JobStore,
        options: IndexOptions,
        before_run: Callable[[Job], str | None] = lambda job: None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.jobs = jobs
        self.options = options
        self.before_run = before_run
        self.poll_seconds = poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="index-jobs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """A job was queued here: look now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        failing = False
        while not self._stopping.is_set():
            job = None
            # No access database yet: nothing was ever queued (and a read-only data directory, a
            # replica's, gets no file made by polling it).
            if self.jobs.store.path.exists():
                try:
                    job = self.jobs.claim(self.name)
                    failing = False
                except Exception:  # a locked or unreadable database: said once, tried again at each poll
                    if not failing:
                        log.exception("could not read the job queue")
                    failing = True
            if job is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self.run(job)

    def run(self, job: Job) -> None:
        """Run one claimed job to its end; never raises (the queue must go on)."""
        log.info("job %s started: %s", job.id, job.source)
        refused = self.before_run(job)
        if refused:
            self.jobs.finish(job, "failed", refused)
            return
        outcome: dict[str, Any] = {}
        worker = threading.Thread(target=self._index, args=(job, outcome), name=f"index-job-{job.id}", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(HEARTBEAT_SECONDS)
            if worker.is_alive():
                self.jobs.heartbeat(job.id)  # a long page (Tesseract's timeout is minutes) is not a dead server
        state, error = outcome.get("state", ("failed", "the job stopped without a result"))
        self.jobs.finish(job, state, error)
        log.info("job %s %s%s", job.id, state, f": {error}" if error else "")

    def _index(self, job: Job, outcome: dict[str, Any]) -> None:
        try:
            reports = index([job.source], self.options_for(job), JobProgress(self.jobs, job))
            outcome["state"] = outcome_state(reports)
        except Exception as exc:  # the pipeline's own errors and any other: the job fails, the server lives
            log.exception("job %s failed", job.id)
            outcome["state"] = ("failed", f"{type(exc).__name__}: {exc}")

    def options_for(self, job: Job) -> IndexOptions:
        # No access asked: the book keeps its level, or is public (index-manifest without --access).
        return replace(self.options, book_id=job.book_id, access=job.access or None)


def index_options(data_dir: Path, workers: int) -> IndexOptions:
    """index-manifest's defaults on this data directory (the same OCR cache), with the server's worker count."""
    return IndexOptions(data_dir=data_dir, workers=workers)
