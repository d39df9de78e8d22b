"""Hostile clients against the live server (#16): who still gets answered, and what memory does.

    .venv/bin/python bench/hostile.py [--scale book|collection|both] [--seconds 60] [--attack-seconds 30]

On the 1,041-page book and the 100,283-page collection of bench/search_latency.py (built
there, reused from bench/out/), with `iiif-search serve --workers N` (one per core):

1. **costly queries**: 200 connections send the most expensive query the limits allow
   (four prefixes, each in two slots, so they are counted page by page with positions),
   over the collection-wide search or the whole book, each request a new query; meanwhile one
   connection asks `/health` and one a cheap search (a plain word, a new one each time,
   another book where there is one). Before it, the same two probes on an idle server.
2. **cache busting**: `--seconds` of 16 connections asking autocompletes and searches with
   ever-new unknown parameters (`&u=N&j=aaa...`, 7 KB): server RSS before and after.
3. **slow and unfinished requests**: `--seconds` of 500 connections each sending a request
   head a byte a second (reconnecting when the server closes them), and 50 sending endless
   headers as fast as they can, while `/health` is probed: its latency, and RSS before and after.

Goal: `/health` p99 under 100 ms in every case, and RSS within 50 MB of where it started.
Prints a table and writes bench/out/hostile-<scale>.json.

    .venv/bin/python bench/hostile.py --scale manifest --server-workers 1 [--reference DIR]

4. **manifest flood** (#23), on a book of 4,164 pages (the 347-page book repeated 12 times,
   a 2.4 MB manifest): first the server CPU per request of a plain `/health`, a conditional
   GET of the manifest (`If-None-Match` its ETag, answered 304) and a plain one (gzip), each
   measured from the server's own CPU time over requests one at a time; then `--seconds` of
   50 connections of conditional and plain GETs in turn while `/health` is probed, and RSS
   before and after; then, as the floor, `--seconds` of 50 connections asking `/health` itself.
   With `--reference DIR` (a checkout of other code, e.g. `git worktree add
   DIR main`) the same is measured on a server running that code, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, commit, machine
from bench.search_latency import (
    OUT,
    build,
    free_port,
    queries,
    start_wrk,
    tree_rss_mb,
    wait_for,
    wrk_result,
)

# The costliest shape the limits allow: 4 prefixes, each filling two slots (a term in two
# slots is counted page by page from positions, the slowest path), two-letter prefixes so
# each stands for many terms. A new pair of letters per request: nothing is answered from a cache.
LETTERS = "abcdefghilmnoprstu"


def costly_queries(count: int) -> list[str]:
    pairs = [a + b for a in LETTERS for b in "aeiou" if a != b]
    out = []
    for i in range(count):  # every pair of pairs once: as many distinct queries as pairs squared
        p, q = pairs[i % len(pairs)], pairs[(i // len(pairs)) % len(pairs)]
        out.append(f'"{p}* {p}*" "{q}* {q}*"')
    return out


def cache_busting_paths(book: str, count: int) -> list[str]:
    padding = "a" * 7000
    paths = []
    for n in range(count):
        if n % 2:
            paths.append(f"/iiif/{book}/autocomplete/2?q=ca&u={n}&j={padding}")
        else:
            paths.append(f"/iiif/{book}/search/1?q=lima&u={n}&j={padding}")
    return paths


async def slow_clients(port: int, seconds: float, slow: int = 500, endless: int = 50) -> dict[str, int]:
    """`slow` connections dripping a request head a byte a second, `endless` ones streaming a header."""
    stop = time.monotonic() + seconds
    stats = {"connections": 0, "closed_by_server": 0, "refused_408": 0, "refused_431": 0, "refused_503": 0}

    async def drip() -> None:
        while time.monotonic() < stop:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            stats["connections"] += 1
            head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 10_000
            try:
                for byte in head:
                    if time.monotonic() > stop:
                        break
                    writer.write(bytes([byte]))
                    await writer.drain()
                    try:
                        answer = await asyncio.wait_for(reader.read(64), 1.0)
                    except TimeoutError:
                        continue
                    if answer.startswith(b"HTTP/1.1 408"):
                        stats["refused_408"] += 1
                    elif answer.startswith(b"HTTP/1.1 503"):
                        stats["refused_503"] += 1
                    stats["closed_by_server"] += 1
                    break
            except OSError:
                stats["closed_by_server"] += 1
            finally:
                writer.close()

    async def stream() -> None:
        while time.monotonic() < stop:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            stats["connections"] += 1
            try:
                writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
                while time.monotonic() < stop:
                    writer.write(b"e" * 65536)
                    await writer.drain()
            except OSError:
                pass
            try:
                if (await asyncio.wait_for(reader.read(64), 1.0)).startswith(b"HTTP/1.1 431"):
                    stats["refused_431"] += 1
            except (OSError, TimeoutError):
                pass
            stats["closed_by_server"] += 1
            writer.close()
            await asyncio.sleep(0.1)

    await asyncio.gather(*(drip() for _ in range(slow)), *(stream() for _ in range(endless)))
    return stats


class Server:
    def __init__(self, data_dir: Path, workers: int, code: Path | None = None) -> None:
        """`code`: a checkout whose packages the server runs instead of this one's (a reference)."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, IIIF_SEARCH_DATA_DIR=str(data_dir))
        if code is not None:
            # Ahead of the editable install's finder, which comes after the path entries.
            env["PYTHONPATH"] = str(code.resolve())
        command = [str(REPO / ".venv/bin/iiif-search"), "serve", "--port", str(self.port), "--log-level", "error"]
        self.process = subprocess.Popen([*command, "--workers", str(workers)], env=env)
        wait_for(f"{self.base}/health")

    def rss(self) -> float:
        return tree_rss_mb(self.process.pid)

    def cpu_seconds(self) -> float:
        """User and system CPU time of the server and its workers so far."""
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def tree_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(k) for k in children.read_text().split()] if children.exists() else []
    return own + sum(tree_cpu_seconds(k) for k in kids)


class Probe(threading.Thread):
    """One client asking `paths` in turn, one request at a time, each timed from send to last byte.

    Not wrk: wrk's latency figures for one connection added up to more than the run's
    duration here (a mean of 575 ms over 27,215 requests in 28 s), so the probes, whose
    percentiles are the goal, are timed request by request in Python. The cost of the
    client itself (~0.2 ms a request) is in every figure alike.
    """

    def __init__(self, base: str, paths: list[str], seconds: float) -> None:
        super().__init__(daemon=True)
        self.host, self.port = urllib.parse.urlsplit(base).hostname or "127.0.0.1", urllib.parse.urlsplit(base).port
        self.paths, self.seconds = paths, seconds
        self.latencies: list[float] = []
        self.errors = 0
        self.start()

    def run(self) -> None:
        stop = time.monotonic() + self.seconds
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        n = 0
        while time.monotonic() < stop:
            path = self.paths[n % len(self.paths)]
            n += 1
            began = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    self.errors += 1
                if response.getheader("connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                connection.close()
            self.latencies.append((time.perf_counter() - began) * 1000)
        connection.close()

    def result(self) -> dict[str, float]:
        self.join()
        ms = np.array(self.latencies)
        return {
            "requests": float(len(ms)),
            "errors": float(self.errors),
            "rps": len(ms) / self.seconds,
            "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()),
            "mean": float(ms.mean()),
        }


def probes(server: Server, cheap: list[str], seconds: int) -> tuple[Probe, Probe]:
    """One client on /health and one on cheap searches, both for `seconds`."""
    return Probe(server.base, ["/health"], seconds), Probe(server.base, cheap, seconds)


def line(name: str, result: dict[str, float]) -> str:
    worst = f", max {result['max']:.0f} ms" if "max" in result else ""
    return (
        f"{name}: p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms{worst}, {result['rps']:.0f} req/s, "
        f"{int(result['requests'])} requests, {int(result['errors'])} non-2xx or errors"
    )


def run(scale: str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    from indexer.index.store import Store

    books = [book.id for book in Store(data_dir).snapshot().books()]
    target = books[0]
    other = books[-1]
    words = [q for q in queries(data_dir, other, 6000, seed=3) if not q.startswith('"') and not q.endswith("*")]
    cheap = [f"/iiif/{other}/search/1?q={urllib.parse.quote(w)}" for w in words]
    scope = "/iiif/search/2" if scale == "collection" else f"/iiif/{target}/search/1"
    costly = [f"{scope}?q={urllib.parse.quote(q)}" for q in costly_queries(5000)]
    report: dict[str, Any] = {"scale": scale, "books": len(books), "commit": commit(), "machine": machine()}
    server = Server(data_dir, args.server_workers)
    try:
        for path in cheap[:20] + costly[:2]:  # warm up: the snapshot, its rank arrays, a few pages
            # A costly query may be refused (400): that is what it is for.
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(server.base + path, timeout=60).read()
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            health, search = probes(server, cheap[-2000:], 10)
            report["idle"] = {"health": health.result(), "cheap": search.result()}
            print(f"\n{scale}: {len(books)} book(s); server RSS {server.rss():.0f} MB")
            print("  idle   " + line("/health", report["idle"]["health"]))
            print("  idle   " + line("cheap  ", report["idle"]["cheap"]))

            rss = server.rss()
            attack = start_wrk(server.base, costly, args.attack_seconds, tmp, connections=200, name="costly")
            time.sleep(1)
            health, search = probes(server, cheap[:2000], args.attack_seconds - 2)
            report["costly"] = {
                "health": health.result(),
                "cheap": search.result(),
                "attack": wrk_result(attack),
                "rss_before": rss,
                "rss_after": server.rss(),
            }
            c = report["costly"]
            print(f"  200 connections of {costly_queries(1)[0]!r} over {scope}:")
            print("    attack  " + line("costly ", c["attack"]))
            print("    probe   " + line("/health", c["health"]))
            print("    probe   " + line("cheap  ", c["cheap"]))

            rss = server.rss()
            bust = start_wrk(server.base, cache_busting_paths(target, 100_000), args.seconds, tmp, 16, "bust")
            health = Probe(server.base, ["/health"], args.seconds - 2)
            report["cache_busting"] = {
                "attack": wrk_result(bust),
                "health": health.result(),
                "rss_before": rss,
                "rss_after": server.rss(),
            }
            b = report["cache_busting"]
            print(f"  {args.seconds} s of cache busting (16 connections, 7 KB of unknown parameters each):")
            print("    attack  " + line("busting", b["attack"]))
            print("    probe   " + line("/health", b["health"]))
            print(f"    RSS {b['rss_before']:.0f} -> {b['rss_after']:.0f} MB")

            rss = server.rss()
            health = Probe(server.base, ["/health"], args.seconds - 2)
            stats: dict[str, int] = {}
            thread = threading.Thread(
                target=lambda: stats.update(asyncio.run(slow_clients(server.port, args.seconds))), daemon=True
            )
            thread.start()
            thread.join()
            report["slow_heads"] = {
                "clients": stats,
                "health": health.result(),
                "rss_before": rss,
                "rss_after": server.rss(),
            }
            s = report["slow_heads"]
            print(f"  {args.seconds} s of 500 dripping and 50 endless request heads: {stats}")
            print("    probe   " + line("/health", s["health"]))
            print(f"    RSS {s['rss_before']:.0f} -> {s['rss_after']:.0f} MB")
    finally:
        server.stop()
    (OUT / f"hostile-{scale}.json").write_text(json.dumps(report, indent=2))
    return report


MANIFEST_WRK = """
local n = 0
request = function()
  n = n + 1
  if n %% 2 == 0 then
    return wrk.format("GET", %(path)s, {["If-None-Match"] = %(etag)s, ["Accept-Encoding"] = "gzip"})
  end
  return wrk.format("GET", %(path)s, {["Accept-Encoding"] = "gzip"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%.0f %%.0f %%.0f %%.0f\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


def cpu_per_request(server: Server, path: str, headers: dict[str, str], count: int) -> dict[str, Any]:
    """Server CPU (ms) per request of `path`, asked `count` times one at a time on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    statuses: set[int] = set()
    before = server.cpu_seconds()
    began = time.perf_counter()
    for _ in range(count):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        statuses.add(response.status)
    wall = time.perf_counter() - began
    spent = server.cpu_seconds() - before
    connection.close()
    return {"cpu_ms": spent * 1000 / count, "wall_ms": wall * 1000 / count, "statuses": sorted(statuses)}


def manifest_run(data_dir: Path, code: Path | None, args: argparse.Namespace, control: bool) -> dict[str, Any]:
    """CPU per request and the 50-connection flood of conditional and plain manifest GETs, on one server.

    `control`: then the same flood of `/health` itself, the least any 50-connection flood costs the probe.
    """
    from indexer.index.store import Store

    book = Store(data_dir).snapshot().books()[0]
    path = f"/iiif/{book.id}/manifest"
    server = Server(data_dir, args.server_workers, code)
    report: dict[str, Any] = {"code": str(code) if code else "this checkout", "canvases": book.canvas_count}
    try:
        for _ in range(3):  # warm up: the snapshot, and the kept manifest where there is one
            first = urllib.request.urlopen(urllib.request.Request(server.base + path), timeout=60)
            report["manifest_bytes"] = len(first.read())
        etag = first.headers["ETag"]
        zipped = urllib.request.urlopen(
            urllib.request.Request(server.base + path, headers={"Accept-Encoding": "gzip"}), timeout=60
        )
        report["gzip_bytes"] = len(zipped.read())
        gzip_etag = zipped.headers["ETag"]
        conditional = {"If-None-Match": gzip_etag, "Accept-Encoding": "gzip"}
        report["cpu"] = {
            "health": cpu_per_request(server, "/health", {}, 500),
            "conditional": cpu_per_request(server, path, conditional, 200),
            "plain_gzip": cpu_per_request(server, path, {"Accept-Encoding": "gzip"}, 50),
        }
        health = Probe(server.base, ["/health"], 10)
        report["idle"] = health.result()
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "manifest.lua"
            script.write_text(MANIFEST_WRK % {"path": json.dumps(path), "etag": json.dumps(gzip_etag)})
            rss = server.rss()
            cpu = server.cpu_seconds()
            attack = subprocess.Popen(
                ["wrk", "-t1", "-c50", f"-d{args.seconds}s", "--timeout", "10s", "-s", str(script), server.base],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(1)
            health = Probe(server.base, ["/health"], args.seconds - 2)
            report["flood"] = {
                "attack": wrk_result(attack),
                "health": health.result(),
                "rss_before": rss,
                "rss_after": server.rss(),
                "server_cpu_s": server.cpu_seconds() - cpu,
            }
            if control:
                # The floor: the same 50 connections asking /health itself. An event loop serves
                # its connections in turn, so a probe waits for one request of each of them.
                rss = server.rss()
                flood = start_wrk(server.base, ["/health"], args.seconds, Path(folder), 50, "control")
                time.sleep(1)
                health = Probe(server.base, ["/health"], args.seconds - 2)
                report["control"] = {
                    "attack": wrk_result(flood),
                    "health": health.result(),
                    "rss_before": rss,
                    "rss_after": server.rss(),
                }
        report["etag"] = etag
    finally:
        server.stop()
    return report


def manifest_flood(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = build("manifest", books=1, repeat=12, workers=args.workers)  # 4,164 pages
    report: dict[str, Any] = {"commit": commit(), "machine": machine(), "server_workers": args.server_workers}
    runs = [("ours", None)] + ([("reference", Path(args.reference))] if args.reference else [])
    for name, code in runs:
        result = report[name] = manifest_run(data_dir, code, args, control=code is None)
        cpu, flood = result["cpu"], result["flood"]
        print(
            f"\nmanifest flood, {name} ({result['code']}): {result['canvases']} canvases, "
            f"{result['manifest_bytes']:,} bytes ({result['gzip_bytes']:,} gzipped)"
        )
        for kind, figures in cpu.items():
            print(
                f"  CPU per request, {kind:11}: {figures['cpu_ms']:.2f} ms (wall {figures['wall_ms']:.2f} ms, "
                f"status {figures['statuses']})"
            )
        print("  idle    " + line("/health", result["idle"]))
        print(f"  {args.seconds} s of 50 connections, conditional and plain GETs in turn:")
        print("    attack  " + line("manifest", flood["attack"]))
        print("    probe   " + line("/health", flood["health"]))
        print(
            f"    RSS {flood['rss_before']:.0f} -> {flood['rss_after']:.0f} MB; "
            f"server CPU {flood['server_cpu_s']:.0f} s"
        )
        if "control" in result:
            print(f"  control: {args.seconds} s of 50 connections of /health itself:")
            print("    attack  " + line("/health", result["control"]["attack"]))
            print("    probe   " + line("/health", result["control"]["health"]))
    if args.reference:
        ours, ref = report["ours"], report["reference"]
        for kind in ("conditional", "plain_gzip"):
            print(
                f"  CPU per {kind} GET, reference / ours: "
                f"{ref['cpu'][kind]['cpu_ms'] / max(ours['cpu'][kind]['cpu_ms'], 1e-3):.1f}x"
            )
        print(
            f"  /health p99 under the flood, reference / ours: "
            f"{ref['flood']['health']['p99'] / ours['flood']['health']['p99']:.1f}x"
        )
    (OUT / "hostile-manifest.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["book", "collection", "both", "manifest"], default="both")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of cache busting and of slow heads")
    parser.add_argument("--attack-seconds", type=int, default=30, help="seconds of costly queries")
    parser.add_argument("--server-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="index-manifest workers if building")
    parser.add_argument("--reference", help="manifest flood: also measure a server running the code of this checkout")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}; commit {commit()}; {args.server_workers} server worker(s)")
    if args.scale in ("book", "both"):
        run("book", build("book", books=1, repeat=3, workers=args.workers), args)
    if args.scale in ("collection", "both"):
        run("collection", build("collection", books=289, repeat=1, workers=args.workers), args)
    if args.scale == "manifest":
        manifest_flood(args)


if __name__ == "__main__":
    main()
