"""The IIIF Auth services (#22): log in, agree to terms, get a token, probe a book, log out.

The URL layout and the service descriptions are in web/auth/services.py; docs/access.md
tells a library how to set it up. Who may log in is decided by what the library already
runs: a password file as `htpasswd -B` writes it (a form, or HTTP Basic), or the user its
single sign-on proxy names in a trusted header. A login grants every access level; a
clickthrough grants the public and clickthrough levels.

Both flows end the same way: the access cookie is set (HttpOnly; web/auth/session.py) and
the window the viewer opened closes itself; the viewer then frames a token service, whose
page posts the token to the viewer's origin, and sends it as `Authorization: Bearer`.
The pages run no inline script (our CSP): the closing and posting are two script files
of web/static/, and the token message is data in an attribute.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from typing import Annotated, Any
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from indexer.paths import ACCESS_LEVELS
from search_service.errors import error_body
from search_service.settings import Settings
from search_service.web.auth import tokens
from search_service.web.auth.gate import library_of
from search_service.web.auth.passwords import PasswordFile
from search_service.web.auth.reader import COOKIE, Access, Reader, bearer_token, reader_of
from search_service.web.auth.services import AUTH2_CONTEXT
from search_service.web.auth.session import (
    CSRF_COOKIE,
    clear_access_cookie,
    csrf_ok,
    csrf_pair,
    origin_allowed,
    origin_of,
    set_access_cookie,
    set_csrf_cookie,
)
from search_service.web.pages import PAGE_CSP, asset_url, esc, framing_headers, render_page
from search_service.web.responses import base_url

log = logging.getLogger("iiif_search.auth")
router = APIRouter(prefix="/auth", tags=["access"])

#: Our pages' policy, plus our own script files: the login and clickthrough pages close themselves.
AUTH_PAGE_CSP = PAGE_CSP + "; script-src 'self'"
#: A login form is a few hundred bytes; more is not a form of ours.
MAX_FORM_BYTES = 8192
MAX_MESSAGE_ID = 256
NO_STORE = {"Cache-Control": "no-store"}
CLICKTHROUGH_USER = "(clickthrough)"
#: The token services' `messageId` parameter (the specs' name).
MessageId = Annotated[str | None, Query(alias="messageId")]


# -- shared pieces ---------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _access(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


def _base(request: Request) -> str:
    return base_url(request, _settings(request))


def _lifetime(request: Request) -> int:
    return int(_settings(request).session_hours * 3600)


def _password_file(request: Request) -> PasswordFile | None:
    """The configured password file, one object per app (it caches the parsed file)."""
    path = _settings(request).htpasswd
    if path is None:
        return None
    found: PasswordFile | None = getattr(request.app.state, "password_file", None)
    if found is None or found.path != path:
        found = PasswordFile(path)
        request.app.state.password_file = found
    return found


def _page(title: str, body: str, status: int = 200, closes: bool = False) -> HTMLResponse:
    """An auth page in the site's layout; `closes`: it closes its window (the login is done)."""
    head = f'<script src="{esc(asset_url("auth-close.js"))}" defer></script>' if closes else ""
    html = f'<nav class="bar"><a class="home" href="/">iiif-search</a></nav><main class="page">{body}</main>'
    response = render_page(title, html, status_code=status, head=head, security=framing_headers(AUTH_PAGE_CSP))
    response.headers.update(NO_STORE)  # a login page holds a CSRF token; an answer of it a session
    return response


def _done_page(request: Request, what: str) -> HTMLResponse:
    return _page(
        "Access granted",
        f'<h1>{esc(what)}</h1><p class="lead">This window closes by itself; if it does not, close it and '
        f'go back to the book. <a href="/auth/logout">Log out</a>.</p>',
        closes=True,
    )


def _grant(request: Request, user: str, levels: frozenset[str], how: str, what: str) -> HTMLResponse:
    """Start a new session for `user` (never reuse one: no session fixation), set its cookie, close."""
    access = _access(request)
    grant = access.mint(user, levels, _lifetime(request))
    response = _done_page(request, what)
    set_access_cookie(response, access.token(grant), _lifetime(request), _base(request))
    client = request.client.host if request.client else "?"
    log.info("access granted: user=%r levels=%s via=%s client=%s", user, ",".join(sorted(levels)), how, client)
    return response


async def _read_form(request: Request) -> dict[str, str] | None:
    """A posted `application/x-www-form-urlencoded` form, None when it is not one or too large."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items()}


def _form_problem(request: Request, form: dict[str, str] | None) -> str | None:
    """Why a posted form is refused: not ours (CSRF), from another site, or unreadable; None when fine."""
    sent_from = request.headers.get("origin")
    if sent_from is not None and origin_of(sent_from) != origin_of(_base(request)):
        return "The form was sent from another site."
    if form is None:
        return "The request is not a form of this page."
    if not csrf_ok(_access(request).secret, request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        return "The form has expired or did not come from this server: open the page again."
    return None


def _form_page(request: Request, title: str, body: str, status: int = 200) -> HTMLResponse:
    """A page holding a form: `{csrf}` in `body` is filled in, and its cookie set."""
    nonce, form_token = csrf_pair(_access(request).secret)
    response = _page(title, body.replace("{csrf}", esc(form_token)), status)
    set_csrf_cookie(response, nonce, _base(request))
    return response


def _refused_page(title: str, reason: str, status: int) -> HTMLResponse:
    return _page(title, f'<h1>{esc(title)}</h1><p class="notice">{esc(reason)}</p>', status)


def _valid_user(name: str) -> bool:
    return 0 < len(name) <= 255 and name.isprintable() and ":" not in name


# -- the login access service ----------------------------------------------------------------


def _login_form(request: Request, problem: str = "", status: int = 200) -> HTMLResponse:
    notice = f'<p class="notice" role="alert">{esc(problem)}</p>' if problem else ""
    body = (
        "<h1>Log in</h1>"
        '<p class="lead">Log in to see the restricted books of this library.</p>'
        f"{notice}"
        '<form class="login" method="post" action="/auth/login">'
        '<input type="hidden" name="csrf" value="{csrf}">'
        '<p><label for="user">User name</label><br>'
        '<input id="user" name="user" autocomplete="username" required maxlength="255"></p>'
        '<p><label for="password">Password</label><br>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required></p>'
        '<p><button type="submit">Log in</button></p>'
        "</form>"
    )
    return _form_page(request, "Log in", body, status)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    return (user, password) if sep else ("", "")


def _basic_challenge(problem: str) -> HTMLResponse:
    response = _refused_page("Log in", problem, 401)
    response.headers["WWW-Authenticate"] = 'Basic realm="iiif-search", charset="UTF-8"'
    return response


async def _password_ok(request: Request, passwords: PasswordFile, user: str, password: str) -> bool | None:
    """bcrypt's deliberate slowness runs in a thread, off the event loop; None when the file is unreadable."""
    try:
        return await anyio.to_thread.run_sync(passwords.check, user, password)
    except OSError as error:
        log.error("the password file %s cannot be read: %s", passwords.path, error)
        return None


def _login_failed(request: Request, user: str, how: str) -> None:
    client = request.client.host if request.client else "?"
    log.warning("login refused: user=%r via=%s client=%s", user, how, client)


_UNREADABLE = "The password file of this server cannot be read; the server's log says why."


@router.get("/login", include_in_schema=False)
async def login_page(request: Request, basic: bool = False) -> Response:
    """The login access service (Auth 1.0 login, Auth 2.0 active): the SSO header, HTTP Basic, or the form."""
    settings = _settings(request)
    everything = frozenset(ACCESS_LEVELS)
    if settings.trusted_user_header:
        user = request.headers.get(settings.trusted_user_header, "").strip()
        if user:
            if not _valid_user(user):
                return _refused_page("Log in", "The single sign-on proxy sent a user name this server cannot use.", 400)
            return _grant(request, user, everything, "header", "You are logged in")
    passwords = _password_file(request)
    credentials = _basic_credentials(request)
    if passwords is not None and credentials is not None:
        user, password = credentials
        ok = await _password_ok(request, passwords, user, password) if _valid_user(user) else False
        if ok is None:
            return _refused_page("Log in", _UNREADABLE, 503)
        if not ok:
            _login_failed(request, user, "basic")
            return _basic_challenge("Wrong user name or password.")
        return _grant(request, user, everything, "basic", "You are logged in")
    if "restricted" in reader_of(request).levels:
        return _done_page(request, "You are already logged in")
    if passwords is not None:
        return _basic_challenge("Log in with your user name and password.") if basic else _login_form(request)
    if settings.trusted_user_header:
        return _refused_page(
            "Log in",
            "The single sign-on proxy in front of this server did not name a user: /auth/login must be served "
            "through it (docs/access.md).",
            403,
        )
    return _refused_page(
        "Log in",
        "No login is configured on this server: set IIIF_SEARCH_HTPASSWD or IIIF_SEARCH_TRUSTED_USER_HEADER.",
        503,
    )


@router.post("/login", include_in_schema=False)
async def login_form(request: Request) -> Response:
    """The login form's POST: the CSRF token, then the user name and password against the password file."""
    passwords = _password_file(request)
    if passwords is None:
        return _refused_page("Log in", "This server has no password file (IIIF_SEARCH_HTPASSWD).", 404)
    form = await _read_form(request)
    problem = _form_problem(request, form)
    if problem is not None or form is None:
        return _login_form(request, problem or "", 403)
    user, password = form.get("user", "").strip(), form.get("password", "")
    ok = await _password_ok(request, passwords, user, password) if _valid_user(user) else False
    if ok is None:
        return _refused_page("Log in", _UNREADABLE, 503)
    if not ok:
        _login_failed(request, user, "form")
        return _login_form(request, "Wrong user name or password.", 403)
    return _grant(request, user, frozenset(ACCESS_LEVELS), "form", "You are logged in")


# -- the clickthrough access service ---------------------------------------------------------


@router.get("/clickthrough", include_in_schema=False)
async def clickthrough_page(request: Request) -> Response:
    """The terms and an "I agree" button; the agreement is given here, on this server's own page."""
    if reader_of(request).may_read("clickthrough"):
        return _done_page(request, "You have already agreed to the terms")
    body = (
        "<h1>Terms of use</h1>"
        '<p class="lead">Some books of this library are shown to readers who accept their terms of use: '
        "they are for private study and research; do not republish their pages.</p>"
        '<form class="search" method="post" action="/auth/clickthrough">'
        '<input type="hidden" name="csrf" value="{csrf}">'
        '<button type="submit">I agree</button>'
        "</form>"
    )
    return _form_page(request, "Terms of use", body)


@router.post("/clickthrough", include_in_schema=False)
async def clickthrough_agree(request: Request) -> Response:
    form = await _read_form(request)
    problem = _form_problem(request, form)
    if problem is not None:
        return _refused_page("Terms of use", problem, 403)
    if reader_of(request).may_read("clickthrough"):
        return _done_page(request, "You have already agreed to the terms")  # a login is not downgraded
    levels = frozenset({"public", "clickthrough"})
    return _grant(request, CLICKTHROUGH_USER, levels, "clickthrough", "You have agreed to the terms")


# -- the access token services ---------------------------------------------------------------


def _cookie_grant(request: Request) -> tuple[Reader, str]:
    """The cookie's reader and, when it holds none, why: `missing`, `invalid` (not ours) or `expired`."""
    access = _access(request)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return reader_of(request), "missing"
    reader = access.check(cookie)
    if not reader.anonymous:
        return reader, ""
    # Signed by us yet refused: it expired, or its session was logged out.
    return reader, "expired" if tokens.verify(cookie, access.secret, now=0) is not None else "invalid"


def _token_frame(message: dict[str, Any], origin: str) -> HTMLResponse:
    """The page a viewer frames: our script posts `message` to `origin` (the only origin that can read it)."""
    script = esc(asset_url("auth-token.js"))
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Access token</title>'
        f'<script src="{script}" defer></script></head><body>'
        f'<div id="iiif-auth-message" data-origin="{esc(origin)}" data-message="{esc(json.dumps(message))}"></div>'
        "</body></html>"
    )
    # Framed by the viewer that asked; the token is only in the page when that origin is allowed.
    policy = (
        f"default-src 'none'; script-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self' {origin}"
    )
    headers = {**NO_STORE, "Content-Security-Policy": policy, "Referrer-Policy": "no-referrer"}
    return HTMLResponse(html, headers=headers)


def _frame_request_problem(message_id: str | None, origin: str | None) -> tuple[JSONResponse | None, str]:
    """A 400 for a token request no frame can be answered to, else None and the viewer's origin."""
    if message_id is None or len(message_id) > MAX_MESSAGE_ID:
        problem = f"messageId (at most {MAX_MESSAGE_ID} characters) is required: open this service in a frame"
        return JSONResponse(error_body(problem, 400, "messageId"), 400, headers=NO_STORE), ""
    found = origin_of(origin)
    if found is None:
        problem = "origin must be the http(s) origin of the viewer's page, e.g. https://viewer.example.org"
        return JSONResponse(error_body(problem, 400, "origin"), 400, headers=NO_STORE), ""
    return None, found


_AUTH1_ERRORS = {
    "missing": ("missingCredentials", "You are not logged in, or you have not agreed to the terms."),
    "invalid": ("invalidCredentials", "The access cookie is not one of this server's."),
    "expired": ("invalidCredentials", "The login has expired or was logged out: log in again."),
    "origin": ("invalidOrigin", "This viewer's site may not receive access tokens from this server."),
}


@router.get("/1/token", summary="Auth 1.0 access token service")
async def token_v1(request: Request, message_id: MessageId = None, origin: str | None = None) -> Response:
    """The token for the access cookie: JSON without `messageId`, else a page posting it to `origin`."""
    reader, why = _cookie_grant(request)
    if message_id is None and origin is None:
        if why:
            error, description = _AUTH1_ERRORS[why]
            return JSONResponse({"error": error, "description": description}, 401, headers=NO_STORE)
        return JSONResponse(_token_body(request, reader), headers=NO_STORE)
    refused, viewer = _frame_request_problem(message_id, origin)
    if refused is not None:
        return refused
    if not origin_allowed(viewer, _base(request), _settings(request).auth_origin_list()):
        why = "origin"
    if why:
        error, description = _AUTH1_ERRORS[why]
        return _token_frame({"error": error, "description": description, "messageId": message_id}, viewer)
    return _token_frame({**_token_body(request, reader), "messageId": message_id}, viewer)


def _token_body(request: Request, reader: Reader) -> dict[str, Any]:
    """The token of the cookie's session (the same grant: logout revokes both) and its seconds left."""
    token = request.cookies.get(COOKIE, "")
    return {"accessToken": token, "expiresIn": max(1, reader.expires - int(time.time()))}


_AUTH2_ERRORS = {
    "missing": ("missingAspect", "Not logged in", "Log in, or agree to the terms, to see this book."),
    "invalid": ("invalidAspect", "Not logged in", "The access cookie is not one of this server's: log in again."),
    "expired": ("expiredAspect", "Login expired", "The login has expired or was logged out: log in again."),
    "origin": ("invalidOrigin", "Viewer not allowed", "This viewer's site may not receive access tokens here."),
}


@router.get("/2/token", summary="Auth 2.0 access token service")
async def token_v2(request: Request, message_id: MessageId = None, origin: str | None = None) -> Response:
    """A page posting an AuthAccessToken2 (or an AuthAccessTokenError2) to the framing viewer's `origin`."""
    refused, viewer = _frame_request_problem(message_id, origin)
    if refused is not None:
        return refused
    reader, why = _cookie_grant(request)
    if not origin_allowed(viewer, _base(request), _settings(request).auth_origin_list()):
        why = "origin"
    if why:
        profile, heading, note = _AUTH2_ERRORS[why]
        error = {
            "@context": AUTH2_CONTEXT,
            "type": "AuthAccessTokenError2",
            "profile": profile,
            "heading": {"en": [heading]},
            "note": {"en": [note]},
            "messageId": message_id,
        }
        return _token_frame(error, viewer)
    message = {"@context": AUTH2_CONTEXT, "type": "AuthAccessToken2", **_token_body(request, reader)}
    return _token_frame({**message, "messageId": message_id}, viewer)


# -- the probe service -----------------------------------------------------------------------


@router.get("/2/probe/{book_id}", summary="Auth 2.0 probe service of a book")
async def probe(request: Request, book_id: str) -> JSONResponse:
    """AuthProbeResult2: the status the book's images and search would answer this bearer token."""
    level = library_of(request).access_of(book_id)
    result: dict[str, Any] = {"@context": AUTH2_CONTEXT, "type": "AuthProbeResult2"}
    if level is None:
        result.update(status=404, heading={"en": ["Unknown book"]}, note={"en": [f"No book {book_id!r} here."]})
    elif reader_of(request).may_read(level):
        result["status"] = 200
    else:
        login = level == "restricted"
        result.update(
            status=401,
            heading={"en": ["Restricted book" if login else "Terms of use"]},
            note={"en": ["Log in to see this book." if login else "Agree to the terms of use to see this book."]},
        )
    # The probe answers 200 whatever it says (Auth 2.0 section 5.2); what it says depends on the token.
    return JSONResponse(result, headers={**NO_STORE, "Vary": "Authorization, Cookie"})


# -- logout ----------------------------------------------------------------------------------


@router.get("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    """Revoke the session of the cookie and of the bearer token, everywhere; delete the cookie."""
    access = _access(request)
    sessions = {}
    for token in (request.cookies.get(COOKIE), bearer_token(request)):
        reader = access.check(token)
        if reader.session is not None:
            sessions[reader.session] = (reader.user, reader.expires)
    for session, (user, expires) in sessions.items():
        await anyio.to_thread.run_sync(access.store.revoke, session, expires)
        log.info("logged out: user=%r", user)
    response = _page(
        "Logged out",
        '<h1>You are logged out</h1><p class="lead">Restricted books are hidden again in this browser. '
        'You can close this window. <a href="/auth/login">Log in again</a>.</p>',
    )
    clear_access_cookie(response, _base(request))
    return response
