"""The landing page: a search over every book, then every indexed book with its manifest, viewer links and a search box.

With no book indexed it says how to index one; when the viewers are not installed it
says how to install them. Any other IIIF manifest can be opened from a form at the bottom.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from indexer.index.records import BookRecord
from search_service.search.urls import collection_url, manifest_url
from search_service.web.deps import BaseUrlDep, SnapshotDep
from search_service.web.pages import esc, render_page
from search_service.web.results_page import search_form
from search_service.web.routes.admin import admin_section
from search_service.web.viewers import VIEWERS, installed_viewers, not_installed_html, viewer_link

router = APIRouter()


def _search_form(manifest: str, form_id: str, title: str) -> str:
    """A search box that opens the book in the chosen viewer with `q` already searched.

    One submit button per viewer, each with its own `formaction`: no JavaScript needed.
    """
    buttons = "".join(
        f'<button type="submit" formaction="/viewer/{esc(key)}"{"" if n == 0 else " class=alt"}>'
        f"{esc(viewer.title)}</button>"
        for n, (key, viewer) in enumerate(VIEWERS.items())
    )
    return (
        # Each search landmark has a name of its own (axe's landmark-unique; #13 added the collection's).
        f'<form class="search" method="get" action="/viewer/mirador" role="search" aria-label="Search in {esc(title)}">'
        f'<input type="hidden" name="manifest" value="{esc(manifest)}">'
        f'<input type="search" name="q" id="{esc(form_id)}" required placeholder="search this book" '
        f'aria-label="search this book">{buttons}</form>'
    )


def _book_row(book: BookRecord, base: str, n: int) -> str:
    manifest = manifest_url(base, book.id)
    links = " · ".join(
        f'<a class="open-{esc(key)}" href="{esc(viewer_link(key, manifest))}">{esc(viewer.title)}</a>'
        for key, viewer in VIEWERS.items()
    )
    pages = (
        f"{book.page_count:,}"
        if book.page_count == book.canvas_count
        else f"{book.page_count:,} of {book.canvas_count:,}"
    )
    return (
        f'<tr class="book" data-book="{esc(book.id)}">'
        f'<td><div class="label">{esc(book.label or book.id)}</div><div class="id">{esc(book.id)}</div></td>'
        f'<td class="num pages">{pages}</td><td class="num words">{book.word_count:,}</td>'
        f'<td><a class="manifest" href="{esc(manifest)}">manifest</a> (IIIF {book.version})</td>'
        f"<td>{links}</td><td>{_search_form(manifest, f'q-{n}', book.label or book.id)}</td></tr>"
    )


def _open_any_form() -> str:
    buttons = "".join(
        f'<button type="submit" formaction="/viewer/{esc(key)}"{"" if n == 0 else " class=alt"}>{esc(viewer.title)}</button>'
        for n, (key, viewer) in enumerate(VIEWERS.items())
    )
    return (
        "<section><h2>Open any IIIF manifest</h2>"
        "<p>The viewers work with any manifest; its own search service (if it declares one) is used.</p>"
        '<form class="open" method="get" action="/viewer/mirador">'
        '<input type="url" name="manifest" required size="60" placeholder="https://example.org/iiif/book/manifest" '
        'aria-label="manifest URL"> <input type="search" name="q" placeholder="search for (optional)" '
        f'aria-label="search for">{buttons}</form></section>'
    )


@router.get("/", response_class=HTMLResponse, summary="Landing page listing the indexed books")
def home(request: Request, snapshot: SnapshotDep, base: BaseUrlDep) -> Response:
    """List the indexed books with their manifests, viewer links and a search box each."""
    return home_page(request, snapshot.books(), base)


def home_page(request: Request, books: list[BookRecord], base: str, notice: str = "") -> Response:
    """The landing page for `books` (a front of shards passes every shard's, and a notice when some are missing)."""
    missing = [key for key, version in installed_viewers(request).items() if version is None]
    parts = [
        '<nav class="bar"><a class="home" href="/">iiif-search</a></nav><main class="page">',
        "<h1>IIIF Content Search</h1>",
        '<p class="lead">Search inside these books in Mirador, the Universal Viewer or Clover: '
        "type a word, and every hit is listed and highlighted on the page.</p>",
    ]
    if notice:
        parts.append(notice)
    if missing:
        parts.append(not_installed_html(missing))
    if books:
        total_words = sum(book.word_count for book in books)
        # The search over every book (#13): a results page of books, best first.
        parts.append(search_form())
        parts.append(
            f'<p class="count">{len(books)} book{"s" if len(books) != 1 else ""}, {total_words:,} words indexed. '
            f'All of them as one <a class="collection" href="{esc(collection_url(base))}">IIIF Collection</a> '
            "with its own search services.</p>"
        )
        parts.append(
            '<table class="books"><thead><tr><th>Book</th><th>Pages</th><th>Words</th>'
            "<th>Manifest</th><th>Open in</th><th>Search</th></tr></thead><tbody>"
        )
        parts.extend(_book_row(book, base, n) for n, book in enumerate(books))
        parts.append("</tbody></table>")
    else:
        parts.append(
            '<div class="empty notice"><strong>No books indexed yet.</strong> Index one, then reload this page '
            "(the server picks new books up without a restart):"
            "<pre><code>.venv/bin/index-manifest sample_books/en_harper_half_hours_with_highwaymen_1908\n"
            ".venv/bin/index-manifest https://iiif.wellcomecollection.org/presentation/v3/b21506115</code></pre>"
            "Add <code>--data-dir DIR</code> if the server was started with one.</div>"
        )
    # The admin view (#22): jobs and the add-a-book form, for a logged-in reader only.
    admin = admin_section(request)
    parts.append(admin)
    parts.append(_open_any_form())
    parts.append("</main>")
    response = render_page("IIIF Content Search", "".join(parts), body_class="home")
    if admin:
        # It holds the reader's CSRF token and the jobs: never kept by a shared cache or shown to another reader.
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Vary"] = "Cookie"
    return response
