"""The admin API (#22) through a live `iiif-search serve`: keys, jobs, removal, refusals, the admin view.

Each book added is served by a loopback http.server (tests/search_service/admin_site.py) with
hOCR linked from its canvases, so a job reads real OCR files without Tesseract and in seconds;
each hOCR page is answered after a delay, so its progress can be watched while it runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from search_service.cli import main as iiif_search
from search_service.web.auth.reader import COOKIE, Access
from tests.reliability.conftest import LiveServer, free_port
from tests.search_service.admin_site import SEED, Api, Library, peru_pages, seeded_data_dir


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    served = Library(peru_pages(tmp_path_factory.mktemp("peru")), delay=0.25)
    yield served
    served.close()


class Site:
    def __init__(self, data_dir: Path, server: LiveServer, key: str) -> None:
        self.data_dir = data_dir
        self.server = server
        self.api = Api(server.base, key=key)
        self.anonymous = Api(server.base)

    def total(self, book: str, q: str) -> int:
        return self.server.total(book, q)

    def cookie(self, levels: frozenset[str], user: str = "ada") -> str:
        """An access cookie as the login flow sets it, signed with the server's own secret."""
        access = Access.for_settings(None, self.data_dir)
        return f"{COOKIE}={access.token(access.mint(user, levels, 3600))}"


def add_key(data_dir: Path, name: str) -> str:
    result = CliRunner().invoke(iiif_search, ["keys", "add", name, "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, library: Library) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("admin")
    data_dir = seeded_data_dir(tmp / "data", library.pages, tmp)
    key = add_key(data_dir, "catalogue")
    server = LiveServer(data_dir)
    try:
        yield Site(data_dir, server, key)
    finally:
        log = server.stop()
        assert "Traceback" not in log, log


SEED_WORD = "pérou"


def jobs_in(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "access.sqlite") as conn:
        return int(conn.execute("SELECT count(*) FROM index_jobs").fetchone()[0])


def test_keys_are_shown_once_and_kept_hashed(tmp_path: Path) -> None:
    key = add_key(tmp_path, "ingest")
    assert re.fullmatch(r"iiifs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    listed = CliRunner().invoke(iiif_search, ["keys", "list", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0 and "ingest" in listed.output and key not in listed.output
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("access.sqlite*"))  # the WAL too
    assert key[19:].encode() not in stored and key.encode() not in stored
    again = CliRunner().invoke(iiif_search, ["keys", "add", "ingest", "--data-dir", str(tmp_path)])
    assert again.exit_code == 1 and "exists already" in again.output
    assert CliRunner().invoke(iiif_search, ["keys", "remove", "ingest", "--data-dir", str(tmp_path)]).exit_code == 0
    gone = CliRunner().invoke(iiif_search, ["keys", "remove", "ingest", "--data-dir", str(tmp_path)])
    assert gone.exit_code == 1 and "no API key named ingest" in gone.output


def test_post_indexes_a_book_with_its_progress_then_delete_removes_it(site: Site, library: Library) -> None:
    seed_hits = site.total(SEED, SEED_WORD)
    manifest = library.book("peru-new", 10, 4)
    answer = site.api.call("POST", "/api/books", {"manifest": manifest, "id": "peru-new"})
    assert answer.status == 202, answer.body
    body = answer.json()
    assert answer.headers["location"] == body["job"] and body["book"] == "peru-new"
    view, seen = site.api.wait_for(body["job"])
    # Seen while it ran: some pages done, some left, an estimate of the time left.
    running = [v for v in seen if v["state"] == "running" and 0 < v["pages"]["done"] < v["pages"]["total"]]
    assert running, seen
    assert running[0]["pages"]["left"] == running[0]["pages"]["total"] - running[0]["pages"]["done"]
    assert running[0]["eta_seconds"] is not None and running[0]["eta_seconds"] > 0
    assert view["state"] == "done" and view["pages"] == {"total": 4, "done": 4, "left": 0}, view
    assert view["who"] == "key:catalogue" and view["failures"] == []
    listed = site.api.call("GET", "/api/jobs").json()["jobs"]
    assert body["id"] in [job["id"] for job in listed]
    text = " ".join(re.findall(r">([^<]+)<", library.files["/peru-new/p1.hocr"][0].decode()))
    words = [w for w in re.findall(r"\w{6,}", text) if w.isalpha()]
    hits = _eventually(lambda: site.total("peru-new", words[0]))
    assert hits > 0
    assert site.api.call("DELETE", "/api/books/peru-new").status == 204
    assert _eventually(lambda: site.server.get(f"/iiif/peru-new/search/1?q={words[0]}")[0]) == 404
    again = site.api.call("DELETE", "/api/books/peru-new")
    assert again.status == 404 and again.json()["error"] == "no book peru-new"
    assert site.total(SEED, SEED_WORD) == seed_hits


def _eventually(ask, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """What `ask()` answers once the server has seen the last commit (it looks every 0.25 s)."""
    import time

    deadline = time.monotonic() + timeout
    last = ask()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = ask()
        if now == last:
            return now
        last = now
    return last


def test_bad_keys_are_refused(site: Site, library: Library) -> None:
    manifest = library.book("peru-keys", 0, 1)
    before = jobs_in(site.data_dir)
    key = site.api.key or ""
    key_id, secret = key[6:18], key[19:]
    other = "A" * 43 if secret != "A" * 43 else "B" * 43
    removed = add_key(site.data_dir, "gone")
    assert CliRunner().invoke(iiif_search, ["keys", "remove", "gone", "--data-dir", str(site.data_dir)]).exit_code == 0
    tries = {
        "no key": Api(site.server.base),
        "wrong secret, right id": Api(site.server.base, key=f"iiifs_{key_id}_{other}"),
        "unknown id": Api(site.server.base, key=f"iiifs_{'0' * 12}_{secret}"),
        "removed key": Api(site.server.base, key=removed),
        "not a key": Api(site.server.base, key="letmein"),
        "key cut short": Api(site.server.base, key=key[:-1]),
    }
    for what, api in tries.items():
        for method, path, body in (
            ("POST", "/api/books", {"manifest": manifest}),
            ("DELETE", f"/api/books/{SEED}", None),
            ("GET", "/api/jobs", None),
        ):
            answer = api.call(method, path, body)
            assert answer.status == 401, (what, method, answer.body)
            assert answer.headers["www-authenticate"].startswith('Bearer realm="iiif-search admin"'), what
            assert answer.json()["status"] == 401
    assert jobs_in(site.data_dir) == before
    assert site.total(SEED, SEED_WORD) > 0
    log = site.server.stderr()
    assert f"anonymous DELETE /api/books/{SEED} -> 401" in log, log


def test_bad_input_is_refused_and_changes_nothing(site: Site, library: Library) -> None:
    seed_hits = site.total(SEED, SEED_WORD)
    before = jobs_in(site.data_dir)
    closed = f"http://127.0.0.1:{free_port()}/manifest"
    collection = library.base + "/collection"
    library.files["/collection"] = (
        json.dumps(
            {"@context": "http://iiif.io/api/presentation/3/context.json", "id": collection, "type": "Collection"}
        ).encode(),
        "application/json",
    )
    cases = [
        ({"manifest": "/etc/passwd"}, 400, "http:// or https://"),
        ({"manifest": "file:///etc/passwd"}, 400, "http:// or https://"),
        ({"manifest": closed}, 422, "could not be fetched"),
        ({"manifest": library.base + "/missing"}, 422, "could not be fetched"),
        ({"manifest": library.base + "/not-iiif.json"}, 422, "not a usable IIIF Manifest or Collection"),
        ({"manifest": library.base + "/page.html"}, 422, "not JSON (got text/html"),
        ({"manifest": library.book("peru-dup", 0, 1), "id": SEED}, 409, "indexed already"),
        ({"manifest": collection, "id": "one"}, 400, "Collection"),
        ({"manifest": library.base + "/x", "id": "../etc"}, 400, "id"),
        ({"manifest": library.base + "/x", "access": "secret"}, 400, "access"),
        ({"manifest": library.base + "/x", "extra": 1}, 400, "extra"),
        ({"url": library.base + "/x"}, 400, "manifest"),
    ]
    for body, status, says in cases:
        answer = site.api.call("POST", "/api/books", body)
        assert answer.status == status, (body, answer.body)
        assert says in answer.json()["error"], (body, answer.json())
    broken = site.api.call("POST", "/api/books", raw=b"{not json", **{"Content-Type": "application/json"})
    assert broken.status == 400
    assert site.api.call("DELETE", "/api/books/no-such-book").status == 404
    # A line break in the path would forge an audit line if it were logged as it is.
    assert site.api.call("DELETE", "/api/books/x%0A2026-01-01%20audit:%20key:forged").status == 404
    assert "\naudit: key:forged" not in site.server.stderr() and "x\\n2026-01-01" in site.server.stderr()
    assert site.api.call("GET", "/api/jobs/no-such-job").status == 404
    assert jobs_in(site.data_dir) == before
    assert site.total(SEED, SEED_WORD) == seed_hits


def test_a_second_job_for_the_same_book_is_refused(site: Site, library: Library) -> None:
    manifest = library.book("peru-twice", 20, 3)
    first = site.api.call("POST", "/api/books", {"manifest": manifest})
    assert first.status == 202, first.body
    book = first.json()["book"]
    second = site.api.call("POST", "/api/books", {"manifest": manifest, "replace": True})
    assert second.status == 409 and first.json()["job"] in second.json()["error"], second.body
    # Nor may the book be removed under the running job.
    assert site.api.call("DELETE", f"/api/books/{book}").status == 409
    view, _ = site.api.wait_for(first.json()["job"])
    assert view["state"] == "done", view
    # Done: now it is the book that exists, and replace is needed.
    again = site.api.call("POST", "/api/books", {"manifest": manifest})
    assert again.status == 409 and "replace" in again.json()["error"]
    assert site.api.call("DELETE", f"/api/books/{book}").status == 204


def test_a_login_may_use_it_but_a_cookie_needs_the_csrf_token(site: Site, library: Library) -> None:
    login = Api(site.server.base, cookie=site.cookie(frozenset({"restricted"})))
    assert login.call("GET", "/api/jobs").status == 200
    refused = login.call("POST", "/api/books", {"manifest": library.book("peru-csrf", 0, 1)})
    assert refused.status == 403 and "x-csrf-token" in refused.json()["error"]
    assert login.call("DELETE", f"/api/books/{SEED}").status == 403
    clickthrough = Api(site.server.base, cookie=site.cookie(frozenset({"clickthrough"})))
    assert clickthrough.call("GET", "/api/jobs").status == 401
    # The home page shows a logged-in reader the admin view, with the session's token, never cached.
    home = login.call("GET", "/")
    page = home.body.decode()
    assert 'id="admin"' in page and "private" in home.headers["cache-control"]
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token is not None
    assert 'id="admin"' not in site.anonymous.call("GET", "/").body.decode()
    # The form, with the token: 303 back home, and the job is queued under the reader's name.
    manifest = library.book("peru-form", 0, 1)
    form = urllib.parse.urlencode({"csrf": token.group(1), "manifest": manifest, "id": "peru-form"}).encode()
    posted = login.call("POST", "/admin/books", raw=form, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert posted.status == 303 and posted.headers["location"] == "/#admin", posted.body
    job = next(j for j in site.api.call("GET", "/api/jobs").json()["jobs"] if j["book"] == "peru-form")
    assert job["who"] == "user:ada"
    site.api.wait_for(job["url"])
    # Without the token (another site's form), nothing is queued.
    forged = urllib.parse.urlencode({"manifest": library.book("peru-forged", 0, 1), "id": "peru-forged"}).encode()
    answer = login.call("POST", "/admin/books", raw=forged, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 403 and "The book was not added" in answer.body.decode()
    assert all(j["book"] != "peru-forged" for j in site.api.call("GET", "/api/jobs").json()["jobs"])
    # With the token header, a cookie-authenticated API call goes through.
    removed = login.call("DELETE", "/api/books/peru-form", **{"X-CSRF-Token": token.group(1)})
    assert removed.status == 204
    assert "user:ada DELETE /api/books/peru-form -> 204" in site.server.stderr()


def test_the_routes_are_in_the_openapi_description(site: Site) -> None:
    spec = json.loads(site.server.get("/openapi.json")[1])
    post = spec["paths"]["/api/books"]["post"]
    assert post["summary"].startswith("Index a book")
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AddBook")
    assert {"202", "401", "409", "422", "503"} <= set(post["responses"])
    assert spec["paths"]["/api/books/{book_id}"]["delete"]["summary"] == "Remove a book from the index"
    assert "pages" in spec["components"]["schemas"]["JobView"]["properties"]
    assert "/admin/books" not in spec["paths"]


def test_a_server_without_tesseract_refuses_a_book_that_needs_ocr(site: Site, library: Library, tmp_path: Path) -> None:
    # Tesseract is a binary on PATH: a server started with an empty PATH has none.
    server = LiveServer(site.data_dir, env={"PATH": str(tmp_path)})
    try:
        api = Api(server.base, key=site.api.key)
        before = jobs_in(site.data_dir)
        answer = api.call("POST", "/api/books", {"manifest": library.image_book("peru-images")})
        assert answer.status == 503 and "no Tesseract" in answer.json()["error"], answer.body
        assert jobs_in(site.data_dir) == before
    finally:
        server.stop()


def test_one_job_runs_at_a_time_and_a_dead_servers_job_is_failed(tmp_path: Path) -> None:
    from search_service.web.auth.store import AccessStore
    from search_service.web.jobs import STALE_SECONDS, JobConflict, JobStore

    # Two stores over one database: two workers or replicas sharing the data directory.
    first, second = JobStore(AccessStore(tmp_path)), JobStore(AccessStore(tmp_path))
    one = first.submit(target="a", source="http://x/a", book_id=None, access="public", replace_existing=False, who="t")
    two = second.submit(target="b", source="http://x/b", book_id=None, access="public", replace_existing=False, who="t")
    with pytest.raises(JobConflict):
        second.submit(target="a", source="http://x/a", book_id=None, access="public", replace_existing=True, who="t")
    claimed = first.claim("server-1")
    assert claimed is not None and claimed.id == one.id and claimed.state == "running"
    assert second.claim("server-2") is None  # one job at a time on the data directory
    # server-1 dies: no heartbeat. Past STALE_SECONDS its job is failed and the queue goes on.
    later = time.time() + STALE_SECONDS + 1
    taken = second.claim("server-2", now=later)
    assert taken is not None and taken.id == two.id
    dead = first.get(one.id)
    assert dead is not None and dead.state == "failed" and "stopped before it finished" in (dead.error or "")


def test_a_book_added_as_restricted_is_hidden_from_anonymous_readers(site: Site, library: Library) -> None:
    manifest = library.book("peru-closed", 24, 2)
    answer = site.api.call("POST", "/api/books", {"manifest": manifest, "id": "peru-closed", "access": "restricted"})
    assert answer.status == 202, answer.body
    view, _ = site.api.wait_for(answer.json()["job"])
    assert view["state"] == "done" and view["access"] == "restricted", view
    text = " ".join(re.findall(r">([^<]+)<", library.files["/peru-closed/p1.hocr"][0].decode()))
    word = next(w for w in re.findall(r"\w{6,}", text) if w.isalpha())
    path = f"/iiif/peru-closed/search/1?q={urllib.parse.quote(word)}"
    reader = Api(site.server.base, cookie=site.cookie(frozenset({"restricted"})))
    found = _eventually(lambda: reader.call("GET", path).status)
    assert found == 200 and json.loads(reader.call("GET", path).body)["within"]["total"] > 0
    assert site.anonymous.call("GET", path).status == 401
    assert site.api.call("DELETE", "/api/books/peru-closed").status == 204
    assert _eventually(lambda: reader.call("GET", path).status) == 404
