"""What restricted books (#22) cost the searches of everyone: the access check on the hot path.

    .venv/bin/python bench/access_overhead.py --reference DIR [--duration 15] [--rounds 2]

On the 1,041-page book of bench/search_latency.py (the 347-page hOCR of tests/data three
times, from its existing OCR), indexed by each checkout's own `index-manifest` (the index
format changed since), one uvicorn worker per server, `wrk` at 16 connections over 200 repeated searches of the book and 200
of the collection (answered from the response cache after the first: the path where a few
microseconds of access checking show most), then `/health`. Servers, in one run:

- `reference`: the code of DIR (a checkout from before #22) on the public book;
- `public`: this code on the same data, no book restricted (what most libraries run);
- `guarded, anonymous`: this code with a restricted copy of the book beside it, anonymous readers;
- `guarded, logged in`: the same server, every request with a login's cookie (a signed token
  checked and a revocation looked up per request; the union of two indexes).

Prints requests/s, p50 and the server's CPU per request (from /proc, the figure that survives
a shared machine), and each one's ratio to the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PERU_HOCR, commit, hocr_manifest, machine, split_hocr_pages, write_json
from bench.search_latency import free_port, queries, run_wrk, wait_for

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-of-enough-bytes-0123456789"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def guarded_copy(source: Path, target: Path) -> None:
    """`source` copied, with its book written once more, restricted, under another id."""
    from dataclasses import replace

    from indexer.index.library import Library

    shutil.copytree(source, target)
    library = Library(target)
    snap = library.store("public").snapshot()
    book = snap.books()[0]
    manifest = snap.manifest(book.id) or {}
    pages = [replace(snap.page(d), book_id="restricted-copy") for d in snap.docs_of(book.id)]
    library.store("restricted").replace_book(replace(book, id="restricted-copy", manifest=manifest), pages)


def build(checkout: Path, manifest: Path, data_dir: Path) -> None:
    subprocess.run(
        [
            *(str(checkout / ".venv/bin/index-manifest"), str(manifest), "--id", "peru", "--ocr", "existing"),
            *("--data-dir", str(data_dir), "--quiet"),
        ],
        cwd=checkout,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def serve(checkout: Path, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "IIIF_SEARCH_AUTH_SECRET": SECRET, "OMP_THREAD_LIMIT": "1"}
    process = subprocess.Popen(
        [
            *(str(checkout / ".venv/bin/iiif-search"), "serve", "--port", str(port), "--data-dir", str(data_dir)),
            *("--workers", "1", "--log-level", "warning"),
        ],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/health")
    return process


def measure(
    base: str, pid: int, paths: list[str], duration: int, tmp: Path, extra: tuple[str, ...] = ()
) -> dict[str, float]:
    run_wrk(base, paths, 3, tmp, extra=extra)  # warm: every answer in the response cache
    before = cpu_seconds(pid)
    result = run_wrk(base, paths, duration, tmp, extra=extra)
    result["cpu_ms_per_request"] = (cpu_seconds(pid) - before) * 1000 / max(1.0, result["requests"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", required=True, help="a checkout from before #22, with its own .venv")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every server in turn; the best cell is kept")
    args = parser.parse_args()
    reference = Path(args.reference).resolve()
    tmp_dir = tempfile.TemporaryDirectory()
    tmp = Path(tmp_dir.name)
    pages = split_hocr_pages(PERU_HOCR, tmp / "pages")
    manifest = write_json(tmp / "peru.json", hocr_manifest(pages, "https://example.org/peru", 3))
    data, old_data, guarded = tmp / "data", tmp / "reference-data", tmp / "guarded"
    build(REPO, manifest, data)
    build(reference, manifest, old_data)
    guarded_copy(data, guarded)
    words = queries(data, None, 200)
    book = "peru"
    paths = {
        "book search": [f"/iiif/{book}/search/1?q={urllib.parse.quote(q)}" for q in words],
        "collection search": [f"/iiif/search/2?q={urllib.parse.quote(q)}" for q in words],
        "health": ["/health"],
    }
    from search_service.web.auth import tokens

    grant = tokens.Grant(
        tokens.new_session(), "bench", frozenset({"public", "clickthrough", "restricted"}), int(time.time()) + 86400
    )
    cookie = ("-H", f"Cookie: iiif_access={tokens.sign(grant, SECRET.encode())}")
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tmp_dir:
        runs = [
            ("reference", reference, old_data, ()),
            ("public", REPO, data, ()),
            ("guarded, anonymous", REPO, guarded, ()),
            ("guarded, logged in", REPO, guarded, cookie),
        ]
        # Rounds of every server in turn, the best of each kept: what a neighbour's load adds to one
        # cell is not charged to the code.
        for _ in range(args.rounds):
            for name, checkout, data_dir, extra in runs:
                port = free_port()
                server = serve(checkout, data_dir, port)
                try:
                    base = f"http://127.0.0.1:{port}"
                    for what, p in paths.items():
                        found = measure(base, server.pid, p, args.duration, tmp, extra)
                        kept = results.setdefault(name, {}).get(what)
                        if kept is None or found["cpu_ms_per_request"] < kept["cpu_ms_per_request"]:
                            results[name][what] = found
                finally:
                    server.terminate()
                    server.wait(20)
    print(
        f"# {machine()} at {commit()}; {args.duration} s of wrk per cell, 16 connections, 1 worker, "
        f"best of {args.rounds} rounds"
    )
    print("| server | what | requests/s | p50 ms | CPU ms/request | CPU vs reference |")
    print("|---|---|---:|---:|---:|---:|")
    for name, by_what in results.items():
        for what, r in by_what.items():
            ratio = r["cpu_ms_per_request"] / results["reference"][what]["cpu_ms_per_request"]
            print(
                f"| {name} | {what} | {r['rps']:.0f} | {r['p50']:.2f} | {r['cpu_ms_per_request']:.3f} | {ratio:.2f} |"
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
