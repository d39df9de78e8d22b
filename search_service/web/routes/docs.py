"""`/docs`: the OpenAPI page, with Swagger UI served from npm's `swagger-ui-dist`, not a CDN.

FastAPI's default page loads Swagger UI from cdn.jsdelivr.net (a floating `@5`, no
integrity check): it breaks offline and runs whatever that CDN serves (#16). The
files come from `viewers/swagger-ui/node_modules/` (pinned in its package.json,
installed by scripts/install-viewers) under a URL that names their version.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, PlainTextResponse, Response

from search_service.web.pages import IMMUTABLE
from search_service.web.viewers import INSTALL_HINT, viewers_dir

router = APIRouter()

#: The Swagger UI files the page loads; nothing else of the package is served.
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def _dist(request: Request) -> Path:
    return viewers_dir(request) / "swagger-ui" / "node_modules" / "swagger-ui-dist"


def _version(dist: Path) -> str | None:
    try:
        version = json.loads((dist / "package.json").read_bytes())["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, str) and all(dist.joinpath(name).is_file() for name in ASSETS) else None


def _not_installed() -> PlainTextResponse:
    return PlainTextResponse(
        f"Swagger UI is not installed: run {INSTALL_HINT} (the API itself is at /openapi.json)\n",
        status_code=503,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/docs", include_in_schema=False)
def docs_page(request: Request) -> Response:
    """The OpenAPI page of this server."""
    version = _version(_dist(request))
    if version is None:
        return _not_installed()
    base = f"/docs/assets/{version}"
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{request.app.title}: API",
        swagger_js_url=f"{base}/swagger-ui-bundle.js",
        swagger_css_url=f"{base}/swagger-ui.css",
        swagger_favicon_url=f"{base}/favicon-32x32.png",
    )


@router.get("/docs/assets/{version}/{name}", include_in_schema=False)
def docs_asset(request: Request, version: str, name: str) -> Response:
    """A Swagger UI file, cached for a year (the URL names the version)."""
    dist = _dist(request)
    installed = _version(dist)
    if installed is None:
        return _not_installed()
    if version != installed or name not in ASSETS:
        return PlainTextResponse("not found\n", status_code=404, headers={"Cache-Control": "no-store"})
    return FileResponse(dist / name, headers={"Cache-Control": IMMUTABLE})
