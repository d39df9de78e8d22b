"""Fetcher: retries, limits, schemes and headers, with faults from httpx.MockTransport."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.errors import FetchError, SourceError
from indexer.fetch import Fetched, Fetcher, user_agent

Handler = Callable[[httpx.Request], httpx.Response]
URL = "https://iiif.example.org/book/manifest"


class Recorder:
    """Counts requests and sleeps so a test can check what the Fetcher did."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(response, Exception):
            raise response
        return response

    def fetcher(self, **options: Any) -> Fetcher:
        return Fetcher(transport=httpx.MockTransport(self.handle), sleep=self.sleeps.append, **options)


def test_500_then_success_is_retried_with_backoff() -> None:
    recorder = Recorder(httpx.Response(500), httpx.Response(503), httpx.Response(200, json={"ok": True}))
    with recorder.fetcher() as fetcher:
        assert fetcher.get_json(URL) == {"ok": True}
    assert len(recorder.requests) == 3
    assert recorder.sleeps == [0.5, 1.0]


def test_404_fails_at_once_with_its_status() -> None:
    recorder = Recorder(httpx.Response(404, text="gone"))
    with recorder.fetcher() as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(URL)
    assert caught.value.status == 404
    assert caught.value.url == URL
    assert "HTTP 404" in str(caught.value)
    assert len(recorder.requests) == 1
    assert recorder.sleeps == []


def test_timeouts_are_retried_then_fail() -> None:
    recorder = Recorder(httpx.ReadTimeout("read timed out"))
    with recorder.fetcher() as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(URL)
    assert len(recorder.requests) == 4  # one try and 3 retries
    assert recorder.sleeps == [0.5, 1.0, 2.0]
    assert "timed out" in caught.value.reason
    assert caught.value.status is None


def test_connection_error_then_success() -> None:
    recorder = Recorder(httpx.ConnectError("refused"), httpx.Response(200, content=b"x"))
    with recorder.fetcher() as fetcher:
        assert fetcher.get_bytes(URL, max_bytes=10) == b"x"


def test_5xx_exhausted_names_the_status() -> None:
    recorder = Recorder(httpx.Response(502))
    with recorder.fetcher(retries=2) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(URL)
    assert caught.value.status == 502
    assert "after 3 attempts" in caught.value.reason


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("9999", 30.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_429_honours_retry_after_up_to_a_cap(header: str, expected: float) -> None:
    recorder = Recorder(httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200, content=b"ok"))
    with recorder.fetcher(max_retry_after=30.0) as fetcher:
        assert fetcher.get(URL).data == b"ok"
    assert recorder.sleeps == [expected]


def test_endless_body_is_stopped_while_streaming() -> None:
    sent: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            sent.append(1)
            yield b"x" * 1000

    recorder = Recorder(httpx.Response(200, content=endless()))
    with recorder.fetcher() as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(URL, 10_000)
    assert "larger than the limit of 10000 bytes" in caught.value.reason
    assert len(sent) <= 12  # stopped right after the cap, not read to the end
    assert len(recorder.requests) == 1  # too big is not worth a retry


def test_declared_length_over_the_cap_is_refused_before_reading() -> None:
    recorder = Recorder(httpx.Response(200, content=b"x" * 2000))
    with recorder.fetcher() as fetcher, pytest.raises(FetchError, match="2000 bytes is larger"):
        fetcher.get(URL, 1000)


@pytest.mark.parametrize("location", ["ftp://example.org/m.json", "javascript:alert(1)", "data:,{}", "gopher://x/1"])
def test_other_schemes_are_refused(location: str) -> None:
    recorder = Recorder(httpx.Response(200))
    with recorder.fetcher() as fetcher, pytest.raises(FetchError, match="not allowed"):
        fetcher.get(location)
    assert recorder.requests == []


def test_user_agent_and_accept_are_sent() -> None:
    recorder = Recorder(httpx.Response(200, content=b"{}"))
    with recorder.fetcher() as fetcher:
        fetcher.get_bytes(URL, max_bytes=100, accept="image/jpeg")
    request = recorder.requests[0]
    assert request.headers["User-Agent"] == user_agent()
    assert user_agent().startswith("iiif-search/")
    assert "index-manifest" in user_agent()
    assert request.headers["Accept"] == "image/jpeg"


def test_redirects_are_followed_up_to_five() -> None:
    def redirecting(hops: int) -> Handler:
        def handle(request: httpx.Request) -> httpx.Response:
            step = int(request.url.params.get("step", "0"))
            if step < hops:
                return httpx.Response(302, headers={"Location": f"{URL}?step={step + 1}"})
            return httpx.Response(200, content=b"end", headers={"Content-Type": "text/plain"})

        return handle

    with Fetcher(transport=httpx.MockTransport(redirecting(5))) as fetcher:
        fetched = fetcher.get(URL)
    assert fetched == Fetched(b"end", "text/plain", f"{URL}?step=5")
    with (
        Fetcher(transport=httpx.MockTransport(redirecting(6))) as fetcher,
        pytest.raises(FetchError, match="redirects"),
    ):
        fetcher.get(URL)


def test_redirect_to_a_file_url_is_not_followed() -> None:
    recorder = Recorder(httpx.Response(302, headers={"Location": "file:///etc/passwd"}), httpx.Response(200))
    with recorder.fetcher() as fetcher, pytest.raises(FetchError, match="scheme 'file' is not allowed"):
        fetcher.get(URL)
    assert [r.url.scheme for r in recorder.requests] == ["https"]


def test_allowed_hosts_apply_to_redirects() -> None:
    recorder = Recorder(httpx.Response(302, headers={"Location": "http://169.254.169.254/latest"}), httpx.Response(200))
    with Fetcher(transport=httpx.MockTransport(recorder.handle), allowed_hosts={"iiif.example.org"}) as fetcher:
        with pytest.raises(FetchError, match=re.escape("host '169.254.169.254' is not allowed")):
            fetcher.get(URL)
        with pytest.raises(FetchError, match="not allowed"):
            fetcher.get("https://elsewhere.example.com/m.json")
    assert len(recorder.requests) == 1


def test_local_files_and_file_urls(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"a": 1}))
    with Fetcher() as fetcher:
        assert fetcher.get_json(str(path)) == {"a": 1}
        fetched = fetcher.get(path.as_uri())
        assert fetched.data == b'{"a": 1}'
        assert fetched.content_type == "application/json"
        with pytest.raises(FetchError, match="no such file"):
            fetcher.get(str(tmp_path / "missing.json"))
        with pytest.raises(FetchError, match="larger than the limit"):
            fetcher.get(str(path), 3)
        with pytest.raises(FetchError, match="directory"):
            fetcher.get(str(tmp_path))


def test_invalid_json_names_the_location_and_what_came() -> None:
    recorder = Recorder(httpx.Response(200, text="<html>Login</html>", headers={"Content-Type": "text/html"}))
    with recorder.fetcher() as fetcher, pytest.raises(SourceError) as caught:
        fetcher.get_json(URL)
    assert URL in str(caught.value)
    assert "text/html" in str(caught.value)


def test_content_type_lets_callers_spot_html() -> None:
    recorder = Recorder(httpx.Response(200, text="<html></html>", headers={"Content-Type": "text/html; charset=utf-8"}))
    with recorder.fetcher() as fetcher:
        assert fetcher.get(URL).content_type == "text/html; charset=utf-8"


def test_local_http_server(http_server: Callable[[Path], str], tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text('{"id": "m"}')
    base = http_server(tmp_path)
    with Fetcher(retries=0) as fetcher:
        assert fetcher.get_json(f"{base}/m.json") == {"id": "m"}
        with pytest.raises(FetchError) as caught:
            fetcher.get(f"{base}/missing.json")
    assert caught.value.status == 404


def test_an_unfollowed_redirect_is_an_error() -> None:
    recorder = Recorder(httpx.Response(304))
    with recorder.fetcher() as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(URL)
    assert caught.value.status == 304


@pytest.mark.parametrize("location", ["http://", "https://[::1"])
def test_malformed_urls_are_fetch_errors(location: str) -> None:
    with (
        Fetcher(transport=httpx.MockTransport(lambda request: httpx.Response(200))) as fetcher,
        pytest.raises(FetchError),
    ):
        fetcher.get(location)


def test_broken_compressed_body_is_a_fetch_error() -> None:
    recorder = Recorder(httpx.Response(200, content=iter([b"not gzip"]), headers={"Content-Encoding": "gzip"}))
    with recorder.fetcher() as fetcher, pytest.raises(FetchError, match="DecodingError"):
        fetcher.get(URL)
