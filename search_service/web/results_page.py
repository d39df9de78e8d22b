"""A BookPage as the HTML results page of `/search`: books best first, each hit a picture of its line (#13).

Plain server-rendered HTML: the list, the links and the paging work without JavaScript,
with the keyboard (links and one form, in reading order) and with a screen reader (one
`h1`, an `h2` per book, an ordered list in rank order, the counts in words, the match
in `<mark>`). Each hit links into the reader's chosen viewer (Mirador 4 unless they pick
another) on the hit's page with the query searched, so the viewer highlights it. Every
value from the index or the request goes through `esc`.
"""

from __future__ import annotations

from search_service.search.books import BookHit, BookPage, BookResult
from search_service.search.urls import hit_target, manifest_url, resolved, url_with
from search_service.web.pages import esc
from search_service.web.viewers import VIEWERS, viewer_link

DEFAULT_VIEWER = "mirador"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def search_form(q: str = "", viewer: str = DEFAULT_VIEWER, *, autofocus: bool = False) -> str:
    """The search box over every book, with the viewer its hits open in; a plain GET form."""
    options = "".join(
        f'<option value="{esc(key)}"{" selected" if key == viewer else ""}>{esc(item.title)}</option>'
        for key, item in VIEWERS.items()
    )
    return (
        '<form class="search collection-search" method="get" action="/search" role="search" '
        'aria-label="Search every book">'
        '<label for="collection-q">Search every book</label>'
        f'<input type="search" name="q" id="collection-q" value="{esc(q)}" required '
        f'placeholder="a word, &quot;a phrase&quot;, or a prefix*"{" autofocus" if autofocus else ""}>'
        '<label for="collection-viewer">open hits in</label>'
        f'<select name="viewer" id="collection-viewer">{options}</select>'
        '<button type="submit">Search</button></form>'
    )


def results_html(page: BookPage, q: str, viewer: str, base: str) -> str:
    """The body of the results page for one page of books (inside the site layout)."""
    parts = [
        '<nav class="bar"><a class="home" href="/">iiif-search</a></nav>',
        '<main class="page results-page">',
        f"<h1>Books with <q>{esc(q)}</q></h1>",
        search_form(q, viewer),
    ]
    if not page.total_books:
        parts.append(
            f'<p class="summary" id="summary" role="status">No book holds <q>{esc(q)}</q>. '
            "Check the spelling, drop a word, or end a word with <code>*</code> to match its beginning.</p>"
        )
        parts.append("</main>")
        return "".join(parts)
    first, last = page.start + 1, page.start + len(page.books)
    parts.append(
        f'<p class="summary" id="summary" role="status">{_plural(page.total_hits, "hit", "hits")} in '
        f"{_plural(page.total_books, 'book', 'books')}, best first. "
        f"Books {first:,}–{last:,}, page {page.number + 1:,} of {page.last + 1:,}.</p>"
    )
    parts.append(f'<ol class="results" start="{first}" aria-labelledby="summary">')
    parts.extend(_book(result, q, viewer, base) for result in page.books)
    parts.append("</ol>")
    parts.append(_pager(page, q, viewer))
    parts.append("</main>")
    return "".join(parts)


def _book(result: BookResult, q: str, viewer: str, base: str) -> str:
    book = result.book
    manifest = manifest_url(base, book.id)
    title = book.label or book.id
    first_canvas = hit_target(result.first_hits[0].hit, base) if result.first_hits else None
    viewer_title = VIEWERS[viewer].title
    hits = "".join(_hit(found, q, viewer, manifest, base) for found in result.first_hits)
    shown = len(result.first_hits)
    more = (
        f'<a class="all-hits" href="{esc(viewer_link(viewer, manifest, q))}">all {result.hits:,} hits in '
        f"{esc(viewer_title)}</a>"
        if result.hits > shown
        else ""
    )
    return (
        f'<li class="result" data-book="{esc(book.id)}" data-hits="{result.hits}">'
        f'<h2><a class="title" href="{esc(viewer_link(viewer, manifest, q, first_canvas))}">{esc(title)}</a></h2>'
        f'<p class="counts">{_plural(result.hits, "hit", "hits")} on {_plural(result.pages, "page", "pages")}'
        f' · <a class="manifest" href="{esc(manifest)}">IIIF manifest</a>{" · " + more if more else ""}</p>'
        f'<ul class="hits" aria-label="First hits in {esc(title)}">{hits}</ul></li>'
    )


def _hit(found: BookHit, q: str, viewer: str, manifest: str, base: str) -> str:
    hit = found.hit
    link = viewer_link(viewer, manifest, q, hit_target(hit, base))
    picture = ""
    if found.picture is not None:
        left, top, width, height = (round(100 * value, 2) for value in found.picture.mark)
        w, h = found.picture.size
        # The line's picture is decoration beside its own text (the snippet): empty alt.
        picture = (
            f'<span class="line"><img src="{esc(resolved(found.picture.url, base))}" alt="" width="{w}" '
            f'height="{h}" loading="lazy" decoding="async"><span class="mark-box" aria-hidden="true" '
            f'style="left:{left}%;top:{top}%;width:{width}%;height:{height}%"></span></span>'
        )
    # `before` ends and `after` starts with the space that separates them from the match.
    before = f"…{esc(hit.before)}" if hit.before else ""
    after = f"{esc(hit.after)}…" if hit.after else ""
    return (
        f'<li class="hit"><a class="hit-link" href="{esc(link)}" data-canvas="{esc(resolved(hit.canvas_id, base))}">'
        f"{picture}"
        f'<span class="snippet"><span class="where">{esc(found.page_label)}:</span> '
        f"{before}<mark>{esc(hit.text)}</mark>{after}</span></a></li>"
    )


def _pager(page: BookPage, q: str, viewer: str) -> str:
    if page.last == 0 and page.number == 0:
        return ""

    def link(number: int) -> str:
        params: list[tuple[str, str]] = [("q", q)]
        if viewer != DEFAULT_VIEWER:
            params.append(("viewer", viewer))
        params.append(("page", str(number)))
        return url_with("/search", params)

    parts = ['<nav class="pager" aria-label="Result pages">']
    if page.prev is not None:
        parts.append(f'<a rel="prev" href="{esc(link(page.prev))}">← Previous books</a>')
    parts.append(f'<span aria-current="page">Page {page.number + 1:,} of {page.last + 1:,}</span>')
    if page.next is not None:
        parts.append(f'<a rel="next" href="{esc(link(page.next))}">Next books →</a>')
    parts.append("</nav>")
    return "".join(parts)
