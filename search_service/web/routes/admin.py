"""The admin API (#22): add a book from its manifest, watch the job, remove a book.

    POST   /api/books          queue an indexing job (202 + Location of the job)
    GET    /api/jobs           running and recent jobs
    GET    /api/jobs/{id}      one job: pages done and left, failures with reasons, ETA
    DELETE /api/books/{id}     remove a book (204)
    POST   /admin/books        the home page's form (a logged-in reader, CSRF token), 303 back home

Only an authenticated client may call it: an API key (`Authorization: Bearer iiifs_...`,
auth/keys.py) or a logged-in reader (`reader_of`, with "restricted" among its levels).
A reader authenticated by the cookie also sends the CSRF token (a hidden field, or
`X-CSRF-Token`), so that another site cannot post with the reader's cookie. Every call is
logged by `search_service.audit` with who made it and what came of it.

Nothing is queued before the manifest has been fetched and read: bad input changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import State
from starlette.responses import JSONResponse, RedirectResponse

from indexer.canvas_text import needs_tesseract
from indexer.errors import FetchError, SourceError
from indexer.fetch import Fetcher
from indexer.index.library import Library
from indexer.paths import ACCESS_LEVELS
from indexer.sources import read_manifest_v2, read_manifest_v3, slug, validate_book_id
from indexer.sources.book_ids import BOOK_ID_PATTERN
from indexer.sources.sniff import sniff
from search_service.errors import (
    BadRequest,
    CannotOcr,
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    Unauthorized,
    UnknownBook,
    Unprocessable,
)
from search_service.web.auth.keys import ApiKeys, looks_like_key
from search_service.web.auth.reader import Access, Reader, bearer_token, reader_of
from search_service.web.jobs import (
    Job,
    JobConflict,
    JobRunner,
    JobStore,
    index_options,
    tesseract_available,
)
from search_service.web.pages import esc, render_page
from search_service.web.responses import base_url

audit = logging.getLogger("search_service.audit")

#: The challenge of a 401 (RFC 6750 §3): the admin API takes a bearer key.
CHALLENGE = 'Bearer realm="iiif-search admin"'
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: Longest manifest URL accepted.
MAX_URL = 2000
#: The form's body is a URL and a few words: anything bigger is not our form.
MAX_FORM_BYTES = 8192
_STATE_KEY = "iiif_search.admin"


@dataclass(frozen=True, slots=True)
class Admin:
    """Who calls the admin API: `key:NAME` or `user:NAME`, and whether the cookie carried it."""

    who: str
    by_cookie: bool
    session: str | None = None


# -- who is calling -----------------------------------------------------------------------


def csrf_token(access: Access, session: str) -> str:
    """The CSRF token of a login session: only this server (its secret) can make it, only for that session."""
    return hmac.new(access.secret, b"csrf:" + session.encode("ascii", errors="replace"), hashlib.sha256).hexdigest()


def logged_in(reader: Reader) -> bool:
    """A real login (a clickthrough grants public and clickthrough only)."""
    return reader.user is not None and "restricted" in reader.levels


def authenticate(request: Request) -> Admin:
    """The caller, or Unauthorized (401 with its challenge)."""
    bearer = bearer_token(request)
    if bearer is not None and looks_like_key(bearer):
        name = request.app.state.api_keys.check(bearer)
        if name is None:
            raise Unauthorized(
                "the API key is not valid: unknown, removed or mistyped", CHALLENGE + ', error="invalid_token"'
            )
        admin = Admin(f"key:{name}", by_cookie=False)
    else:
        reader = reader_of(request)
        if not logged_in(reader):
            if bearer is not None:
                raise Unauthorized(
                    "the bearer token is not a valid API key or login", CHALLENGE + ', error="invalid_token"'
                )
            raise Unauthorized("an API key (Authorization: Bearer iiifs_...) or a login is needed", CHALLENGE)
        access: Access = request.app.state.access
        by_cookie = bearer is None or access.check(bearer).anonymous
        admin = Admin(f"user:{reader.user}", by_cookie=by_cookie, session=reader.session)
    request.scope[_STATE_KEY] = admin
    return admin


def check_csrf(request: Request, admin: Admin, sent: str | None) -> None:
    """Forbidden unless a cookie-authenticated change carries its session's CSRF token."""
    if not admin.by_cookie or admin.session is None:
        return  # a key or bearer token is never sent by a browser on its own
    expected = csrf_token(request.app.state.access, admin.session)
    if not sent or not hmac.compare_digest(sent.encode("ascii", errors="replace"), expected.encode("ascii")):
        raise Forbidden(f"a change made with the login cookie needs the {CSRF_HEADER} header (or the form's token)")


async def api_admin(request: Request) -> Admin:
    admin = authenticate(request)
    if request.method in ("POST", "DELETE"):
        check_csrf(request, admin, request.headers.get(CSRF_HEADER))
    return admin


AdminDep = Annotated[Admin, Depends(api_admin)]


class AuditedRoute(APIRoute):
    """Logs every call of the admin API: who, method, path, and the status it got (errors included)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def audited(request: Request) -> Response:
            try:
                response = await handler(request)
            except ServiceError as exc:
                _audit(request, exc.status, exc.message)
                raise
            except Exception as exc:
                status = getattr(exc, "status_code", 500)
                _audit(request, int(status), type(exc).__name__)
                raise
            _audit(request, response.status_code, "")
            return response

        return audited


def _audit(request: Request, status: int, detail: str) -> None:
    admin = request.scope.get(_STATE_KEY)
    who = admin.who if isinstance(admin, Admin) else "anonymous"
    client = request.client.host if request.client else "-"
    audit.info(
        "%s %s %s -> %d%s (from %s)",
        who,
        _printable(request.method),
        _printable(request.url.path),
        status,
        f" {_printable(detail)}" if detail else "",
        client,
    )


def _printable(text: str) -> str:
    r"""`text` with line breaks and other controls escaped: a path or message cannot forge a log line.

    >>> _printable("/api/books/x\naudit: key:ops DELETE")
    '/api/books/x\\naudit: key:ops DELETE'
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def install_audit_log() -> None:
    """Give the audit log a handler of its own on stderr unless the deployment configured one."""
    if not audit.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s audit: %(message)s"))
        audit.addHandler(handler)
        audit.setLevel(logging.INFO)
        audit.propagate = False


router = APIRouter(route_class=AuditedRoute, tags=["admin"])


# -- the request and answer models ---------------------------------------------------------


class UnknownJob(NotFound):
    pass


class AddBook(BaseModel):
    """What to index: a manifest or Collection URL, and how."""

    model_config = ConfigDict(extra="forbid")

    manifest: str = Field(
        min_length=1,
        max_length=MAX_URL,
        description="URL (http or https) of a IIIF Presentation 2 or 3 Manifest, or of a Collection (every manifest in it).",
        examples=["https://iiif.wellcomecollection.org/presentation/v3/b21506115"],
    )
    id: str | None = Field(
        default=None,
        pattern=BOOK_ID_PATTERN.pattern,
        description="The book's id in our URLs (a Manifest only); default: a slug of the URL, as index-manifest makes.",
    )
    replace: bool = Field(default=False, description="Index the book again if its id is taken (else 409).")
    access: Literal["public", "clickthrough", "restricted"] | None = Field(
        default=None,
        description="Who may read the book (#22, docs/access.md); default: the level it has if indexed, else public "
        "(index-manifest --access).",
    )


class JobQueued(BaseModel):
    job: str = Field(description="URL of the job: GET it for its progress.")
    id: str
    book: str = Field(description="The book's id (a Collection: `collection:` and the Collection's slug).")
    state: Literal["queued"] = "queued"


class JobPages(BaseModel):
    total: int = Field(description="Canvases of the books started so far (a Collection's grow as its books start).")
    done: int
    left: int


class JobView(BaseModel):
    id: str
    url: str
    state: Literal["queued", "running", "done", "partial", "failed"] = Field(
        description="partial: indexed, but some pages or books failed (see failures, books)."
    )
    book: str
    source: str
    access: str | None = Field(description="The access level asked for; null: the book's own, else public.")
    replace: bool
    who: str = Field(description="The API key (`key:NAME`) or login (`user:NAME`) that asked for the job.")
    created: str
    started: str | None
    finished: str | None
    pages: JobPages
    eta_seconds: float | None = Field(
        description="Time left at the rate of the pages done so far; null before the first."
    )
    failures: list[dict[str, Any]] = Field(description="Each failed canvas: book, canvas (0-based), label, reason.")
    books: list[dict[str, Any]] = Field(description="Each finished book: id, source, committed, error.")
    error: str | None


class JobList(BaseModel):
    jobs: list[JobView]


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key or login, or not a valid one (with WWW-Authenticate)."},
    403: {"description": "A change made with the login cookie without its CSRF token."},
}


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment is not None else None


def job_url(request: Request, job_id: str) -> str:
    return f"{base_url(request, request.app.state.settings)}/api/jobs/{job_id}"


def job_view(request: Request, job: Job) -> JobView:
    return JobView(
        id=job.id,
        url=job_url(request, job.id),
        state=job.state,  # type: ignore[arg-type]
        book=job.target,
        source=job.source,
        access=job.access or None,
        replace=job.replace,
        who=job.who,
        created=_iso(job.created) or "",
        started=_iso(job.started),
        finished=_iso(job.finished),
        pages=JobPages(total=job.pages_total, done=job.pages_done, left=max(job.pages_total - job.pages_done, 0)),
        eta_seconds=job.eta_seconds(),
        failures=job.failures,
        books=job.books,
        error=job.error,
    )


# -- checking a request before anything is queued ----------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """What a manifest URL turned out to be: the book (or Collection) id, and whether it needs Tesseract."""

    id: str
    book_id: str | None
    collection: bool
    needs_ocr: bool


def inspect_source(url: str, book_id: str | None, timeout: float) -> Target:
    """Fetch and read the manifest (or sniff the Collection): what index-manifest would find first."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        # Never a path or file:// URL: the API must not read the server's own files.
        raise BadRequest("manifest: an http:// or https:// URL of a IIIF Manifest or Collection", "manifest")
    with Fetcher(connect_timeout=timeout, read_timeout=timeout, retries=0) as fetcher:
        try:
            data = fetcher.get_json(url)
        except FetchError as exc:
            raise Unprocessable(f"the manifest could not be fetched: {exc}", "manifest") from exc
        except SourceError as exc:  # fetched, but not JSON
            raise Unprocessable(f"not a usable IIIF Manifest or Collection: {exc}", "manifest") from exc
    try:
        kind, version = sniff(data, url)
        if kind == "collection":
            if book_id is not None:
                raise BadRequest("id names one book, but this is a Collection: its books get ids from their URLs", "id")
            # Its members are read by the job; whether they need OCR is not known before.
            return Target(f"collection:{slug(url)}", None, collection=True, needs_ocr=True)
        reader = read_manifest_v2 if version == 2 else read_manifest_v3
        book = reader(data, url, validate_book_id(book_id) if book_id else slug(url))
    except SourceError as exc:
        raise Unprocessable(f"not a usable IIIF Manifest or Collection: {exc}", "manifest") from exc
    return Target(book.id, book_id, collection=False, needs_ocr=any(needs_tesseract(c, "auto") for c in book.canvases))


def book_access(state: State, book_id: str) -> str | None:
    """The access level of an indexed book, None if it is not indexed."""
    library: Library = state.library
    return library.access_of(book_id)


def remove_book(state: State, book_id: str) -> bool:
    """Remove the book from whichever level's index holds it."""
    library: Library = state.library
    return library.remove_book(book_id, wait=state.settings.index_wait)


def submit(request: Request, admin: Admin, body: AddBook) -> Job:
    """Check everything that can be checked now, then queue the job; raises the 4xx (or 503) that says why not."""
    settings = request.app.state.settings
    target = inspect_source(body.manifest.strip(), body.id, settings.manifest_check_timeout)
    if not target.collection and not body.replace and (found := book_access(request.app.state, target.id)) is not None:
        raise Conflict(f"book {target.id} is indexed already ({found}); send replace: true to index it again", "id")
    if target.needs_ocr and not tesseract_available():
        what = "this Collection's books may need OCR" if target.collection else "this book has pages without linked OCR"
        raise CannotOcr(f"{what}, and this server has no Tesseract: install tesseract-ocr, or index it elsewhere")
    jobs: JobStore = request.app.state.jobs
    try:
        job = jobs.submit(
            target=target.id,
            source=body.manifest.strip(),
            book_id=target.book_id,
            access=body.access or "",
            replace_existing=body.replace,
            who=admin.who,
        )
    except JobConflict as exc:
        raise Conflict(
            f"a job for {target.id} is queued or running: {job_url(request, exc.job_id)}", "manifest"
        ) from exc
    runner: JobRunner = request.app.state.job_runner
    runner.wake()
    return job


def refuse_if_taken(state: State) -> Callable[[Job], str | None]:
    """The runner's last check: a book indexed meanwhile (by index-manifest, another job) is not replaced unasked."""

    def check(job: Job) -> str | None:
        if job.replace or job.target.startswith("collection:") or book_access(state, job.target) is None:
            return None
        return f"book {job.target} was indexed meanwhile; send replace: true to index it again"

    return check


def install(app: FastAPI) -> None:
    """The admin API on a server of its own data directory: keys, the job queue and its runner thread, the routes."""
    settings = app.state.settings
    access: Access = app.state.access
    app.state.api_keys = ApiKeys(access.store)
    app.state.jobs = JobStore(access.store)
    runner = JobRunner(
        app.state.jobs, index_options(settings.data_dir, settings.index_workers), refuse_if_taken(app.state)
    )
    app.state.job_runner = runner
    app.router.on_startup.append(runner.start)
    app.router.on_shutdown.append(runner.stop)
    install_audit_log()
    app.include_router(router)


# -- the routes ------------------------------------------------------------------------------


@router.post(
    "/api/books",
    status_code=202,
    summary="Index a book from its manifest (or every book of a Collection)",
    response_model=JobQueued,
    responses={
        **_ERRORS,
        400: {"description": "A malformed body: not JSON, a field missing or invalid, a URL that is not http(s)."},
        409: {"description": "The book is indexed already (without `replace`), or a job for it is queued or running."},
        422: {"description": "The manifest could not be fetched, or it is not a IIIF Manifest or Collection."},
        503: {"description": "The book needs OCR and this server has no Tesseract."},
    },
)
async def add_book(request: Request, body: AddBook, admin: AdminDep) -> JSONResponse:
    """Fetch and check the manifest, then queue the same job `index-manifest` runs; answers 202 with the job's URL.

    Jobs run one at a time per data directory, in the server; `GET` the job's URL for its progress.
    """
    job = await anyio.to_thread.run_sync(submit, request, admin, body)
    url = job_url(request, job.id)
    return JSONResponse(
        JobQueued(job=url, id=job.id, book=job.target).model_dump(),
        status_code=202,
        headers={"Location": url, "Cache-Control": "no-store"},
    )


@router.get("/api/jobs", summary="Running and recent indexing jobs", response_model=JobList, responses=_ERRORS)
async def list_jobs(request: Request, admin: AdminDep) -> JSONResponse:
    """Queued and running jobs first, then the most recent finished ones (up to 50)."""
    jobs: JobStore = request.app.state.jobs
    found = await anyio.to_thread.run_sync(jobs.recent)
    body = JobList(jobs=[job_view(request, job) for job in found])
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})


@router.get(
    "/api/jobs/{job_id}",
    summary="One indexing job: state, pages done and left, failures, ETA",
    response_model=JobView,
    responses={**_ERRORS, 404: {"description": "No such job (finished jobs are kept for the last 200)."}},
)
async def get_job(request: Request, job_id: str, admin: AdminDep) -> JSONResponse:
    jobs: JobStore = request.app.state.jobs
    job = await anyio.to_thread.run_sync(jobs.get, job_id)
    if job is None:
        raise UnknownJob(f"no job {job_id}", "job_id")
    return JSONResponse(job_view(request, job).model_dump(), headers={"Cache-Control": "no-store"})


@router.delete(
    "/api/books/{book_id}",
    status_code=204,
    summary="Remove a book from the index",
    responses={
        **_ERRORS,
        404: {"description": "No book with this id."},
        409: {"description": "A job for this book is queued or running."},
    },
)
async def delete_book(request: Request, book_id: str, admin: AdminDep) -> Response:
    """Remove the book and its pages in one commit; every replica sees it within a second, as after `iiif-search remove`."""
    if not BOOK_ID_PATTERN.match(book_id):
        raise UnknownBook(f"no book {book_id}", "book_id")
    jobs: JobStore = request.app.state.jobs
    running = await anyio.to_thread.run_sync(jobs.active_for, book_id)
    if running is not None:
        raise Conflict(f"a job for {book_id} is queued or running: {job_url(request, running.id)}", "book_id")
    if not await anyio.to_thread.run_sync(remove_book, request.app.state, book_id):
        raise UnknownBook(f"no book {book_id}", "book_id")
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.post("/admin/books", include_in_schema=False)
async def add_book_form(request: Request) -> Response:
    """The home page's form: the same checks and job as POST /api/books, answered in HTML."""
    try:
        admin = authenticate(request)
        raw = await request.body()
        if len(raw) > MAX_FORM_BYTES:
            raise BadRequest("the form is too large")
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True).items()}
        check_csrf(request, admin, form.get(CSRF_FIELD))
        try:
            body = AddBook(
                manifest=form.get("manifest", ""),
                id=form.get("id") or None,
                replace=form.get("replace") == "on",
                access=form.get("access") or None,  # type: ignore[arg-type]
            )
        except ValueError as exc:
            raise BadRequest(f"the form is not valid: {exc}") from exc
        await anyio.to_thread.run_sync(submit, request, admin, body)
    except ServiceError as exc:
        _audit(request, exc.status, exc.message)
        page = (
            '<nav class="bar"><a class="home" href="/">iiif-search</a></nav><main class="page">'
            f'<h1>The book was not added</h1><p class="notice error" role="alert">{esc(exc.message)}</p>'
            '<p><a href="/#admin">Back to the admin view</a></p></main>'
        )
        response = render_page("The book was not added", page, status_code=exc.status)
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = exc.challenge
        return response
    _audit(request, 303, "")
    return RedirectResponse("/#admin", status_code=303, headers={"Cache-Control": "no-store"})


# -- the admin view on the home page --------------------------------------------------------


def admin_section(request: Request) -> str:
    """The home page's admin view for a logged-in reader: jobs with their progress, and the form; else ''."""
    jobs: JobStore | None = getattr(request.app.state, "jobs", None)
    reader = reader_of(request)
    if jobs is None or not logged_in(reader) or reader.session is None:
        return ""
    token = csrf_token(request.app.state.access, reader.session)
    rows = "".join(_job_row(job) for job in jobs.recent(20))
    table = (
        '<table class="jobs"><caption>Indexing jobs, running first</caption><thead><tr><th scope="col">Book</th>'
        '<th scope="col">State</th><th scope="col">Pages</th><th scope="col">Time left</th>'
        f'<th scope="col">Failures</th></tr></thead><tbody>{rows}</tbody></table>'
        if rows
        else "<p>No indexing job yet.</p>"
    )
    levels = '<option value="" selected>its own (new: public)</option>' + "".join(
        f'<option value="{level}">{level}</option>' for level in ACCESS_LEVELS
    )
    return (
        '<section id="admin" class="admin" aria-labelledby="admin-title">'
        f'<h2 id="admin-title">Admin: add a book</h2><p>Logged in as {esc(reader.user)}.</p>{table}'
        '<form class="add-book" method="post" action="/admin/books">'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{esc(token)}">'
        '<p><label for="add-manifest">Manifest or Collection URL</label> '
        '<input type="url" name="manifest" id="add-manifest" required size="60" '
        'placeholder="https://example.org/iiif/book/manifest"></p>'
        '<p><label for="add-id">Book id (optional)</label> '
        f'<input type="text" name="id" id="add-id" pattern="{esc(BOOK_ID_PATTERN.pattern)}" size="30"></p>'
        f'<p><label for="add-access">Access</label> <select name="access" id="add-access">{levels}</select> '
        '<input type="checkbox" name="replace" id="add-replace"> <label for="add-replace">replace it if indexed</label></p>'
        '<p><button type="submit">Index it</button></p></form>'
        '<p>Reload the page to see the jobs advance. API: <a href="/docs#/admin">/docs</a>.</p></section>'
    )


def _job_row(job: Job) -> str:
    left = max(job.pages_total - job.pages_done, 0)
    eta = job.eta_seconds()
    failures = "; ".join(
        f"p. {f.get('label') or int(f.get('canvas', 0)) + 1}: {f.get('reason')}" for f in job.failures[:3]
    )
    if len(job.failures) > 3:
        failures += f"; and {len(job.failures) - 3} more"
    state = job.state + (f": {job.error}" if job.error else "")
    progress = (
        f'<progress max="{job.pages_total}" value="{job.pages_done}" aria-label="pages of {esc(job.target)} done">'
        f"{job.pages_done} of {job.pages_total}</progress> {job.pages_done} of {job.pages_total} ({left} left)"
        if job.pages_total
        else "not started"
    )
    return (
        f'<tr class="job" data-job="{esc(job.id)}" data-state="{esc(job.state)}"><td>{esc(job.target)}</td>'
        f"<td>{esc(state)}</td><td>{progress}</td>"
        f"<td>{'' if eta is None else f'{eta:.0f} s'}</td><td>{esc(failures) or 'none'}</td></tr>"
    )
