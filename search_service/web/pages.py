"""The site's HTML pages: the layout around a page's body, our own static files, escaping.

Every user value that reaches a page goes through `esc` (HTML) or `script_json` (inside
`<script>`). Pages are rendered from `templates/`; our scripts and CSS in `static/` are
served under a content hash so they can be cached forever.
"""

from __future__ import annotations

import hashlib
import html
import json
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from starlette.responses import HTMLResponse

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
# Files under a versioned URL never change, and our own assets carry a content hash.
IMMUTABLE = "public, max-age=31536000, immutable"


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
def template(name: str) -> Template:
    """A page template of `templates/`, read once."""
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


@cache
def asset_hash(name: str) -> str:
    """A short digest of one of our static files, which names its content in its URL."""
    return hashlib.blake2b((STATIC / name).read_bytes(), digest_size=6).hexdigest()


def asset_url(name: str) -> str:
    """URL of one of our own static files, with a content hash so it can be cached forever."""
    return f"/viewer/assets/{name}?v={asset_hash(name)}"


def render_page(title: str, body: str, *, status_code: int = 200, body_class: str = "", head: str = "") -> HTMLResponse:
    """The site layout around `body` (already-escaped HTML)."""
    page = template("layout.html").substitute(
        title=esc(title), css=esc(asset_url("site.css")), head=head, body=body, body_class=esc(body_class)
    )
    # Pages show live index state and user input: never cache them in shared caches.
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-cache"})
