"""Mirador 4, Mirador 3, Universal Viewer and Clover pages, and the viewer files they load.

`/viewer/{mirador,mirador3,uv,clover}?manifest=URL&q=TERMS` opens any IIIF manifest (ours
or anyone's: the viewer finds the search service in the manifest) with `q` already
searched. The viewers themselves come from npm (`scripts/install-viewers` puts them in
`viewers/node_modules/`, and bundles Clover's React build into `viewers/clover/build/`)
and are served from there under versioned URLs
(`/viewer/static/{viewer}/{version}/...`) with long caching; our own page scripts and
CSS come from `search_service/static/`. Every user value that reaches a page goes
through `html.escape` (HTML) or `script_json` (inside `<script>`).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from search_service.deps import BaseUrlDep, SettingsDep

router = APIRouter()

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
# viewers/ sits beside the package in a checkout; `app.state.viewers_dir` overrides it
# (tests point it at an empty folder to see the "not installed" page).
DEFAULT_VIEWERS_DIR = PACKAGE.parent / "viewers"

INSTALL_HINT = "scripts/install-viewers"
# Viewer files never change under a versioned URL, and our own assets carry a content hash.
IMMUTABLE = "public, max-age=31536000, immutable"
MAX_MANIFEST_URL = 2000
# Viewer pages run scripts from this server only: markup that a manifest or a search service
# from anywhere gets into the page (Clover inserts hit text with innerHTML, #12) cannot run
# inline handlers or scripts. Styles, images and fetches are left open: the viewers inject
# styles and load manifests, images and search results from any host.
VIEWER_CSP = "script-src 'self'; object-src 'none'; base-uri 'self'"


@dataclass(frozen=True, slots=True)
class Viewer:
    """One viewer: where npm put it and the files its page loads.

    `package` is the npm package folder relative to the viewers dir; `scripts` and
    `styles` are paths inside its `dist/`.
    """

    key: str
    title: str
    package: str
    scripts: tuple[str, ...]
    styles: tuple[str, ...]
    page_script: str

    def dist(self, viewers_dir: Path) -> Path:
        """The npm package's `dist/` folder, the only one served."""
        return viewers_dir / self.package / "dist"

    def version(self, viewers_dir: Path) -> str | None:
        """The installed version, or None when the viewer (or one of its files) is missing."""
        dist = self.dist(viewers_dir)
        if not all((dist / name).is_file() for name in (*self.scripts, *self.styles)):
            return None
        return _package_version(viewers_dir / self.package / "package.json")


VIEWERS: dict[str, Viewer] = {
    viewer.key: viewer
    for viewer in (
        Viewer("mirador", "Mirador 4", "node_modules/mirador", ("mirador.min.js",), (), "mirador-page.js"),
        Viewer("mirador3", "Mirador 3", "mirador3/node_modules/mirador", ("mirador.min.js",), (), "mirador-page.js"),
        # UV loads its chunks lazily from beside umd/UV.js, so the whole umd/ folder is served.
        Viewer("uv", "Universal Viewer", "node_modules/universalviewer", ("umd/UV.js",), ("uv.css",), "uv-page.js"),
        # Clover's React build bundled with React 18 by scripts/install-viewers (esbuild); its
        # package.json there gives Clover's version plus a hash of the bundle (#12).
        Viewer("clover", "Clover", "clover/build", ("clover.js",), (), "clover-page.js"),
    )
}


@lru_cache(maxsize=16)
def _package_version_cached(path: Path, mtime: float) -> str | None:
    try:
        version = json.loads(path.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    # The version becomes a URL segment: accept only what npm versions look like.
    return version if isinstance(version, str) and re.fullmatch(r"[0-9A-Za-z.+-]{1,64}", version) else None


def _package_version(path: Path) -> str | None:
    """The `version` of an npm package.json, re-read when the file changes."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _package_version_cached(path, mtime)


def viewers_dir(request: Request) -> Path:
    """Where the npm-installed viewers live for this app."""
    override = getattr(request.app.state, "viewers_dir", None)
    return Path(override) if override else DEFAULT_VIEWERS_DIR


# -- HTML helpers shared with routes/home.py ------------------------------------


def script_json(value: Any) -> str:
    """JSON that is safe inside a `<script>` element.

    `json.dumps` alone would let a value holding `</script>` or `<!--` end the element;
    escaping `<`, `>` and `&` as \\u escapes keeps the same JSON value.
    """
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def esc(value: object) -> str:
    """Escape text for HTML element content and quoted attributes."""
    return html.escape(str(value), quote=True)


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


@cache
def _asset_hash(name: str) -> str:
    return hashlib.blake2b((STATIC / name).read_bytes(), digest_size=6).hexdigest()


def asset_url(name: str) -> str:
    """URL of one of our own static files, with a content hash so it can be cached forever."""
    return f"/viewer/assets/{name}?v={_asset_hash(name)}"


def render_page(title: str, body: str, *, status_code: int = 200, body_class: str = "", head: str = "") -> HTMLResponse:
    """The site layout around `body` (already-escaped HTML)."""
    page = _template("layout.html").substitute(
        title=esc(title), css=esc(asset_url("site.css")), head=head, body=body, body_class=esc(body_class)
    )
    # Pages show live index state and user input: never cache them in shared caches.
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-cache"})


def viewer_link(key: str, manifest: str, q: str | None = None) -> str:
    """Path of a viewer page for `manifest`, with `q` when given."""
    params = {"manifest": manifest}
    if q:
        params["q"] = q
    return f"/viewer/{key}?{urlencode(params)}"


def installed_viewers(request: Request) -> dict[str, str | None]:
    """Viewer key -> installed version (None when missing)."""
    root = viewers_dir(request)
    return {key: viewer.version(root) for key, viewer in VIEWERS.items()}


def not_installed_html(missing: list[str]) -> str:
    """The notice shown when viewer files are missing, saying how to install them."""
    names = ", ".join(VIEWERS[key].title for key in missing)
    return (
        f'<div class="notice" role="alert"><strong>{esc(names)} not installed.</strong> '
        f"The viewers come from npm; run <code>{esc(INSTALL_HINT)}</code> in the checkout "
        "(it needs Node.js and npm) and reload this page.</div>"
    )


# -- manifest and query checks -----------------------------------------------------


class BadViewerInput(ValueError):
    """A manifest URL or query the viewer page refuses, with the reason for the reader."""


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


def check_query(q: str | None, max_length: int) -> str | None:
    """The search terms to run when the viewer opens, or None."""
    if q is None or not q.strip():
        return None
    q = q.strip()
    if len(q) > max_length:
        raise BadViewerInput(f"the search terms are longer than {max_length} characters")
    return q


# -- routes ------------------------------------------------------------------------------


def _nav(current: str, manifest: str | None, q: str | None) -> str:
    links = ['<a class="home" href="/">iiif-search</a>']
    for key, viewer in VIEWERS.items():
        if key == current:
            links.append(f'<span class="current" aria-current="page">{esc(viewer.title)}</span>')
        elif manifest:
            links.append(f'<a href="{esc(viewer_link(key, manifest, q))}">{esc(viewer.title)}</a>')
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


def _viewer_page(request: Request, key: str, manifest: str | None, q: str | None, base: str, max_q: int) -> Response:
    viewer = VIEWERS[key]
    if manifest is None or not manifest.strip():
        return render_page(viewer.title, _nav(key, None, None) + _open_form(key))
    try:
        manifest_url = resolve_manifest(manifest, base)
        query = check_query(q, max_q)
    except BadViewerInput as exc:
        return render_page(viewer.title, _nav(key, None, None) + _open_form(key, str(exc)), status_code=400)
    root = viewers_dir(request)
    version = viewer.version(root)
    if version is None:
        body = _nav(key, manifest_url, query) + f'<main class="page">{not_installed_html([key])}</main>'
        return render_page(f"{viewer.title} not installed", body, status_code=503)
    prefix = f"/viewer/static/{key}/{version}"
    styles = "".join(f'<link rel="stylesheet" href="{esc(prefix + "/" + name)}">' for name in viewer.styles)
    scripts = "".join(f'<script src="{esc(prefix + "/" + name)}"></script>' for name in viewer.scripts)
    config = {"viewer": key, "manifest": manifest_url, "q": query}
    body = _template("viewer.html").substitute(
        nav=_nav(key, manifest_url, query),
        config=script_json(config),
        scripts=scripts + f'<script src="{esc(asset_url(viewer.page_script))}"></script>',
    )
    page = render_page(f"{viewer.title} · {manifest_url}", body, body_class=f"viewer viewer-{key}", head=styles)
    page.headers["Content-Security-Policy"] = VIEWER_CSP
    return page


@router.get("/viewer/mirador", response_class=HTMLResponse, summary="Mirador 4 on a manifest")
def mirador(
    request: Request, settings: SettingsDep, base: BaseUrlDep, manifest: str | None = None, q: str | None = None
) -> Response:
    """Mirador 4 with the manifest open and, with `q`, its search panel already run."""
    return _viewer_page(request, "mirador", manifest, q, base, settings.max_query_length)


@router.get("/viewer/mirador3", response_class=HTMLResponse, summary="Mirador 3 on a manifest")
def mirador3(
    request: Request, settings: SettingsDep, base: BaseUrlDep, manifest: str | None = None, q: str | None = None
) -> Response:
    """Mirador 3 with the manifest open and, with `q`, its search panel already run."""
    return _viewer_page(request, "mirador3", manifest, q, base, settings.max_query_length)


@router.get("/viewer/uv", response_class=HTMLResponse, summary="Universal Viewer on a manifest")
def uv(
    request: Request, settings: SettingsDep, base: BaseUrlDep, manifest: str | None = None, q: str | None = None
) -> Response:
    """Universal Viewer 4.4 with the manifest open and, with `q`, the search run (its `highlight`)."""
    return _viewer_page(request, "uv", manifest, q, base, settings.max_query_length)


@router.get("/viewer/clover", response_class=HTMLResponse, summary="Clover IIIF on a manifest")
def clover(
    request: Request, settings: SettingsDep, base: BaseUrlDep, manifest: str | None = None, q: str | None = None
) -> Response:
    """Clover IIIF 3.3.8 with the manifest open and, with `q`, its Search 2.0 run and the Search tab shown."""
    return _viewer_page(request, "clover", manifest, q, base, settings.max_query_length)


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
    """Our own page scripts and CSS (`search_service/static/`)."""
    file = _safe_file(STATIC, name)
    if file is None:
        return _not_found(f"no asset {name!r}")
    # Only the URL naming the current content may be cached forever.
    cache = IMMUTABLE if v == _asset_hash(name) else "no-cache"
    return FileResponse(file, headers={"Cache-Control": cache})
