"""Search latency over HTTP: a 1,000-page book and a 100,000-page collection, beside /health.

    .venv/bin/python bench/search_latency.py [--scale book|collection|both] [--duration 20] [--reference DIR]

Builds the indexes from existing OCR (the 347-page hOCR book of tests/data,
repeated: 3x as one book = 1,041 pages; 289 books of 347 pages = 100,283 pages),
kept in bench/out/ so later runs reuse them. Starts the real server
(`iiif-search serve --workers N`, one uvicorn worker per core by default), then drives it with `wrk` at 16
connections over two mixes of queries (words sampled across the vocabulary's
frequency ranks, two-word phrases taken from the text, prefixes): 200 repeated
ones, and a list of distinct ones where no request repeats another; then the
same run against /health as the reference. Prints p50/p95/p99, requests/s,
errors, server RSS and index size. The collection is measured on freshly started
servers: `/iiif/search/2` (hits of the best books first, ranked per query, #13);
with `--reference DIR`, the same URL served by the code of another checkout (e.g.
main before the ranking, extracted with `git archive`) and the ratio of the two;
and `/api/search` (the book-level answer: ranked books, counts, first hits with
their line pictures' URLs).

Targets (2 cores): book p50 <= 15 ms, p99 <= 60 ms; collection p50 <= 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PERU_HOCR, REPO, commit, dir_bytes, hocr_manifest, machine, split_hocr_pages, write_json

OUT = REPO / "bench" / "out"
CONNECTIONS = 16

WRK_SCRIPT = """
local paths = {%s}
local n = 0
init = function(args)
  n = 0
end
request = function()
  n = (n %% #paths) + 1
  return wrk.format("GET", paths[n])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%.0f %%.0f %%.0f %%.0f\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


def build(name: str, books: int, repeat: int, workers: int) -> Path:
    """An index of `books` books, each the 347-page book repeated `repeat` times; reused when present."""
    data_dir = OUT / f"search-{name}"
    done = data_dir / "BUILT"
    if done.exists():
        return data_dir
    with tempfile.TemporaryDirectory() as tmp:
        pages = split_hocr_pages(PERU_HOCR, Path(tmp) / "pages")
        manifests = []
        for n in range(books):
            manifests.append(
                str(
                    write_json(
                        Path(tmp) / f"peru-{n:03d}.json", hocr_manifest(pages, f"https://example.org/peru/{n}", repeat)
                    )
                )
            )
        started = time.perf_counter()
        # One command per batch keeps the argument list short; each book is its own commit.
        for i in range(0, len(manifests), 50):
            subprocess.run(
                [
                    str(REPO / ".venv/bin/index-manifest"),
                    *manifests[i : i + 50],
                    "--ocr",
                    "existing",
                    "--data-dir",
                    str(data_dir),
                    "--workers",
                    str(workers),
                    "--quiet",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        seconds = time.perf_counter() - started
    total = books * repeat * len(pages)
    done.write_text(json.dumps({"pages": total, "books": books, "seconds": seconds}))
    print(f"built {name}: {books} book(s), {total} pages in {seconds:.0f}s ({total / seconds:.0f} pages/s)")
    return data_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer {url}")


def queries(data_dir: Path, book: str | None, count: int, seed: int = 1) -> list[str]:
    """Words across the frequency ranks, phrases from the text, and prefixes: all with hits.

    For 200: 100 words evenly spread over the vocabulary's frequency ranks, 50 two-word
    phrases taken from the text, 50 four-letter prefixes `abcd*`. For more than the
    vocabulary allows in those shares: every word, every 3- to 5-letter prefix, and
    phrases for the rest (two words, then three), shuffled. No query twice.
    """
    from indexer.index.store import Store

    snap = Store(data_dir).snapshot()
    sample_book = book or snap.books()[0].id
    rng = random.Random(seed)
    pages = [snap.page_of(sample_book, i) for i in range(347)]
    counts = Counter(t for p in pages if p for t in p.tokens if len(t) >= 3 and not t.isdigit())
    words = sorted(counts)
    ranked = sorted(words, key=lambda w: (-counts[w], w))
    texts = [p.tokens for p in pages if p and len(p.tokens) > 10]
    adjacent = sorted({f'"{t[i]} {t[i + 1]}"' for t in texts for i in range(len(t) - 1)})
    if count // 2 <= len(ranked):
        picked = list(dict.fromkeys(ranked[int(len(ranked) * (i + 0.5) / (count // 2))] for i in range(count // 2)))
        stems = sorted({w[:4] + "*" for w in words if len(w) >= 6})
        mixed = picked + rng.sample(adjacent, count // 4) + rng.sample(stems, min(count // 4, len(stems)))
        rng.shuffle(mixed)  # any stretch of the list wrk runs through is then a fair sample
        return mixed
    stems = sorted({w[:n] + "*" for w in words for n in (3, 4, 5) if len(w) >= n + 2})
    rest = max(0, count - len(words) - len(stems))
    # Two-word phrases, then three-word ones when those run out.
    triples = sorted({f'"{t[i]} {t[i + 1]} {t[i + 2]}"' for t in texts for i in range(len(t) - 2)})
    phrases = adjacent + rng.sample(triples, min(max(0, rest - len(adjacent)), len(triples)))
    mixed = words + stems + rng.sample(phrases, min(rest, len(phrases)))
    rng.shuffle(mixed)
    return mixed


def run_wrk(
    base: str,
    paths: list[str],
    duration: int,
    tmp: Path,
    connections: int = CONNECTIONS,
    extra: tuple[str, ...] = (),
) -> dict[str, float]:
    return wrk_result(start_wrk(base, paths, duration, tmp, connections, extra=extra))


def start_wrk(
    base: str,
    paths: list[str],
    duration: int,
    tmp: Path,
    connections: int = CONNECTIONS,
    name: str = "paths",
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[str]:
    """wrk cycling through `paths` for `duration` seconds, started in the background; `extra`: more wrk options (-H)."""
    script = tmp / f"{name}.lua"
    script.write_text(WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths))
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", *extra, "-s", str(script), base],
        stdout=subprocess.PIPE,
        text=True,
    )


def wrk_result(process: subprocess.Popen[str]) -> dict[str, float]:
    """Latency percentiles (ms), requests/s and errors (non-2xx included) of a finished wrk."""
    stdout, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"wrk failed ({process.returncode})")
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout)
    line = next(row for row in result.stdout.splitlines() if row.startswith("RESULT"))
    requests, errors, micros, p50, p95, p99, mean = (float(v) for v in line.split()[1:])
    non2xx = 0
    for row in result.stdout.splitlines():
        if "Non-2xx" in row:
            non2xx = int(row.split(":")[1])
    return {
        "requests": requests,
        "errors": errors + non2xx,
        "rps": requests / (micros / 1e6),
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
        "mean": mean / 1000,
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """RSS of a server and its worker processes together."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(k) for k in children.read_text().split()] if children.exists() else []
    return rss_mb(pid) + sum(tree_rss_mb(k) for k in kids)


def measure(
    name: str,
    data_dir: Path,
    book: str | None,
    duration: int,
    server_workers: int,
    distinct: int,
    prefix: str | None = None,
    tree: Path | None = None,
) -> dict[str, Any]:
    """Both mixes and /health against a fresh server; `prefix` is the search URL (default: the book's 1.0, or /iiif/search/2).

    `tree`: serve the code of that checkout instead of this one (same virtual environment,
    its `search_service.cli` with the checkout first on PYTHONPATH), for a reference
    measured in the same run. Returns wrk's figures per mix and for /health, and the server's RSS (MB).
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, IIIF_SEARCH_DATA_DIR=str(data_dir))
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    server = subprocess.Popen(
        [
            *(
                [str(REPO / ".venv/bin/python"), "-c", "from search_service.cli import main; main()"]
                if tree
                else [str(REPO / ".venv/bin/iiif-search")]
            ),
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--workers",
            str(server_workers),
        ],
        env=env,
        cwd=tree,
    )
    try:
        wait_for(f"{base}/health")
        if prefix is None:
            prefix = f"/iiif/{book}/search/1" if book else "/iiif/search/2"
        # "repeated": 200 queries cycled, as when many readers search the same words (after
        # the first round, answered from the caches); "distinct": every request a query
        # not asked before (at most once per run: the bench says if the list wrapped).
        mixes = {"repeated": queries(data_dir, book, 200), "distinct": queries(data_dir, book, distinct, seed=2)}
        paths = {mix: [f"{prefix}?q={urllib.request.quote(q)}" for q in qs] for mix, qs in mixes.items()}
        first = 0.0
        for path in paths["repeated"][:: max(1, len(paths["repeated"]) // 20)]:  # a check that queries hit
            started = time.perf_counter()
            body = json.loads(urllib.request.urlopen(base + path, timeout=600).read())
            # The first search of a fresh server: opening the index and reading its columns included.
            first = first or (time.perf_counter() - started) * 1000
            assert body.get("resources") or body.get("items") or body.get("books"), path
        # Warm-up of the repeated mix: passes until every answer of one pass is quick, so
        # that each worker has seen every query (a connection goes to either worker).
        for _ in range(8):
            slowest = 0.0
            for path in paths["repeated"]:
                started = time.perf_counter()
                urllib.request.urlopen(base + path, timeout=60).read()
                slowest = max(slowest, time.perf_counter() - started)
            if slowest < 0.010:
                break
        rss_start = tree_rss_mb(server.pid)
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for mix in ("repeated", "distinct"):
                results[mix] = run_wrk(base, paths[mix], duration, Path(tmp))
            ref = run_wrk(base, ["/health"], max(5, duration // 2), Path(tmp))
        rss_end = tree_rss_mb(server.pid)
        info = json.loads((data_dir / "BUILT").read_text())
        print(
            f"\n{name}: {info['pages']:,} pages in {info['books']} book(s); index {dir_bytes(data_dir / 'index') / 1e6:.0f} MB; "
            f"server RSS {rss_start:.0f} MB after warm-up, {rss_end:.0f} MB after the run"
        )
        for mix, ours in results.items():
            wrapped = " (list wrapped: some repeated)" if ours["requests"] > len(paths[mix]) else ""
            kinds = Counter(
                ("phrase" if q.count(" ") == 1 else "phrase3")
                if q.startswith('"')
                else "prefix"
                if q.endswith("*")
                else "word"
                for q in mixes[mix]
            )
            print(
                f"  {mix:9} {prefix} ({len(paths[mix])} queries: {dict(kinds)}): p50 {ours['p50']:.1f} ms, p95 {ours['p95']:.1f} ms, "
                f"p99 {ours['p99']:.1f} ms, {ours['rps']:.0f} req/s, {int(ours['requests'])} requests, "
                f"{int(ours['errors'])} errors{wrapped}"
            )
        print(
            f"  /health  reference: p50 {ref['p50']:.1f} ms, p95 {ref['p95']:.1f} ms, p99 {ref['p99']:.1f} ms, "
            f"{ref['rps']:.0f} req/s, {int(ref['errors'])} errors"
        )
        print(f"  first search after start: {first:.0f} ms")
        return {**results, "health": ref, "rss_start": rss_start, "rss_end": rss_end, "first_ms": first}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["book", "collection", "both"], default="both")
    parser.add_argument("--duration", type=int, default=20, help="seconds of wrk per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="index-manifest workers when building")
    parser.add_argument("--server-workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes")
    parser.add_argument(
        "--distinct",
        type=int,
        default=None,
        help="size of the list of distinct queries (default: 80,000 on the book, which takes every "
        "word and prefix of the vocabulary and fills up with phrases; 6,000 on the collection, "
        "which keeps the shares of the repeated mix)",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="a checkout of other code (e.g. `git archive main | tar -x -C /tmp/main`) whose collection "
        "search is measured after this one's in the same run, with the ratio",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {machine()}; commit {commit()}; wrk, {CONNECTIONS} connections; "
        f"{args.server_workers} server worker(s)"
    )
    if args.scale in ("book", "both"):
        data = build("book", books=1, repeat=3, workers=args.workers)
        from indexer.index.store import Store

        book_id = Store(data).snapshot().books()[0].id
        book = measure("book", data, book_id, args.duration, args.server_workers, args.distinct or 80000)
        if args.reference:
            name = f"book, reference {args.reference}"
            plain = measure(
                name, data, book_id, args.duration, args.server_workers, args.distinct or 80000, None, args.reference
            )
            print_ratios(book, plain)
    if args.scale in ("collection", "both"):
        data = build("collection", books=289, repeat=1, workers=args.workers)
        distinct = args.distinct or 6000
        ranked = measure("collection", data, None, args.duration, args.server_workers, distinct, "/iiif/search/2")
        if args.reference:
            # The same queries on the same index, served by the reference checkout's code (e.g.
            # main before #13: hits in book-id order), in this run: the cost of ranking as a ratio.
            name = f"collection, reference {args.reference}"
            plain = measure(
                name, data, None, args.duration, args.server_workers, distinct, "/iiif/search/2", args.reference
            )
            print_ratios(ranked, plain)
        measure("collection", data, None, args.duration, args.server_workers, distinct, "/api/search")


def print_ratios(ours: dict[str, dict[str, float]], reference: dict[str, dict[str, float]]) -> None:
    """This checkout's figures over the reference checkout's, mix by mix, and each /health over the other."""
    for mix in ("repeated", "distinct", "health"):
        print(
            f"  ratio {mix:9} this / reference: p50 {ours[mix]['p50'] / reference[mix]['p50']:.2f}, "
            f"p99 {ours[mix]['p99'] / reference[mix]['p99']:.2f}, req/s {ours[mix]['rps'] / reference[mix]['rps']:.2f}"
        )


if __name__ == "__main__":
    main()
