"""The front's connection to its shards (#20): JSON fan-out with time limits, forwarding, and the collection's stats.

One `httpx.AsyncClient` per front process, kept-alive connections to every shard. A
connect error is retried once by httpx's transport (`retries=1`: it retries connection
failures only, never a request that reached the shard); each request has the shard time
limit (`shard_timeout`). A shard that refuses, times out or answers an error is a
`ShardFailure` for that answer only: the next request asks it again, so a shard that comes
back is used again without a restart. Each shard's position is checked once against
its own `/shard/info` (the directory records it, indexer/shards.py): a shard in the
wrong place is never asked, and every answer says so.

The collection's corpus stats are the sum of the shards' (`ranking.CorpusStats`); the
front keeps each shard's last stats and each answer carries the shard's current ones, so
a commit on a shard is seen by the next answer (fan_out asks again with the new sum).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import httpx
import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from indexer.index.ranking import CorpusStats
from indexer.shards import shard_of
from search_service.errors import ShardUnavailable
from search_service.search.shards import ShardFailure, total_corpus

log = logging.getLogger("search_service")

#: Request headers a forwarded request keeps (conditional requests and negotiation pass through).
_FORWARD_REQUEST = ("accept", "accept-encoding", "if-none-match", "if-modified-since", "range", "user-agent")
#: Response headers a forwarded answer keeps; CORS and the like are the front's own middleware's.
_FORWARD_RESPONSE = (
    "content-type",
    "content-encoding",
    "content-length",
    "etag",
    "cache-control",
    "vary",
    "last-modified",
    "link",
    "location",
    "retry-after",
    "content-range",
    "accept-ranges",
)
#: The levels the request's reader holds and the token that proves them (#22), set by the
#: front for each request (routes/front.py): every shard asked gets the token and checks
#: it itself, with the same secret, as it checks its own readers (web/auth/reader.py).
READER: ContextVar[tuple[frozenset[str], str | None]] = ContextVar("reader", default=(frozenset({"public"}), None))


def _reader_headers() -> dict[str, str]:
    token = READER.get()[1]
    return {"Authorization": f"Bearer {token}"} if token else {}


#: Seconds a down shard's book answers tell the client to wait before asking again.
RETRY_AFTER = 5


class Shards:
    """The shards of one collection, by position (the order of `--shard`)."""

    def __init__(self, urls: Sequence[str], timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            transport=transport or httpx.AsyncHTTPTransport(retries=1),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=64 * len(urls), max_keepalive_connections=16 * len(urls)),
            follow_redirects=False,
            # Shard answers cross loopback or a LAN: gzip would cost the shard its compression and the
            # front its decompression for nothing (httpx asks for gzip unless told). A forwarded
            # request keeps the reader's own Accept-Encoding.
            headers={"Accept-Encoding": "identity"},
        )
        # Each set of access levels has its own collection stats (#22): what an anonymous reader's
        # ranking uses never counts a restricted book's words.
        self._stats: dict[frozenset[str], dict[int, CorpusStats]] = {}
        self.verified: set[int] = set()

    @property
    def stats(self) -> dict[int, CorpusStats]:
        """Each shard's last known corpus stats, for the levels the current reader holds."""
        return self._stats.setdefault(READER.get()[0], {})

    def __len__(self) -> int:
        return len(self.urls)

    def position_of(self, book_id: str) -> int:
        """The shard that holds `book_id` (indexer/shards.py)."""
        return shard_of(book_id, len(self.urls))

    def describe(self, position: int) -> str:
        return f"shard {position + 1} of {len(self.urls)}"

    async def close(self) -> None:
        await self.client.aclose()

    # -- JSON ---------------------------------------------------------------------------------

    async def get_json(self, position: int, path: str, params: Mapping[str, str]) -> dict[str, Any] | ShardFailure:
        """The shard's JSON answer, or a ShardFailure saying why there is none."""
        failure = await self._verify(position)
        if failure is not None:
            return failure
        answer = await self._get(position, path, params)
        if isinstance(answer, ShardFailure):
            return answer
        status, body = answer
        if status != 200:
            return _error_answer(position, status, body, self.describe(position))
        data: dict[str, Any] = orjson.loads(body)
        corpus = data.get("corpus")
        if isinstance(corpus, list) and len(corpus) == 3:
            self.stats[position] = CorpusStats(*(int(v) for v in corpus))
        return data

    async def _get(self, position: int, path: str, params: Mapping[str, str]) -> tuple[int, bytes] | ShardFailure:
        """(status, body) of a GET to the shard's JSON API, or the ShardFailure of a shard that did not answer."""
        try:
            response = await self.client.get(self.urls[position] + path, params=params, headers=_reader_headers())
            return response.status_code, response.content
        except httpx.TimeoutException:
            return ShardFailure(position, f"{self.describe(position)} did not answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return ShardFailure(position, f"{self.describe(position)} could not be reached ({type(exc).__name__})")

    def every(self, params: Mapping[str, str]) -> dict[int, Mapping[str, str]]:
        """The same parameters for every shard (fan_out's `params`)."""
        return dict.fromkeys(range(len(self.urls)), params)

    async def fan_out(
        self, path: str, wanted: Mapping[int, Mapping[str, str]]
    ) -> tuple[dict[int, dict[str, Any]], list[ShardFailure]]:
        """Ask the shards at these positions at once, each with its parameters; their answers and their failures."""
        results = await asyncio.gather(*(self.get_json(position, path, p) for position, p in wanted.items()))
        answers: dict[int, dict[str, Any]] = {}
        failures: list[ShardFailure] = []
        for position, result in zip(wanted, results, strict=True):
            if isinstance(result, ShardFailure):
                failures.append(result)
            else:
                answers[position] = result
        return answers, failures

    async def corpus(self) -> CorpusStats:
        """The collection's stats: each shard's last known ones summed (asked of those not known yet)."""
        missing = [position for position in range(len(self.urls)) if position not in self.stats]
        if missing:
            await asyncio.gather(*(self.get_json(position, "/shard/info", {}) for position in missing))
        return total_corpus([self.stats[p] for p in sorted(self.stats)])

    async def _verify(self, position: int) -> ShardFailure | None:
        """Check once that the server at this position is the shard written there (its shard.json)."""
        if position in self.verified:
            return None
        answer = await self._get(position, "/shard/info", {})
        if isinstance(answer, ShardFailure):
            return answer
        status, body = answer
        if status != 200:
            return _error_answer(position, status, body, self.describe(position))
        data = orjson.loads(body)
        recorded, count = data.get("position"), data.get("count")
        if recorded != position and not (len(self.urls) == 1 and recorded is None):
            where = (
                "was not written as a shard (index-manifest --shards)"
                if recorded is None
                else f"holds shard {recorded + 1} of {count}"
            )
            log.error("%s (%s) %s: check the order of --shard", self.describe(position), self.urls[position], where)
            return ShardFailure(
                position, f"{self.describe(position)} is misconfigured: the server listed there {where}"
            )
        if count != len(self.urls):
            # While the shards grow (docs/scale.md#growing) the directories know the new count first.
            log.warning("%s records %s shards; this front lists %d", self.describe(position), count, len(self.urls))
        self.stats[position] = CorpusStats(*(int(v) for v in data["corpus"]))
        self.verified.add(position)
        return None

    # -- forwarding -----------------------------------------------------------------------------

    async def forward(self, request: Request, position: int) -> Response:
        """Send `request` on to the shard at `position` and stream its answer back as it is.

        Status, body and caching headers pass unchanged (a 304 stays a 304); a shard that
        cannot answer makes a 503 with Retry-After (ShardUnavailable).
        """
        failure = await self._verify(position)
        if failure is not None:
            raise ShardUnavailable(_retry_message(failure.reason), retry_after=RETRY_AFTER)
        url = self.urls[position] + request.url.path
        headers = {name: request.headers[name] for name in _FORWARD_REQUEST if name in request.headers}
        headers.update(_reader_headers())
        outgoing = self.client.build_request(
            request.method, url, params=request.url.query.encode("latin-1") or None, headers=headers
        )
        try:
            answer = await self.client.send(outgoing, stream=True)
        except httpx.TimeoutException as exc:
            raise ShardUnavailable(
                _retry_message(f"{self.describe(position)} did not answer within {self.timeout:g} s"),
                retry_after=RETRY_AFTER,
            ) from exc
        except httpx.HTTPError as exc:
            raise ShardUnavailable(
                _retry_message(f"{self.describe(position)} could not be reached"), retry_after=RETRY_AFTER
            ) from exc
        kept = {name: answer.headers[name] for name in _FORWARD_RESPONSE if name in answer.headers}
        return StreamingResponse(
            answer.aiter_raw(), status_code=answer.status_code, headers=kept, background=BackgroundTask(answer.aclose)
        )


def _retry_message(reason: str) -> str:
    return f"this book's part of the collection is unavailable right now: {reason}; try again in a moment"


def _error_answer(position: int, status: int, body: bytes, shard: str) -> ShardFailure:
    message = ""
    with contextlib.suppress(ValueError, AttributeError):
        message = str(json.loads(body).get("error", ""))
    if status == 400 and message:
        return ShardFailure(position, message, 400)
    return ShardFailure(position, f"{shard} answered {status}{': ' + message if message else ''}", status)
