"""CPU per answer with orjson against the standard library's json, the same answers, in one run (#20).

    .venv/bin/python bench/json_encoding.py DIR                                  # one index
    .venv/bin/python bench/json_encoding.py DIR --shards D1,D2,D3                # and the front over them

The real app in this process (its routes, FastAPI, no sockets: httpx's ASGI transport), the
response cache off. Each query of bench/search_latency.py's mix (seed 2) is asked twice on each
route, once with each encoder, the order alternating from query to query, and the two answers
must be the same bytes. Routes: one book's Search 2.0 (the book the mix is drawn from), the
collection's Search 2.0 and `/api/search`; with `--shards`, the same collection routes on a front
over `iiif-search serve` shard processes (started here, one worker each), where the front both
reads its shards' JSON and writes its own: only the front's CPU is counted (this process's).
"json" is what the code did before orjson: `json.dumps(ensure_ascii=False, separators=(",", ":"))`
and `json.loads`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_latency import queries, wait_for
from bench.shards import Server
from indexer.index.store import Store
from search_service.settings import Settings
from search_service.web import responses, shard_client
from search_service.web.app import create_app

PUBLIC = "http://127.0.0.1:8000"


def _stdlib_dumps(data: Any, option: int = 0) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


STDLIB = SimpleNamespace(dumps=_stdlib_dumps, loads=json.loads, OPT_NON_STR_KEYS=0)


def use(encoder: str) -> None:
    module = orjson if encoder == "orjson" else STDLIB
    responses.orjson = module  # type: ignore[attr-defined]
    shard_client.orjson = module  # type: ignore[attr-defined]


async def measure(settings: Settings, routes: dict[str, str], listed: list[str]) -> dict[str, dict[str, float]]:
    """CPU ms per answer, by route and encoder; raises if the two encoders' answers differ."""
    app = create_app(settings)
    cpu: dict[str, dict[str, float]] = {route: {"json": 0.0, "orjson": 0.0} for route in routes}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=settings.public_url or PUBLIC, timeout=600
        ) as client,
    ):
        for name, path in routes.items():
            for text in listed[:10]:  # warm: the snapshot's columns, imports, the shards' first answers
                await client.get(f"{path}?q={urllib.parse.quote(text)}")
            for i, text in enumerate(listed[10:]):
                bodies: dict[str, bytes] = {}
                for encoder in ("json", "orjson") if i % 2 else ("orjson", "json"):
                    use(encoder)
                    began = time.process_time()
                    answer = await client.get(f"{path}?q={urllib.parse.quote(text)}")
                    cpu[name][encoder] += time.process_time() - began
                    bodies[encoder] = answer.content
                if bodies["json"] != bodies["orjson"]:
                    raise SystemExit(f"{name} {text!r}: the two encoders' answers differ")
            for encoder in cpu[name]:
                cpu[name][encoder] *= 1000 / (len(listed) - 10)
    use("orjson")
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="a data directory (every book)")
    parser.add_argument("--shards", help="the same books as shard data directories, comma-separated")
    parser.add_argument("--queries", type=int, default=150, help="queries per route")
    args = parser.parse_args()
    book = Store(args.data_dir).snapshot().books()[0].id
    listed = queries(args.data_dir, None, 2000, seed=2)[: args.queries + 10]
    routes = {
        "one book, Search 2.0": f"/iiif/{book}/search/2",
        "collection, Search 2.0": "/iiif/search/2",
        "collection, /api/search": "/api/search",
    }
    results = asyncio.run(measure(Settings(data_dir=args.data_dir, response_cache_mb=0), routes, listed))
    if args.shards:
        shards = [Server(Path(d), 1, "--public-url", PUBLIC) for d in args.shards.split(",")]
        try:
            for server in shards:
                wait_for(f"{server.base}/health", timeout=600)
            front = Settings(
                data_dir=Path(tempfile.mkdtemp()),
                shards=",".join(server.base for server in shards),
                public_url=PUBLIC,
                response_cache_mb=0,
            )
            fronted = {f"front, {name}": path for name, path in routes.items() if "collection" in name}
            results.update(asyncio.run(measure(front, fronted, listed)))
        finally:
            for server in shards:
                server.stop()
    print(f"CPU ms per answer, {args.queries} queries each, the same bytes from both encoders")
    for name, cost in results.items():
        print(
            f"  {name:34} json {cost['json']:6.2f}  orjson {cost['orjson']:6.2f}  ({cost['orjson'] / cost['json']:.2f}x)"
        )


if __name__ == "__main__":
    main()
