"""Search replicas (#15): several `iiif-search serve` over one data directory while index-manifest writes it.

Two servers read one data directory, each (where this machine allows a mount namespace)
through its own read-only bind mount of it, as replicas on an NFS export mounted `ro`
would. A book is replaced again and again by `index-manifest`, then a new book is added:

- both replicas answer every search throughout, each answer the old book's or the new
  one's (totals and hits of one version), never an error;
- both see the last version and the new book without a restart, within their refresh;
- neither takes a file lock (read from /proc/locks during the run), so they cannot block
  the writer or each other; the writer's runs under load are timed.

SWAPS (default 6) sets how many replacements.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

from indexer.pipeline import IndexOptions, index
from tests.reliability.conftest import (
    INDEX_MANIFEST,
    LiveServer,
    Pages,
    seed_index,
    seed_queries,
    subprocess_env,
    write_manifest,
)
from tests.reliability.test_faults import Hammer, search_path, term_totals

SWAPS = int(os.environ.get("SWAPS", "6"))
BOOK = "swap"


def read_only_wrapper(data_dir: Path) -> list[str] | None:
    """A command prefix that runs its command with `data_dir` bind-mounted read-only, or None if not allowed here."""
    wrapper = ["unshare", "--mount", "--", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(data_dir)]
    try:
        probe = subprocess.run(
            [*wrapper, "sh", "-c", '! touch "$0/.replica-probe" 2>/dev/null', str(data_dir)], timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return wrapper if probe.returncode == 0 and not (data_dir / ".replica-probe").exists() else None


def locks_held_by(pids: set[int]) -> list[str]:
    """Lines of /proc/locks (flock and fcntl locks alike) held by these processes."""
    return [line for line in Path("/proc/locks").read_text().splitlines() if int(line.split()[4]) in pids]


def test_two_replicas_answer_old_or_new_while_a_book_is_replaced_and_see_a_new_one(
    tmp_path: Path, peru_pages: Pages
) -> None:
    data_dir = tmp_path / "data"
    seed_index(data_dir, peru_pages, tmp_path)
    old = write_manifest(tmp_path / "old.json", peru_pages[40:60], "https://example.org/swap")
    new = write_manifest(tmp_path / "new.json", peru_pages[60:80], "https://example.org/swap")
    fresh = write_manifest(tmp_path / "fresh.json", peru_pages[80:90], "https://example.org/fresh")
    versions = {}
    for name, manifest in (("old", old), ("new", new)):
        index([str(manifest)], IndexOptions(data_dir=tmp_path / name, workers=1, book_id=BOOK, ocr="existing"))
        versions[name] = tmp_path / name
    candidates = seed_queries(versions["old"], 40, BOOK)
    counts = {name: term_totals(d, [BOOK], candidates)[BOOK] for name, d in versions.items()}
    words = [w for w in candidates if counts["old"].get(w, 0) != counts["new"].get(w, 0)][:4]
    assert len(words) == 4
    allowed = {search_path(BOOK, w): {counts["old"].get(w, 0), counts["new"].get(w, 0)} for w in words}

    def write(manifest: Path, book: str) -> float:
        started = time.monotonic()
        run = subprocess.run(
            [*INDEX_MANIFEST, str(manifest), "--data-dir", str(data_dir), "--ocr", "existing", "--id", book, "-q"],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        return time.monotonic() - started

    write(old, BOOK)
    wrapper = read_only_wrapper(data_dir)
    # A server starts in ~3 s on a quiet machine; two of them beside the writer and other jobs may take much longer.
    replicas = [LiveServer(data_dir, wrapper=wrapper or (), startup=120) for _ in range(2)]

    def judge(path: str, data: dict[str, Any]) -> str | None:
        total = data["within"]["total"]
        if total not in allowed[path]:
            return f"{path}: total {total}, neither of {allowed[path]}"
        if len(data["hits"]) != min(total, 100):  # a page of hits of the same version as the total
            return f"{path}: {len(data['hits'])} hits listed of {total}"
        return None

    hammers = [Hammer(replica, list(allowed), judge) for replica in replicas]
    for hammer in hammers:
        hammer.start()
    logs = []
    try:
        pids = {replica.process.pid for replica in replicas}
        locks: list[str] = []
        seconds = []
        for n in range(SWAPS + 1):  # new, old, new, ...: ends with the new book
            seconds.append(write(new if n % 2 == 0 else old, BOOK))
            locks += locks_held_by(pids)
            time.sleep(0.3)
        seconds.append(write(fresh, "fresh"))
        word = seed_queries(tmp_path / "data", 1, "fresh")[0]
        path = f"/iiif/fresh/search/1?q={urllib.parse.quote(word)}"

        def sees_fresh(replica: LiveServer) -> bool:
            # A replica checks the disk every 0.25 s: until then the new book is a 404, not an error.
            status, body = replica.get(path)
            return status == 200 and json.loads(body)["within"]["total"] > 0

        deadline = time.monotonic() + 5
        while not all(sees_fresh(r) for r in replicas):
            assert time.monotonic() < deadline, "a replica did not see the new book within 5 s"
            time.sleep(0.1)
        for hammer in hammers:
            hammer.stop()
        for replica, hammer in zip(replicas, hammers, strict=True):
            assert not hammer.errors, hammer.errors[:5]
            assert hammer.requests > 50, hammer.requests
            # Each replica serves the last version now: the new book's totals, no restart.
            for path in allowed:
                q = path.split("q=")[1]
                assert replica.total(BOOK, q) == counts["new"].get(q, 0), path
        assert any(len(seen) == 2 for hammer in hammers for seen in hammer.seen.values())
        assert locks == [], locks
        print(
            f"\nreplicas: {len(replicas)} servers{' on read-only mounts' if wrapper else ''}, "
            f"{SWAPS + 1} replacements and a new book written in {', '.join(f'{s:.1f}' for s in seconds)} s; "
            f"{sum(h.requests for h in hammers)} searches, 0 errors, no file locks held by the replicas"
        )
    finally:
        for hammer in hammers:
            hammer.stop()
        logs = [replica.stop() for replica in replicas]
    for log in logs:
        assert "Traceback" not in log, log


# -- what a reader on the previous commit still needs ----------------------------------------------


def _index_books(data_dir: Path, pages: Pages, tmp: Path, books: dict[str, slice], retire_after: float) -> None:
    """Each book in its own commit (small segments, which the next commit merges), through a Store with `retire_after`."""
    from indexer import pipeline
    from indexer.index.store import Store

    store = Store(data_dir, retire_after=retire_after)
    for book, part in books.items():
        manifest = write_manifest(tmp / f"{book}.json", pages[part], f"https://example.org/{book}")
        options = IndexOptions(data_dir=data_dir, workers=1, ocr="existing", book_id=book)
        with pipeline.Fetcher() as fetcher:
            [book_made] = list(pipeline.read_source(str(manifest), fetcher, book_id=book))
            report = pipeline.index_book(book_made, store, options, pipeline.Progress(), None, fetcher)
        assert report.committed


def test_a_reader_on_the_previous_commit_still_reads_every_page_after_a_merge(
    tmp_path: Path, peru_pages: Pages
) -> None:
    """Regression: Whoosh deleted merged segments at once, and a server still on the old commit read
    stored pages from files that were gone (TypeError in Whoosh, an HTTP 500)."""
    from indexer.index.store import Store

    data_dir = tmp_path / "data"
    books = {f"b{n}": slice(10 * n, 10 * n + 10) for n in range(6)}
    _index_books(data_dir, peru_pages, tmp_path, books, retire_after=300)
    before = Store(data_dir).snapshot()
    files = set(os.listdir(data_dir / "index"))
    _index_books(data_dir, peru_pages, tmp_path, {"b0": slice(100, 120)}, retire_after=300)  # merges the small segments
    assert before.searcher is not None
    assert not before.searcher.up_to_date()
    assert files <= set(os.listdir(data_dir / "index"))  # nothing the old commit named is gone yet
    words = 0
    for book in books:  # pages never read before the commit, read after it
        for canvas in range(10):
            page = before.page_of(book, canvas)
            assert page is not None and page.canvas_id == f"https://example.org/{book}/canvas/{canvas + 1}"
            words += len(page.tokens)
    assert words > 1000


def test_files_a_commit_gave_up_are_removed_after_the_grace_period(tmp_path: Path, peru_pages: Pages) -> None:
    data_dir = tmp_path / "data"
    books = {f"b{n}": slice(10 * n, 10 * n + 10) for n in range(6)}
    _index_books(data_dir, peru_pages, tmp_path, books, retire_after=1.0)
    _index_books(data_dir, peru_pages, tmp_path, {"b0": slice(100, 120)}, retire_after=1.0)
    retired = json.loads((data_dir / "index" / ".retired").read_text())
    assert retired and all((data_dir / "index" / name).exists() for name in retired)
    time.sleep(1.1)
    _index_books(data_dir, peru_pages, tmp_path, {"b1": slice(120, 130)}, retire_after=1.0)
    assert not any((data_dir / "index" / name).exists() for name in retired)
    tocs = sorted(name for name in os.listdir(data_dir / "index") if name.endswith(".toc"))
    assert len(tocs) == 2, tocs  # the newest, and the one it replaced (retired, not yet due)
