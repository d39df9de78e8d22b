"""Refusing a restricted book's resources to a reader without access (#22), by book or by image file.

Collection answers need no gate: they are built from what the reader may read
(deps.get_search_context, Library.snapshot). A book's own routes ask `check_book` before
anything else, so a refused request never reaches the response cache or a 304.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import HTTPConnection

from indexer.index.library import Library
from search_service.errors import AccessDenied, UnknownBook
from search_service.web.auth.reader import reader_of


def library_of(connection: HTTPConnection) -> Library:
    library: Library = connection.app.state.library
    return library


def denied_message(access: str) -> str:
    if access == "clickthrough":
        return "this book is shown to readers who accept its terms of use: agree to them at /auth/clickthrough"
    return "this book is restricted: log in at /auth/login to read it"


def check_book(connection: HTTPConnection, book_id: str) -> str:
    """The book's access level when the reader may read it; AccessDenied (401) or UnknownBook (404) else."""
    access = library_of(connection).access_of(book_id)
    if access is None:
        raise UnknownBook(f"no book {book_id!r} is indexed here")
    if not reader_of(connection).may_read(access):
        raise AccessDenied(denied_message(access))
    return access


def image_access(connection: HTTPConnection, source: Path) -> tuple[str, str | None]:
    """The access level of an image file and the book it belongs to (public, None: not a guarded book's)."""
    return library_of(connection).image_access(source)
