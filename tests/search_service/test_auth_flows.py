"""The login flows of restricted books (#22), through a real `iiif-search serve`.

One server for the module, on a data directory of its own holding a public, a restricted and
a clickthrough book (the hOCR pages of conftest.py's `stanford`), with a password file made here (one `$2b$` line, one `$2y$` line as Apache's `htpasswd -B` writes), a
trusted single sign-on header, one viewer origin allowed besides the server's own, and a
known signing key so the tests can forge, tamper with and expire tokens.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest

from indexer.index.library import Library
from ocr.hocr import parse_pages
from search_service.web.auth import tokens
from search_service.web.auth.reader import COOKIE
from tests.conftest import read_test_file
from tests.reliability.conftest import LiveServer
from tests.search_service.conftest import STANFORD_HOCR, Corpus, build_book

SECRET = "test-secret-of-the-auth-flows-0123456789"
VIEWER_ORIGIN = "https://viewer.example.org"
SSO_HEADER = "X-Remote-User"
USERS = {"ada": "lovelace", "grace": "hopper"}
EVERY_LEVEL = {"public", "clickthrough", "restricted"}


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "htpasswd"
    ada = bcrypt.hashpw(USERS["ada"].encode(), bcrypt.gensalt(rounds=4)).decode()
    grace = bcrypt.hashpw(USERS["grace"].encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"ada:{ada}\ngrace:$2y${grace[4:]}\n")  # $2y$: what htpasswd -B writes
    return path


#: The books of the module's server, by access level; a word every one of them holds.
BOOKS = {"public": "open-book", "restricted": "closed-book", "clickthrough": "terms-book"}
WORD = "the"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus) -> Path:
    folder = tmp_path_factory.mktemp("auth-books")
    library = Library(folder)
    pages = [parse_pages(read_test_file(Path("ocr/hocr") / name))[0] for name in STANFORD_HOCR[:2]]
    for level, book in BOOKS.items():
        build_book(library.store(level), book, corpus.manifests["stanford"], pages, 2)
    return folder


@pytest.fixture(scope="module")
def server(data_dir: Path, htpasswd: Path) -> Iterator[LiveServer]:
    env = {
        "IIIF_SEARCH_HTPASSWD": str(htpasswd),
        "IIIF_SEARCH_TRUSTED_USER_HEADER": SSO_HEADER,
        "IIIF_SEARCH_AUTH_ORIGINS": VIEWER_ORIGIN,
        "IIIF_SEARCH_AUTH_SECRET": SECRET,
    }
    live = LiveServer(data_dir, env=env)
    yield live
    live.stop()


@pytest.fixture
def browser(server: LiveServer) -> Iterator[httpx.Client]:
    """A client that keeps cookies, as a browser does."""
    with httpx.Client(base_url=server.base, timeout=10) as client:
        yield client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(client: httpx.Client, user: str = "ada", password: str | None = None) -> httpx.Response:
    form = client.get("/auth/login")
    assert form.status_code == 200, form.text
    data = {"csrf": csrf_of(form.text), "user": user, "password": USERS.get(user, "") if password is None else password}
    return client.post("/auth/login", data=data)


def access_cookie_header(response: httpx.Response) -> str:
    found = [v for v in response.headers.get_list("set-cookie") if v.startswith(COOKIE + "=")]
    assert len(found) == 1, response.headers
    return found[0]


def grant_of(token: str) -> tokens.Grant:
    grant = tokens.verify(token, SECRET.encode())
    assert grant is not None
    return grant


def frame_message(response: httpx.Response) -> tuple[dict[str, Any], str]:
    """The message a token service page posts, and the origin it posts to."""
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    found = re.search(r'data-origin="([^"]*)" data-message="([^"]*)"', response.text)
    assert found, response.text
    return json.loads(html.unescape(found.group(2))), html.unescape(found.group(1))


# -- logging in ----------------------------------------------------------------------------------


def test_the_login_form_sets_an_httponly_cookie_and_closes_its_window(browser: httpx.Client) -> None:
    done = log_in(browser)
    assert done.status_code == 200, done.text
    cookie = access_cookie_header(done).lower()
    # Plain http: not Secure, so SameSite=Lax (a browser drops SameSite=None without Secure).
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert "auth-close.js" in done.text and "script-src 'self'" in done.headers["content-security-policy"]
    assert done.headers["cache-control"] == "no-store"
    grant = grant_of(browser.cookies[COOKIE])
    assert grant.user == "ada" and grant.levels == EVERY_LEVEL
    assert 7.9 * 3600 < grant.expires - time.time() <= 8 * 3600  # session_hours' default


def test_a_2y_line_logs_in_with_http_basic(browser: httpx.Client) -> None:
    done = browser.get("/auth/login", auth=("grace", "hopper"))
    assert done.status_code == 200, done.text
    assert grant_of(browser.cookies[COOKIE]).user == "grace"


def test_wrong_passwords_and_unknown_users_are_refused(browser: httpx.Client) -> None:
    for user, password in (("ada", "hopper"), ("nobody", "lovelace"), ("ada", ""), ("a:b", "x")):
        refused = log_in(browser, user, password)
        assert refused.status_code == 403 and "Wrong user name or password" in refused.text
        assert COOKIE not in browser.cookies
    basic = browser.get("/auth/login", auth=("ada", "hopper"))
    assert basic.status_code == 401 and basic.headers["www-authenticate"].startswith("Basic realm=")
    assert COOKIE not in browser.cookies


def test_a_form_without_its_csrf_token_or_from_another_site_is_refused(browser: httpx.Client) -> None:
    browser.get("/auth/login")  # the CSRF cookie is set, but the token is not sent
    missing = browser.post("/auth/login", data={"user": "ada", "password": "lovelace"})
    assert missing.status_code == 403 and "expired or did not come from this server" in missing.text
    token = csrf_of(browser.get("/auth/login").text)
    data = {"csrf": token, "user": "ada", "password": "lovelace"}
    elsewhere = browser.post("/auth/login", data=data, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403 and "another site" in elsewhere.text
    not_a_form = browser.post("/auth/login", json=data)
    assert not_a_form.status_code == 403
    assert COOKIE not in browser.cookies


def test_the_sso_proxys_header_logs_in(browser: httpx.Client) -> None:
    done = browser.get("/auth/login", headers={SSO_HEADER: "carol@library.example"})
    assert done.status_code == 200, done.text
    grant = grant_of(browser.cookies[COOKIE])
    assert grant.user == "carol@library.example" and grant.levels == EVERY_LEVEL


def test_the_clickthrough_grants_the_clickthrough_level_only(browser: httpx.Client) -> None:
    terms = browser.get("/auth/clickthrough")
    assert terms.status_code == 200 and "I agree" in terms.text
    assert browser.post("/auth/clickthrough", data={}).status_code == 403  # no CSRF token
    agreed = browser.post("/auth/clickthrough", data={"csrf": csrf_of(terms.text)})
    assert agreed.status_code == 200 and "auth-close.js" in agreed.text
    assert grant_of(browser.cookies[COOKIE]).levels == {"public", "clickthrough"}


# -- the token services --------------------------------------------------------------------------


def test_both_token_services_post_the_specs_messages(browser: httpx.Client, server: LiveServer) -> None:
    own = server.base
    log_in(browser)
    cookie_token = browser.cookies[COOKIE]

    message, origin = frame_message(browser.get("/auth/1/token", params={"messageId": "m1", "origin": own + "/"}))
    assert origin == own
    assert set(message) == {"accessToken", "expiresIn", "messageId"} and message["messageId"] == "m1"
    assert grant_of(message["accessToken"]).session == grant_of(cookie_token).session
    assert 0 < message["expiresIn"] <= 8 * 3600

    response = browser.get("/auth/2/token", params={"messageId": "m2", "origin": VIEWER_ORIGIN})
    message, origin = frame_message(response)
    assert origin == VIEWER_ORIGIN
    assert message["@context"] == "http://iiif.io/api/auth/2/context.json"
    assert message["type"] == "AuthAccessToken2" and message["messageId"] == "m2"
    assert grant_of(message["accessToken"]).user == "ada"
    # The page is framed by the viewer that asked, runs our script file only, and is never cached.
    policy = response.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {VIEWER_ORIGIN}" in policy and "script-src 'self'" in policy
    assert "x-frame-options" not in response.headers and response.headers["cache-control"] == "no-store"

    plain = browser.get("/auth/1/token")  # Auth 1.0's JSON form, for clients outside a browser
    assert plain.status_code == 200 and set(plain.json()) == {"accessToken", "expiresIn"}


def test_without_a_cookie_the_token_services_post_the_specs_errors(server: LiveServer) -> None:
    with httpx.Client(base_url=server.base) as anonymous:
        message, _ = frame_message(anonymous.get("/auth/1/token", params={"messageId": "1", "origin": server.base}))
        assert message["error"] == "missingCredentials" and message["messageId"] == "1"
        assert "accessToken" not in message
        message, _ = frame_message(anonymous.get("/auth/2/token", params={"messageId": "2", "origin": server.base}))
        assert message["type"] == "AuthAccessTokenError2" and message["profile"] == "missingAspect"
        assert message["heading"]["en"] and message["note"]["en"] and message["messageId"] == "2"
        plain = anonymous.get("/auth/1/token")
        assert plain.status_code == 401 and plain.json()["error"] == "missingCredentials"


def test_another_origin_gets_no_token(browser: httpx.Client) -> None:
    """A page of another site framing the token service with its own origin gets an error, not the token."""
    log_in(browser)
    for path in ("/auth/1/token", "/auth/2/token"):
        response = browser.get(path, params={"messageId": "x", "origin": "https://evil.example"})
        message, origin = frame_message(response)
        assert origin == "https://evil.example" and "accessToken" not in message
        assert message.get("error", message.get("profile")) == "invalidOrigin"
        assert browser.cookies[COOKIE] not in response.text


def test_a_token_request_no_frame_can_answer_gets_a_400(browser: httpx.Client) -> None:
    for params in ({"origin": VIEWER_ORIGIN}, {"messageId": "1", "origin": "javascript:alert(1)"}, {"messageId": "1"}):
        refused = browser.get("/auth/2/token", params=params)
        assert refused.status_code == 400 and refused.json()["parameter"] in ("messageId", "origin")


# -- the probe, logout, and tokens that are not ours ----------------------------------------------


def probe(server: LiveServer, book: str, token: str | None = None) -> dict[str, Any]:
    response = httpx.get(f"{server.base}/auth/2/probe/{book}", headers=bearer(token))
    assert response.status_code == 200  # whatever it says (Auth 2.0 section 5.2)
    result: dict[str, Any] = response.json()
    assert result["@context"] == "http://iiif.io/api/auth/2/context.json" and result["type"] == "AuthProbeResult2"
    return result


def search_status(server: LiveServer, book: str, token: str) -> int:
    response = httpx.get(f"{server.base}/iiif/{book}/search/2", params={"q": WORD}, headers=bearer(token))
    return response.status_code


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def test_the_probe_says_what_each_book_would_answer(browser: httpx.Client, server: LiveServer) -> None:
    assert probe(server, BOOKS["public"])["status"] == 200
    unknown = probe(server, "no-such-book")
    assert unknown["status"] == 404 and unknown["heading"]["en"]
    for level in ("restricted", "clickthrough"):
        refused = probe(server, BOOKS[level])
        assert refused["status"] == 401 and refused["heading"]["en"] and refused["note"]["en"]
    log_in(browser)
    message, _ = frame_message(browser.get("/auth/2/token", params={"messageId": "1", "origin": server.base}))
    token = message["accessToken"]
    assert [probe(server, BOOKS[level], token)["status"] for level in BOOKS] == [200, 200, 200]
    assert search_status(server, BOOKS["restricted"], token) == 200  # what the probe promised


def test_a_clickthrough_opens_the_clickthrough_book_only(browser: httpx.Client, server: LiveServer) -> None:
    terms = browser.get("/auth/clickthrough")
    browser.post("/auth/clickthrough", data={"csrf": csrf_of(terms.text)})
    message, _ = frame_message(browser.get("/auth/2/token", params={"messageId": "1", "origin": server.base}))
    token = message["accessToken"]
    assert probe(server, BOOKS["clickthrough"], token)["status"] == 200
    assert probe(server, BOOKS["restricted"], token)["status"] == 401
    assert search_status(server, BOOKS["restricted"], token) == 401


def cookie_state(server: LiveServer, token: str) -> tuple[int, str, str]:
    """What the token services say of `token` in the access cookie: 1.0's status and error, 2.0's profile."""
    with httpx.Client(base_url=server.base, cookies={COOKIE: token}) as client:
        plain = client.get("/auth/1/token")
        message, _ = frame_message(client.get("/auth/2/token", params={"messageId": "p", "origin": server.base}))
    return plain.status_code, plain.json().get("error", ""), message.get("profile", message["type"])


def test_logout_revokes_the_session_so_a_replayed_token_is_refused(browser: httpx.Client, server: LiveServer) -> None:
    log_in(browser)
    token = browser.cookies[COOKIE]
    assert cookie_state(server, token) == (200, "", "AuthAccessToken2")
    assert search_status(server, BOOKS["restricted"], token) == 200
    out = browser.get("/auth/logout")
    assert out.status_code == 200 and "logged out" in out.text
    cleared = access_cookie_header(out).lower()
    assert 'iiif_access=""' in cleared and "max-age=0" in cleared
    # The same token, replayed as a cookie or a bearer token, opens nothing anymore.
    assert cookie_state(server, token) == (401, "invalidCredentials", "expiredAspect")
    assert probe(server, BOOKS["restricted"], token)["status"] == 401
    assert search_status(server, BOOKS["restricted"], token) == 401
    with httpx.Client(base_url=server.base, cookies={COOKIE: token}) as replay:
        assert replay.get(f"/iiif/{BOOKS['restricted']}/search/1", params={"q": WORD}).status_code == 401


def test_forged_expired_and_tampered_tokens_are_refused(server: LiveServer) -> None:
    session = tokens.new_session()
    levels = frozenset(EVERY_LEVEL)
    in_an_hour = int(time.time()) + 3600
    forged = tokens.sign(tokens.Grant(session, "mallory", levels, in_an_hour), b"not-the-server-secret-at-all")
    expired = tokens.sign(tokens.Grant(session, "ada", levels, int(time.time()) - 1), SECRET.encode())
    clickthrough = tokens.sign(tokens.Grant(session, "eve", frozenset({"clickthrough"}), in_an_hour), SECRET.encode())
    version, payload, signature = clickthrough.split(".")
    more = json.loads(tokens._unb64(payload)) | {"l": sorted(EVERY_LEVEL)}
    tampered = ".".join((version, tokens._b64(json.dumps(more).encode()), signature))
    assert cookie_state(server, forged) == (401, "invalidCredentials", "invalidAspect")
    assert cookie_state(server, tampered) == (401, "invalidCredentials", "invalidAspect")
    assert cookie_state(server, expired) == (401, "invalidCredentials", "expiredAspect")
    assert cookie_state(server, clickthrough)[0] == 200  # the untampered one is fine
    for token in (forged, tampered, expired):
        assert probe(server, BOOKS["restricted"], token)["status"] == 401
        assert search_status(server, BOOKS["restricted"], token) == 401


def test_the_login_page_without_a_login_configured_says_what_to_set(data_dir: Path) -> None:
    live = LiveServer(data_dir)
    try:
        page = httpx.get(live.base + "/auth/login")
        assert page.status_code == 503 and "IIIF_SEARCH_HTPASSWD" in page.text
    finally:
        live.stop()


async def test_over_https_the_cookie_is_secure_and_samesite_none(corpus: Corpus) -> None:
    """Behind a TLS proxy (the public URL's scheme), so a viewer on another site sends it with images."""
    from search_service.settings import Settings
    from search_service.web.app import create_app
    from tests.conftest import TEST_HOSTS

    settings = Settings(
        data_dir=corpus.data_dir,
        allowed_hosts=TEST_HOSTS,
        public_url="https://iiif.library.example",
        trusted_user_header=SSO_HEADER,
        auth_secret=SECRET,
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        done = await client.get("/auth/login", headers={SSO_HEADER: "ada"})
        cookie = access_cookie_header(done).lower()
        assert "secure" in cookie and "samesite=none" in cookie and "httponly" in cookie
        client.cookies.set(COOKIE, done.cookies[COOKIE])  # the test client keeps no Secure cookie over http
        out = await client.get("/auth/logout")
        assert "secure" in access_cookie_header(out).lower()
