"""One index against 3 shards behind a front, the same books, in one run: identical first pages, and latency (#20).

    .venv/bin/python bench/shards.py --books 40                       # builds bench/out/shards/ (real OCR), then measures
    .venv/bin/python bench/shards.py --single DIR --shards D1,D2,D3   # measures data directories built elsewhere
    .venv/bin/python bench/shards.py --books 1500 --build-only        # build only (the lead's big collection)
    .venv/bin/python bench/shards.py --single DIR --shards D1,D2,D3 --reference REF   # and REF's front + shards

Building: book n is a slice of the 347-page *Histoire du Pérou* hOCR of tests/data
(pages `n*37 mod 300` onwards, 40 to 347 pages long, so books differ in length and
words and BM25 has something to rank), each its own manifest id; every batch of 50 books
is indexed twice with `index-manifest --ocr existing`: into the single data directory,
and with `--shards` into the three. A stopped build resumes at the next batch.

Measuring: one `iiif-search serve` on the single index, three on the shards (with the
front's public URL) and the front (`--shard URL` x 3), all on 127.0.0.1. First, for a
query list (the commonest word, a phrase with it, a prefix of it, and a mix of 60 words,
phrases and prefixes from bench/search_latency.py) the first page of `/iiif/search/2`
and `/api/search` must be identical byte for byte (the base URL swapped); the bench stops
if not. Then wrk, 16 connections, a distinct query on every request (no answer cache
helps), against each: `/iiif/search/2` and `/api/search`, with `/health` as the reference
in the same run. With `--reference REF` (a checkout of other code, e.g. `git worktree add
/tmp/ref COMMIT`), a second front and three more shards run REF's code (its packages
first on PYTHONPATH, this checkout's .venv) on the same shard directories and are measured
in the same run: the sharded path before and after a change. Prints a table and writes
bench/out/shards/result.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from bench.common import PERU_HOCR, REPO, commit, hocr_manifest, machine, split_hocr_pages, write_json
from bench.search_latency import free_port, queries, run_wrk, wait_for

OUT = REPO / "bench" / "out" / "shards"
BATCH = 50
SHARDS = 3


def book_pages(n: int, pages: list[tuple[Path, int, int]]) -> list[tuple[Path, int, int]]:
    """Book n's pages: a slice of the real book, 40 to 347 pages long."""
    first = (n * 37) % 300
    length = 40 + (n * 113) % 308
    return (pages + pages)[first : first + length]


def build(out: Path, books: int, workers: int) -> tuple[Path, list[Path]]:
    """The single data directory and the 3 shard directories holding `books` books (resumed when present)."""
    single, shards = out / "single", [out / f"shard{i}" for i in range(SHARDS)]
    done_file = out / "built.json"
    done = json.loads(done_file.read_text())["books"] if done_file.exists() else 0
    if done >= books:
        return single, shards
    pages = split_hocr_pages(PERU_HOCR, out / "pages")
    command = [str(REPO / ".venv/bin/index-manifest"), "--ocr", "existing", "--workers", str(workers), "--quiet"]
    while done < books:
        count = min(BATCH, books - done)
        with tempfile.TemporaryDirectory() as tmp:
            manifests = [
                str(
                    write_json(
                        Path(tmp) / f"peru-{n}.json",
                        hocr_manifest(book_pages(n, pages), f"https://example.org/shards/{n}"),
                    )
                )
                for n in range(done, done + count)
            ]
            started = time.perf_counter()
            subprocess.run([*command, *manifests, "--data-dir", str(single)], check=True, stdout=subprocess.DEVNULL)
            middle = time.perf_counter()
            shard_list = ",".join(str(d) for d in shards)
            subprocess.run([*command, *manifests, "--shards", shard_list], check=True, stdout=subprocess.DEVNULL)
            ended = time.perf_counter()
        done += count
        done_file.write_text(json.dumps({"books": done}))
        print(f"built {done} books: single {middle - started:.0f} s, shards {ended - middle:.0f} s", flush=True)
    return single, shards


class Server:
    """`iiif-search serve` in the background on a port of 127.0.0.1."""

    def __init__(
        self, data_dir: Path, workers: int, *extra: str, port: int | None = None, code: Path | None = None
    ) -> None:
        self.port = port or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IIIF_SEARCH_")}
        if code is not None:
            # Another checkout's packages ahead of this one's (the editable install is found after PYTHONPATH).
            env["PYTHONPATH"] = str(code)
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(REPO / ".venv/bin/iiif-search"),
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                *extra,
            ],
            env=env,
        )

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=600) as response:
            body: bytes = response.read()
            return body

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server and its worker processes (from /proc)."""
        return _tree_cpu(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _tree_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks + sum(_tree_cpu(int(child)) for child in children)


def special_queries(data_dir: Path) -> dict[str, str]:
    """The commonest word of the first book, a phrase with it, and a prefix of it (or of the next long word)."""
    from indexer.index.store import Store

    snap = Store(data_dir).snapshot()
    book = snap.books()[0]
    tokens = [t for i in range(book.canvas_count) if (page := snap.page_of(book.id, i)) for t in page.tokens]
    counts = Counter(t for t in tokens if t.isalpha() and len(t) >= 2)
    word = counts.most_common(1)[0][0]
    pairs = Counter(f"{a} {b}" for a, b in itertools.pairwise(tokens) if a == word and b.isalpha())
    long_word = next(w for w, _ in counts.most_common() if len(w) >= 5)
    return {"commonest word": word, "phrase": f'"{pairs.most_common(1)[0][0]}"', "prefix": long_word[:3] + "*"}


def _less_totals(answer: Any) -> Any:
    """An answer less its totals and last-page links (exact on one side, a lower bound on the other)."""
    if isinstance(answer, dict):
        drop = ("total", "total_hits", "total_books", "total_exact", "last", "within")
        return {k: _less_totals(v) for k, v in answer.items() if k not in drop}
    if isinstance(answer, list):
        return [_less_totals(v) for v in answer]
    return answer


def compare(single: Server, front: Server, qs: list[str]) -> int:
    """Stop unless every first page is the same on both (the base swapped); returns how many were compared."""
    compared = 0
    for q in qs:
        for prefix in ("/iiif/search/2", "/api/search"):
            # Byte for byte with exact totals; the fast answers less their totals (one index and
            # three shards may stop counting at different points, #20).
            both = True
            for suffix in ("&total=exact", ""):
                path = f"{prefix}?q={urllib.parse.quote(q)}{suffix}"
                try:
                    one, many = single.get(path), front.get(path)
                except urllib.error.HTTPError as error:
                    # A 400 past the query time limit (a cold first search, a loaded machine): nothing to compare.
                    print(f"  not compared: {path} ({error.code}: {error.read()[:200]!r})", flush=True)
                    both = False
                    continue
                for quote in (lambda url: url, lambda url: urllib.parse.quote(url, safe="")):
                    one = one.replace(quote(single.base).encode(), quote(front.base).encode())
                same = one == many if suffix else _less_totals(json.loads(one)) == _less_totals(json.loads(many))
                if not same:
                    raise SystemExit(f"first pages differ for {path}:\n single {one[:400]!r}\n front  {many[:400]!r}")
            compared += both
    return compared


def warm(server: Server, qs: list[str]) -> None:
    """A few searches before the measurement, so that every process has built its snapshot's columns.

    They are the index's once-per-commit cost (1.7 s per worker at 300,000 pages), not a
    search's: the single index and the front measured first were warmed by `compare`, a
    reference front and its shards were not, and paid them inside their measurement.
    """
    for _ in range(4):  # a server of several workers: each is likely to get one
        for q in qs:
            for prefix in ("/iiif/search/2", "/api/search"):
                # A cold search past the time limit (a 400) still built the columns.
                with contextlib.suppress(urllib.error.HTTPError):
                    server.get(f"{prefix}?q={urllib.parse.quote(q)}")


def measure(server: Server, prefix: str, qs: list[str], duration: int) -> dict[str, float]:
    paths = [f"{prefix}?q={urllib.parse.quote(q)}" for q in qs]
    with tempfile.TemporaryDirectory() as tmp:
        return run_wrk(server.base, paths, duration, Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=40, help="books to build (when no data directories are given)")
    parser.add_argument("--single", type=Path, help="a data directory holding every book")
    parser.add_argument("--shards", help="the same books as shard data directories, comma-separated, in order")
    parser.add_argument("--out", type=Path, default=OUT, help="where the built collection and result.json go")
    parser.add_argument("--duration", type=int, default=15, help="seconds of wrk per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="index-manifest workers")
    parser.add_argument("--single-workers", type=int, default=os.cpu_count() or 1, help="workers of the single server")
    parser.add_argument("--shard-workers", type=int, default=1, help="workers of each shard server")
    parser.add_argument("--front-workers", type=int, default=1, help="workers of the front")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--reference", type=Path, help="a checkout whose front and shards are measured too")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.single and args.shards:
        single_dir, shard_dirs = args.single, [Path(d) for d in args.shards.split(",")]
    else:
        single_dir, shard_dirs = build(args.out, args.books, args.workers)
    if args.build_only:
        return
    from indexer.index.store import Store

    pages = sum(book.page_count for book in Store(single_dir).snapshot().books())
    books = len(Store(single_dir).snapshot().books())
    print(f"machine: {machine()}; commit {commit()}; {books:,} books, {pages:,} pages; wrk, 16 connections", flush=True)
    specials = special_queries(single_dir)
    mixed = queries(single_dir, None, 60)
    distinct = queries(single_dir, None, 6000, seed=2)
    front_port = free_port()
    single = Server(single_dir, args.single_workers)
    shards = [Server(d, args.shard_workers, "--public-url", f"http://127.0.0.1:{front_port}") for d in shard_dirs]
    front_args = [arg for shard in shards for arg in ("--shard", shard.base)]
    front = Server(args.out / "front", args.front_workers, *front_args, port=front_port)
    served: list[tuple[str, Server, list[Server]]] = [
        ("single", single, [single]),
        ("3 shards", front, [front, *shards]),
    ]
    if args.reference:
        code = args.reference.resolve()
        ref_port = free_port()
        ref_shards = [
            Server(d, args.shard_workers, "--public-url", f"http://127.0.0.1:{ref_port}", code=code) for d in shard_dirs
        ]
        ref_args = [arg for shard in ref_shards for arg in ("--shard", shard.base)]
        ref_front = Server(args.out / "front-reference", args.front_workers, *ref_args, port=ref_port, code=code)
        served.append(("reference", ref_front, [ref_front, *ref_shards]))
    result: dict[str, Any] = {
        "pages": pages,
        "books": books,
        "commit": commit(),
        "machine": machine(),
        "queries": specials,
        "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "reference": str(args.reference) if args.reference else None,
    }
    try:
        for server in (s for _, _, answering in served for s in answering):
            wait_for(f"{server.base}/health", timeout=300)
        result["identical_first_pages"] = compare(single, front, [*specials.values(), *mixed])
        print(f"identical first pages: {result['identical_first_pages']} (/iiif/search/2 and /api/search)", flush=True)
        for _, server, _ in served:
            warm(server, list(specials.values()))
        for name, server, answering in served:
            for stretch, prefix in enumerate(("/iiif/search/2", "/api/search")):
                # Each URL takes its own stretch of the distinct list, the same on every server (each has its
                # own answer cache): no request repeats one before it, and every server answers the same queries.
                offset = stretch * (len(distinct) // 2)
                qs = distinct[offset:] + distinct[:offset]
                # CPU of every process that answers (the front and its shards, or the single server) per
                # request: steadier than latency on a shared machine.
                before = [s.cpu_seconds() for s in answering]
                figures = measure(server, prefix, qs, args.duration)
                used = [s.cpu_seconds() - b for s, b in zip(answering, before, strict=True)]
                figures["cpu_ms"] = 1000 * sum(used) / max(1, figures["requests"])
                # The first process is the one the clients ask (the single server, or the front).
                figures["cpu_ms_asked"] = 1000 * used[0] / max(1, figures["requests"])
                result.setdefault("runs", []).append({"server": name, "url": prefix, **figures})
                print(
                    f"  {name:9} {prefix:15} p50 {figures['p50']:.1f} ms  p99 {figures['p99']:.1f} ms  "
                    f"{figures['rps']:.0f} req/s  {int(figures['errors'])} errors  {figures['cpu_ms']:.1f} ms CPU/request "
                    f"({figures['cpu_ms_asked']:.1f} of it in {'the server' if name == 'single' else 'the front'})",
                    flush=True,
                )
            health = measure(server, "/health", ["x"], max(5, args.duration // 3))
            result.setdefault("health", {})[name] = health
            print(f"  {name:9} /health         p50 {health['p50']:.1f} ms (reference)", flush=True)
    finally:
        for _, _, answering in reversed(served):
            for server in answering:
                server.stop()
    write_json(args.out / "result.json", result)


if __name__ == "__main__":
    main()
