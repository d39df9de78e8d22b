"""The viewers this server offers (Mirador 4, Mirador 3, Universal Viewer, Clover): where npm put them.

`scripts/install-viewers` puts them in `viewers/node_modules/` and bundles Clover's React
build into `viewers/clover/build/`; a viewer whose files are missing is "not installed"
and its page says how to install it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request

from search_service.web.pages import esc

# viewers/ sits beside the package in a checkout; `app.state.viewers_dir` overrides it
# (tests point it at an empty folder to see the "not installed" page).
DEFAULT_VIEWERS_DIR = Path(__file__).resolve().parents[2] / "viewers"
INSTALL_HINT = "scripts/install-viewers"


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


def viewer_link(key: str, manifest: str, q: str | None = None, canvas: str | None = None) -> str:
    """Path of a viewer page for `manifest`, with `q` and the `canvas` to open on when given."""
    params = {"manifest": manifest}
    if q:
        params["q"] = q
    if canvas:
        params["canvas"] = canvas
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
