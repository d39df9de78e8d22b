"""Shard placement (#20): rendezvous hashing, the recorded positions, and the commands that write shards.

`index-manifest --shards` writes each book into the data directory of its shard (real
OCR files, `--ocr existing`), a book indexed again stays there, a list in another order
is refused, `iiif-search list --shards` says where each book is and which are misplaced
after the shards grew, and `iiif-search remove --shards` finds the book's shard.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.common import PERU_HOCR, split_hocr_pages
from indexer.cli import main as index_manifest
from indexer.errors import ShardMismatch
from indexer.index.store import Store
from indexer.shards import ShardPlace, claim, read_place, shard_of
from search_service.cli import main as iiif_search
from tests.reliability.conftest import write_manifest

IDS = [f"book-{n}" for n in range(6000)]


def test_placement_is_stable_and_even() -> None:
    counts = Counter(shard_of(book, 3) for book in IDS)
    assert set(counts) == {0, 1, 2}
    assert all(1800 < count < 2200 for count in counts.values()), counts
    assert [shard_of(book, 3) for book in IDS[:50]] == [shard_of(book, 3) for book in IDS[:50]]
    assert all(shard_of(book, 1) == 0 for book in IDS[:50])


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_growing_by_one_shard_moves_only_books_to_the_new_one(count: int) -> None:
    moves = [(shard_of(book, count), shard_of(book, count + 1)) for book in IDS]
    moved = [(old, new) for old, new in moves if old != new]
    assert all(new == count for _, new in moved)  # never from one old shard to another
    share = len(moved) / len(IDS)
    assert abs(share - 1 / (count + 1)) < 0.03, share


def test_claim_records_positions_and_refuses_another_order(tmp_path: Path) -> None:
    dirs = [tmp_path / name for name in ("a", "b", "c")]
    assert claim(dirs) == [ShardPlace(0, 3), ShardPlace(1, 3), ShardPlace(2, 3)]
    assert read_place(dirs[1]) == ShardPlace(1, 3)
    with pytest.raises(ShardMismatch, match="b is shard 2 of 3, but --shards lists it 1"):
        claim([dirs[1], dirs[0], dirs[2]])
    with pytest.raises(ShardMismatch, match="twice"):
        claim([dirs[0], dirs[0]])
    # Growing keeps the positions and records the new count.
    assert claim([*dirs, tmp_path / "d"])[0] == ShardPlace(0, 4)
    assert read_place(dirs[2]) == ShardPlace(2, 4)


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    tmp = tmp_path_factory.mktemp("shard-books")
    pages = split_hocr_pages(PERU_HOCR, tmp / "pages")
    return [
        str(write_manifest(tmp / f"book{n}.json", pages[10 + 3 * n : 13 + 3 * n], f"https://example.org/s{n}"))
        for n in range(8)
    ]


def _held(dirs: list[Path]) -> list[list[str]]:
    return [sorted(book.id for book in Store(d).snapshot().books()) for d in dirs]


def test_index_manifest_writes_each_book_to_its_shard(tmp_path: Path, manifests: list[str]) -> None:
    dirs = [tmp_path / f"shard{i}" for i in range(3)]
    shards = ",".join(str(d) for d in dirs)
    result = CliRunner().invoke(
        index_manifest, [*manifests, "--shards", shards, "--ocr", "existing", "-q", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    held = _held(dirs)
    assert sorted([book for ids in held for book in ids]) == sorted(f"book{n}" for n in range(8))
    for position, ids in enumerate(held):
        assert all(shard_of(book, 3) == position for book in ids)
    # Indexed again, a book stays where it is.
    again = CliRunner().invoke(
        index_manifest, [manifests[0], "--shards", shards, "--ocr", "existing", "-q", "--workers", "1"]
    )
    assert again.exit_code == 0, again.output
    assert _held(dirs) == held
    # Another order is refused before anything is written.
    reordered = ",".join(str(d) for d in (dirs[1], dirs[0], dirs[2]))
    refused = CliRunner().invoke(index_manifest, [manifests[0], "--shards", reordered, "--ocr", "existing", "-q"])
    assert refused.exit_code == 1 and "give the shards in the order they were first written" in refused.output
    assert _held(dirs) == held
    # One job per shard: --only-shard writes only that shard's books.
    only = [tmp_path / f"only{i}" for i in range(3)]
    arguments = ["--shards", ",".join(str(d) for d in only), "--ocr", "existing", "-q", "--workers", "1"]
    result = CliRunner().invoke(index_manifest, [*manifests, *arguments, "--only-shard", "2"])
    assert result.exit_code == 0, result.output
    assert _held(only) == [[], held[1], []]


def test_usage_errors_of_shards(tmp_path: Path, manifests: list[str]) -> None:
    runner = CliRunner()
    both = runner.invoke(index_manifest, [manifests[0], "--shards", "a,b", "--data-dir", str(tmp_path)])
    assert both.exit_code == 2 and "not both" in both.output
    assert runner.invoke(index_manifest, [manifests[0], "--shards", "a,,b"]).exit_code == 2
    assert runner.invoke(index_manifest, [manifests[0], "--only-shard", "1"]).exit_code == 2
    assert runner.invoke(index_manifest, [manifests[0], "--shards", "a,b", "--only-shard", "3"]).exit_code == 2


def test_list_remove_and_grow(tmp_path: Path, manifests: list[str]) -> None:
    dirs = [tmp_path / f"shard{i}" for i in range(3)]
    shards = ",".join(str(d) for d in dirs)
    options = ["--ocr", "existing", "-q", "--workers", "1"]
    assert CliRunner().invoke(index_manifest, [*manifests, "--shards", shards, *options]).exit_code == 0
    listed = CliRunner().invoke(iiif_search, ["list", "--shards", shards, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert {row["id"]: row["shard"] for row in rows} == {row["id"]: shard_of(row["id"], 3) + 1 for row in rows}
    # Grown to 4: the books the new shard wins are misplaced until indexed again with the 4 shards.
    grown = [*dirs, tmp_path / "shard3"]
    grown_list = ",".join(str(d) for d in grown)
    moving = sorted(row["id"] for row in rows if shard_of(row["id"], 4) == 3)
    assert moving, "8 books and none moves to a fourth shard: pick other ids"
    misplaced = CliRunner().invoke(iiif_search, ["list", "--shards", grown_list, "--misplaced"])
    assert sorted(line.split("\t")[0] for line in misplaced.output.splitlines()) == moving
    sources = [m for m in manifests if Path(m).stem in moving]
    assert CliRunner().invoke(index_manifest, [*sources, "--shards", grown_list, *options]).exit_code == 0
    left = {book for ids in _held(dirs) for book in ids}
    assert _held(grown)[3] == moving and not set(moving) & left  # moved, not copied
    nothing = CliRunner().invoke(iiif_search, ["list", "--shards", grown_list, "--misplaced"])
    assert nothing.exit_code == 0 and nothing.stdout == ""
    # remove finds the book's shard.
    book = rows[0]["id"]
    removed = CliRunner().invoke(iiif_search, ["remove", "--shards", grown_list, book])
    assert removed.exit_code == 0 and f"removed {book} from shard {shard_of(book, 4) + 1}" in removed.output
    assert book not in [b for ids in _held(grown) for b in ids]
    missing = CliRunner().invoke(iiif_search, ["remove", "--shards", grown_list, book])
    assert missing.exit_code == 1 and "not indexed" in missing.output
