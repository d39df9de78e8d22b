"""Bytes from a local file or an http(s) URL, within size and time limits.

One `Fetcher` per process wraps one `httpx.Client`: timeouts, retries with back-off
on 5xx, 429 and network errors, a size cap enforced while the body streams in, and
a User-Agent that says who we are. What the bytes are is for the caller to judge
(`Fetched.content_type` lets it notice an HTML error page served instead of JSON).
"""

from __future__ import annotations

import email.utils
import json
import mimetypes
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from indexer.errors import FetchError, SourceError

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_OCR_BYTES",
    "PROJECT_URL",
    "Fetched",
    "Fetcher",
    "user_agent",
]

# Caps per kind of download; a manifest of 50 MB is already ~10,000 canvases.
MAX_MANIFEST_BYTES = 50 * 1024 * 1024
MAX_IMAGE_BYTES = 100 * 1024 * 1024
MAX_OCR_BYTES = 50 * 1024 * 1024

# TODO: set to the project's public repository once it has one; servers that log
# the User-Agent use it to find out who is crawling them.
PROJECT_URL = "https://github.com/iiif-search/iiif-search"


def user_agent() -> str:
    """The User-Agent we send: 'iiif-search/0.1.0 (+https://...; index-manifest)'."""
    try:
        version = metadata.version("iiif-search")
    except metadata.PackageNotFoundError:  # running from a checkout that is not pip-installed
        version = "dev"
    return f"iiif-search/{version} (+{PROJECT_URL}; index-manifest)"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A downloaded body: `url` is where it finally came from (after redirects)."""

    data: bytes
    content_type: str | None
    url: str


class Fetcher:
    """Reads files and http(s) URLs with limits; one per process, close it when done.

    Example: `with Fetcher() as fetcher: manifest = fetcher.get_json(url)`.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 60.0,
        max_redirects: int = 5,
        allowed_hosts: Collection[str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Seconds for the timeouts and delays; `retries` is the number of extra attempts.

        `allowed_hosts`, if given, limits http(s) requests (redirects included) to
        those host names. `transport` replaces the network (tests pass
        `httpx.MockTransport`), `sleep` replaces `time.sleep` between attempts.
        """
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts) if allowed_hosts is not None else None
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=True,
            max_redirects=max_redirects,
            headers={"User-Agent": user_agent()},
            # Runs before every request, redirects included: a redirect must not
            # lead to another scheme or host, whatever the transport allows.
            event_hooks={"request": [self._check_request]},
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def get(self, location: str, max_bytes: int = MAX_MANIFEST_BYTES, *, accept: str | None = None) -> Fetched:
        """Read a local path, a file:// URL or an http(s) URL; at most `max_bytes` bytes.

        Raises FetchError for other schemes, missing files, HTTP errors, exhausted
        retries and bodies over the cap.
        """
        try:
            parts = urlsplit(location)
        except ValueError as exc:  # e.g. "https://[::1": a broken IPv6 host
            raise FetchError(location, f"not a valid URL ({exc})") from exc
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            return self._get_http(location, max_bytes, accept)
        if scheme == "file":
            return _read_file(Path(url2pathname(parts.path)), location, max_bytes)
        # A bare path has no scheme; "C:\..." or "a:b.json" parse as one, so a
        # path that exists wins over the scheme check.
        if scheme == "" or _exists(Path(location)):
            return _read_file(Path(location), location, max_bytes)
        raise FetchError(location, f"scheme {scheme!r} is not allowed (only http, https and local files)")

    def get_bytes(self, location: str, *, max_bytes: int, accept: str | None = None) -> bytes:
        """Like `get`, the body only."""
        return self.get(location, max_bytes, accept=accept).data

    def get_json(self, location: str, max_bytes: int = MAX_MANIFEST_BYTES) -> Any:
        """Fetch and parse JSON; SourceError (naming the location) when it is not JSON."""
        fetched = self.get(location, max_bytes, accept="application/ld+json, application/json;q=0.9, */*;q=0.1")
        try:
            return json.loads(fetched.data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            what = f"got {fetched.content_type}, " if fetched.content_type else ""
            raise SourceError(f"{location}: not JSON ({what}{exc})") from exc

    def _get_http(self, url: str, max_bytes: int, accept: str | None) -> Fetched:
        headers = {"Accept": accept} if accept else {}
        attempts = self.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                with self._client.stream("GET", url, headers=headers) as response:
                    status = response.status_code
                    # 429 and 5xx are worth another try: rate limits and overloaded servers recover.
                    retry = status == 429 or status >= 500
                    if retry and last:
                        raise FetchError(url, f"HTTP {status} after {attempts} attempts", status)
                    if not retry and not response.is_success:
                        # Other 4xx (and a 3xx left unfollowed) will not change on a retry.
                        raise FetchError(url, f"HTTP {status}", status)
                    if not retry:
                        data = _read_capped(response, url, max_bytes)
                        return Fetched(data, response.headers.get("Content-Type"), str(response.url))
                    delay = self._delay(attempt, response)
            except httpx.TooManyRedirects as exc:
                raise FetchError(url, f"too many redirects ({exc})") from exc
            except httpx.UnsupportedProtocol as exc:
                # e.g. a redirect to ftp:// or file://, or to a host not allowed: never followed.
                raise FetchError(url, f"refused: {exc}") from exc
            except httpx.TransportError as exc:  # timeouts, refused connections, dropped bodies
                if last:
                    raise FetchError(url, f"{_describe(exc)} after {attempts} attempts") from exc
                delay = self._delay(attempt, None)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # e.g. a broken gzip body, "http://["
                raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
            self._sleep(delay)  # outside the `with`: the connection goes back to the pool first
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def _check_request(self, request: httpx.Request) -> None:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"scheme {request.url.scheme!r} is not allowed", request=request)
        if self.allowed_hosts is not None and request.url.host.lower() not in self.allowed_hosts:
            raise httpx.UnsupportedProtocol(f"host {request.url.host!r} is not allowed", request=request)

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before attempt `attempt + 1`: Retry-After if given, else back-off."""
        if response is not None:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        return min(self.backoff * 2.0**attempt, self.max_retry_after)


def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    """The body, stopping as soon as it passes `max_bytes` (decoded bytes, so gzip bombs stop too)."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes and "Content-Encoding" not in response.headers:
        raise FetchError(url, f"body of {int(declared)} bytes is larger than the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():  # as they arrive: buffering would read past the cap
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(url, f"body is larger than the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _read_file(path: Path, location: str, max_bytes: int) -> Fetched:
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise FetchError(location, "no such file") from exc
    except IsADirectoryError as exc:
        raise FetchError(location, "is a directory, not a file") from exc
    except OSError as exc:
        raise FetchError(location, exc.strerror or str(exc)) from exc
    if len(data) > max_bytes:
        raise FetchError(location, f"file is larger than the limit of {max_bytes} bytes")
    return Fetched(data, mimetypes.guess_type(path.name)[0], str(path))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a long data: URL is too long for a file name
        return False


def _retry_after_seconds(value: str | None) -> float | None:
    """RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _describe(exc: httpx.TransportError) -> str:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    detail = str(exc)
    return f"{kind} ({type(exc).__name__}{': ' + detail if detail else ''})"
