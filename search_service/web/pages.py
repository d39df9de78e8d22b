"""The site's HTML pages: the layout around a page's body, our own static files, escaping.

Every user value that reaches a page goes through `esc` (HTML) or `script_json` (inside
`<script>`). Pages are rendered from `templates/`; our scripts and CSS in `static/` are
served under a content hash so they can be cached forever.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
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

#: The Content-Security-Policy of our own pages (home, results, forms, error pages; #23): nothing
#: unless named. No script at all (the pages work without one); our CSS, plus the `style`
#: attributes that place a hit's outline on its line picture; those pictures come from each
#: book's image service, anywhere; forms submit here only; no page may be framed.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' https: http: data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def viewer_csp(frame_ancestors: str) -> str:
    """The Content-Security-Policy of a viewer page, framed by `frame_ancestors` (a setting).

    Scripts come from this server only (#12: Clover inserts hit text as HTML; a manifest's
    `homepage` of `javascript:` is a link that must not run, #23). The viewers fetch manifests,
    search answers and annotations from any host (`connect-src`), show images and tiles from
    any host, UV also from blob: and data: URLs (`img-src`), inject their own styles (Mirador's
    JSS, UV's inline styles: `style-src 'unsafe-inline'`), and load fonts bundled as files or
    data: URLs, and frame IIIF Auth token services, ours or a manifest's image server's (#22: the
    token comes by postMessage from a hidden frame). Nothing else: no plugins, no other base URL,
    forms post here only.
    """
    return (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' https: http: data: blob:; media-src 'self' https: http: blob:; "
        "connect-src 'self' https: http:; font-src 'self' data:; worker-src 'self' blob:; frame-src 'self' https: http:; "
        f"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )


def framing_headers(policy: str, frame_ancestors: str = "'none'") -> dict[str, str]:
    """The CSP header, and X-Frame-Options DENY for browsers without frame-ancestors when nothing may frame."""
    headers = {"Content-Security-Policy": policy}
    if frame_ancestors.strip() == "'none'":
        headers["X-Frame-Options"] = "DENY"
    return headers


def script_json(value: Any) -> str:
    """JSON that is safe inside a `<script>` element.

    `json.dumps` alone would let a value holding `</script>` or `<!--` end the element;
    escaping `<`, `>` and `&` as \\u escapes keeps the same JSON value.
    """
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


#: What a page never shows (#23): C0 and C1 controls but tab and line ends, and the bidi embeddings,
#: overrides and isolates (U+202A-U+202E, U+2066-U+2069), which reorder the text after them: a
#: query ending in U+202E showed `<title>` and `<h1>` reversed. Left-to-right and right-to-left
#: marks (U+200E, U+200F) stay: right-to-left text needs them and they reorder nothing.
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def esc(value: object) -> str:
    """Escape text for HTML element content and quoted attributes, without controls or bidi overrides.

    >>> esc("<b>roi\\u202e</b>\\x00")
    '&lt;b&gt;roi&lt;/b&gt;'
    """
    return html.escape(_HIDDEN.sub("", str(value)), quote=True)


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


def render_page(
    title: str,
    body: str,
    *,
    status_code: int = 200,
    body_class: str = "",
    head: str = "",
    security: dict[str, str] | None = None,
) -> HTMLResponse:
    """The site layout around `body` (already-escaped HTML); `security`: headers other than PAGE_CSP's."""
    page = template("layout.html").substitute(
        title=esc(title), css=esc(asset_url("site.css")), head=head, body=body, body_class=esc(body_class)
    )
    # Pages show live index state and user input: never cache them in shared caches.
    headers = {"Cache-Control": "no-cache", **(security or framing_headers(PAGE_CSP))}
    return HTMLResponse(page, status_code=status_code, headers=headers)
