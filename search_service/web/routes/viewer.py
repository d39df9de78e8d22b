"""Mirador 4, Mirador 3, Universal Viewer and Clover pages, and the viewer files they load.

`/viewer/{mirador,mirador3,uv,clover}?manifest=URL&q=TERMS&canvas=ID` opens any IIIF manifest
(ours or anyone's: the viewer finds the search service in the manifest) with `q` already
searched, on the canvas `ID` when given (a hit of the results page, #13). The viewers (viewers.py) are served from npm's folders under versioned URLs
(`/viewer/static/{viewer}/{version}/...`) with long caching; our own page scripts and
CSS come from `search_service/web/static/` (pages.py).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from search_service.errors import BadViewerInput
from search_service.web.deps import BaseUrlDep, SettingsDep
from search_service.web.pages import IMMUTABLE, STATIC, asset_hash, asset_url, esc, render_page, script_json, template
from search_service.web.viewers import INSTALL_HINT, VIEWERS, not_installed_html, viewer_link, viewers_dir

router = APIRouter()

MAX_MANIFEST_URL = 2000
# Viewer pages run scripts from this server only: markup that a manifest or a search service
# from anywhere gets into the page (Clover inserts hit text with innerHTML, #12) cannot run
# inline handlers or scripts. Styles, images and fetches are left open: the viewers inject
# styles and load manifests, images and search results from any host.
VIEWER_CSP = "script-src 'self'; object-src 'none'; base-uri 'self'"


# -- manifest and query checks -----------------------------------------------------


def resolve_manifest(raw: str, base: str) -> str:
    """An absolute http(s) manifest URL from the `manifest` parameter.

    A path (`/iiif/book/manifest`) is taken as relative to this server. Anything else
    (javascript:, data:, file:, control characters) is refused: the URL ends up in
    links and in the viewer's fetches.
    """
    raw = raw.strip()
    if len(raw) > MAX_MANIFEST_URL:
        raise BadViewerInput(f"the manifest URL is longer than {MAX_MANIFEST_URL} characters")
    if any(ord(ch) < 0x20 or ch.isspace() or ord(ch) == 0x7F for ch in raw):
        raise BadViewerInput("the manifest URL contains spaces or control characters")
    if raw.startswith("/") and not raw.startswith("//"):
        raw = base + raw  # base may have a path of its own (public_url behind a proxy)
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadViewerInput("the manifest must be an http:// or https:// URL (or a path on this server)")
    return raw


def check_canvas(raw: str | None) -> str | None:
    """The canvas to open on (a canvas id of the manifest), or None; refused like a bad manifest URL.

    Only an http(s) URI is passed on: it goes into the viewer's configuration (#13:
    a hit of the results page opens its book on the hit's page).
    """
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if len(raw) > MAX_MANIFEST_URL:
        raise BadViewerInput(f"the canvas id is longer than {MAX_MANIFEST_URL} characters")
    if any(ord(ch) < 0x20 or ch.isspace() or ord(ch) == 0x7F for ch in raw):
        raise BadViewerInput("the canvas id contains spaces or control characters")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadViewerInput("the canvas must be an http:// or https:// canvas id of the manifest")
    return raw


def check_query(q: str | None, max_length: int) -> str | None:
    """The search terms to run when the viewer opens, or None."""
    if q is None or not q.strip():
        return None
    q = q.strip()
    if len(q) > max_length:
        raise BadViewerInput(f"the search terms are longer than {max_length} characters")
    return q


# -- routes ------------------------------------------------------------------------------


def _nav(current: str, manifest: str | None, q: str | None, canvas: str | None = None) -> str:
    links = ['<a class="home" href="/">iiif-search</a>']
    for key, viewer in VIEWERS.items():
        if key == current:
            links.append(f'<span class="current" aria-current="page">{esc(viewer.title)}</span>')
        elif manifest:
            links.append(f'<a href="{esc(viewer_link(key, manifest, q, canvas))}">{esc(viewer.title)}</a>')
    if manifest:
        links.append(f'<a class="manifest" href="{esc(manifest)}">manifest</a>')
    return '<nav class="bar">' + " ".join(links) + "</nav>"


def _open_form(key: str, message: str = "") -> str:
    """A form asking for a manifest URL (viewer page without one, or with a bad one)."""
    notice = f'<p class="notice" role="alert">{esc(message)}</p>' if message else ""
    return (
        f'<main class="page"><h1>Open a IIIF manifest in {esc(VIEWERS[key].title)}</h1>{notice}'
        f'<form class="open" method="get" action="/viewer/{esc(key)}">'
        '<label>Manifest URL <input name="manifest" type="url" required size="60" '
        'placeholder="https://example.org/iiif/book/manifest"></label> '
        '<label>Search for <input name="q" type="search" size="20"></label> '
        '<button type="submit">Open</button></form>'
        '<p>Or pick a book on the <a href="/">home page</a>.</p></main>'
    )


def _viewer_page(
    request: Request, key: str, manifest: str | None, q: str | None, canvas: str | None, base: str, max_q: int
) -> Response:
    viewer = VIEWERS[key]
    if manifest is None or not manifest.strip():
        return render_page(viewer.title, _nav(key, None, None) + _open_form(key))
    try:
        manifest_url = resolve_manifest(manifest, base)
        query = check_query(q, max_q)
        start_canvas = check_canvas(canvas)
    except BadViewerInput as exc:
        return render_page(viewer.title, _nav(key, None, None) + _open_form(key, str(exc)), status_code=400)
    root = viewers_dir(request)
    version = viewer.version(root)
    if version is None:
        body = _nav(key, manifest_url, query, start_canvas) + f'<main class="page">{not_installed_html([key])}</main>'
        return render_page(f"{viewer.title} not installed", body, status_code=503)
    prefix = f"/viewer/static/{key}/{version}"
    styles = "".join(f'<link rel="stylesheet" href="{esc(prefix + "/" + name)}">' for name in viewer.styles)
    scripts = "".join(f'<script src="{esc(prefix + "/" + name)}"></script>' for name in viewer.scripts)
    config = {"viewer": key, "manifest": manifest_url, "q": query, "canvas": start_canvas}
    body = template("viewer.html").substitute(
        nav=_nav(key, manifest_url, query, start_canvas),
        config=script_json(config),
        scripts=scripts + f'<script src="{esc(asset_url(viewer.page_script))}"></script>',
    )
    page = render_page(f"{viewer.title} · {manifest_url}", body, body_class=f"viewer viewer-{key}", head=styles)
    page.headers["Content-Security-Policy"] = VIEWER_CSP
    return page


@router.get("/viewer/mirador", response_class=HTMLResponse, summary="Mirador 4 on a manifest")
def mirador(
    request: Request,
    settings: SettingsDep,
    base: BaseUrlDep,
    manifest: str | None = None,
    q: str | None = None,
    canvas: str | None = None,
) -> Response:
    """Mirador 4 with the manifest open and, with `q`, its search panel already run."""
    return _viewer_page(request, "mirador", manifest, q, canvas, base, settings.max_query_length)


@router.get("/viewer/mirador3", response_class=HTMLResponse, summary="Mirador 3 on a manifest")
def mirador3(
    request: Request,
    settings: SettingsDep,
    base: BaseUrlDep,
    manifest: str | None = None,
    q: str | None = None,
    canvas: str | None = None,
) -> Response:
    """Mirador 3 with the manifest open and, with `q`, its search panel already run."""
    return _viewer_page(request, "mirador3", manifest, q, canvas, base, settings.max_query_length)


@router.get("/viewer/uv", response_class=HTMLResponse, summary="Universal Viewer on a manifest")
def uv(
    request: Request,
    settings: SettingsDep,
    base: BaseUrlDep,
    manifest: str | None = None,
    q: str | None = None,
    canvas: str | None = None,
) -> Response:
    """Universal Viewer 4.4 with the manifest open and, with `q`, the search run (its `highlight`)."""
    return _viewer_page(request, "uv", manifest, q, canvas, base, settings.max_query_length)


@router.get("/viewer/clover", response_class=HTMLResponse, summary="Clover IIIF on a manifest")
def clover(
    request: Request,
    settings: SettingsDep,
    base: BaseUrlDep,
    manifest: str | None = None,
    q: str | None = None,
    canvas: str | None = None,
) -> Response:
    """Clover IIIF 3.3.8 with the manifest open and, with `q`, its Search 2.0 run and the Search tab shown."""
    return _viewer_page(request, "clover", manifest, q, canvas, base, settings.max_query_length)


def _safe_file(root: Path, relative: str) -> Path | None:
    """`root/relative` when it is a regular file inside `root`, else None (no traversal, no dotfiles)."""
    parts = relative.split("/")
    if not relative or any(
        part in ("", ".", "..") or part.startswith(".") or "\\" in part or "\0" in part for part in parts
    ):
        return None
    try:
        base = root.resolve(strict=True)
        path = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def _not_found(message: str) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status_code=404, headers={"Cache-Control": "no-store"})


@router.get("/viewer/static/{key}/{version}/{path:path}", include_in_schema=False)
def viewer_file(request: Request, key: str, version: str, path: str) -> Response:
    """A file of an npm-installed viewer's `dist/`, cached for a year (the URL names the version)."""
    viewer = VIEWERS.get(key)
    if viewer is None:
        return _not_found(f"no viewer named {key!r}")
    root = viewers_dir(request)
    installed = viewer.version(root)
    if installed is None:
        return PlainTextResponse(
            f"{viewer.title} is not installed: run {INSTALL_HINT}\n",
            status_code=503,
            headers={"Cache-Control": "no-store"},
        )
    if version != installed:
        return _not_found(f"{viewer.title} {installed} is installed, not {version}")
    file = _safe_file(viewer.dist(root), path)
    if file is None:
        return _not_found(f"no file {path!r} in {viewer.title}")
    return FileResponse(file, headers={"Cache-Control": IMMUTABLE})


@router.get("/viewer/assets/{name}", include_in_schema=False)
def asset(name: str, v: str | None = None) -> Response:
    """Our own page scripts and CSS (`search_service/web/static/`)."""
    file = _safe_file(STATIC, name)
    if file is None:
        return _not_found(f"no asset {name!r}")
    # Only the URL naming the current content may be cached forever.
    cache = IMMUTABLE if v == asset_hash(name) else "no-cache"
    return FileResponse(file, headers={"Cache-Control": cache})
