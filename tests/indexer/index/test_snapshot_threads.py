"""A snapshot read by many threads at once gives the same answers as one thread.

Whoosh readers share file handles; without the snapshot's I/O lock, concurrent
reads returned each other's bytes (unpickling and zlib errors under load).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from indexer.index import counting
from indexer.index.records import BookRecord, PageRecord, StoredWord
from indexer.index.store import Store

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "and", "then", "the", "fox", "sleeps"]


def _book(store: Store, book_id: str, pages: int, wait: float = 0.0) -> None:
    records = []
    for n in range(pages):
        tokens = tuple(WORDS[(n + i) % len(WORDS)] for i in range(200))
        words = tuple(StoredWord(t, i * 5 % 900, i // 20 * 30, 4, 20, i // 20) for i, t in enumerate(tokens))
        records.append(
            PageRecord.build(
                book_id, n, f"c{n}", str(n), 1000, 1000, words, tokens, tuple((i, i) for i in range(len(tokens)))
            )
        )
    store.replace_book(
        BookRecord(id=book_id, label=book_id, manifest_id="m", version=3, source="s", manifest={}), records, wait=wait
    )


def test_concurrent_reads_agree_with_serial_reads(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for n in range(6):  # several commits: several segments, more files to share
        _book(store, f"book{n}", 60)
    snap = store.snapshot()

    def work(i: int) -> tuple[object, ...]:
        word = WORDS[i % len(WORDS)]
        counts = [a.tolist() for a in snap.count_arrays([word], None if i % 2 else f"book{i % 6}")]
        matches = counting.match(snap, [[word], ["fox"]], None, positions=True)
        page = snap.page(matches[i % len(matches)].docnum) if matches else None
        # What a prefix or fuzzy word reads of the term dictionary, and the ranking's cost estimate.
        index_counts = snap.term_counts([*snap.expand_prefix(word[:1], 50), "absent"], None)
        holding = snap.pages_holding([word, "fox", "absent"], 10**9)
        return counts, [(m.docnum, m.positions) for m in matches], page, index_counts, holding, snap.shares_positions()

    serial = [work(i) for i in range(48)]
    for round_ in range(6):
        fresh = store.snapshot() if round_ else snap
        snap = fresh
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(work, range(48))) == serial


def _write_one(args: tuple[str, str]) -> str:
    data_dir, book_id = args
    _book(Store(Path(data_dir)), book_id, 3, wait=60)
    return book_id


def test_jobs_creating_the_index_at_once_all_succeed(tmp_path: Path) -> None:
    """Creating the index is locked: concurrent first writers raced on its first TOC file."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Spawned, as index-manifest's pool is: a fork of this process (threads, libvips) can hang.
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        for round_ in range(3):
            data_dir = tmp_path / f"d{round_}"
            done = list(pool.map(_write_one, [(str(data_dir), f"b{n}") for n in range(4)]))
            assert sorted(b.id for b in Store(data_dir).snapshot().books()) == sorted(done)


def test_the_io_lock_goes_to_a_thread_that_has_waited() -> None:
    """A thread that gives the lock back and asks again at once goes behind one that has waited HANDOFF."""
    from indexer.index.snapshot import _FairLock

    lock = _FairLock()
    order: list[str] = []

    def waiter(name: str) -> None:
        with lock:
            order.append(name)

    with lock, lock:  # reentrant
        first = threading.Thread(target=waiter, args=("first",))
        first.start()
        while not lock._waiting:  # until `first` waits its turn
            time.sleep(0.001)
        time.sleep(lock.HANDOFF * 5)
    with lock:  # asked again at once: `first` had waited, so it went first
        order.append("again")
    first.join(5)
    assert order == ["first", "again"]


def test_the_io_lock_is_taken_back_at_once_while_nobody_has_waited_long() -> None:
    """No thread switch per read: a waiter of less than HANDOFF lets the owner go on, then gets its turn."""
    from indexer.index.snapshot import _FairLock

    lock = _FairLock()
    lock.HANDOFF = 0.5  # longer than `first` waits before the lock is given back and taken again
    order: list[str] = []
    first = threading.Thread(target=lambda: (lock.__enter__(), order.append("first"), lock.__exit__()))
    with lock:
        first.start()
        while not lock._waiting:
            time.sleep(0.001)
    with lock:  # taken back at once
        order.append("again")
    first.join(5)  # woken after HANDOFF, `first` takes the lock left free
    assert order == ["again", "first"] and not first.is_alive()
