"""Which shard holds a book, and each shard directory's record of its place in the list (#20).

A collection split into N shards is N data directories, each with its own index, writer
and replicas. A book goes to the shard its id hashes to by rendezvous (highest random
weight) hashing over the shard positions 0..N-1: each position scores the id with
SHA-256, the highest score wins. So a book indexed again lands where it is, and growing
from N to N+1 shards moves only the books the new position now wins, about 1/(N+1) of
them (a modulo hash would move nearly all). Shards are named by their position, so every
list of them (`index-manifest --shards`, `iiif-search serve --shard`) must keep one order:
each directory records its position and the count in `shard.json` the first time it is
written as a shard, and a list in another order is refused.

>>> shard_of("harper", 3), shard_of("harper", 3) == shard_of("harper", 3)
(2, True)
>>> moved = sum(shard_of(f"book-{n}", 3) != shard_of(f"book-{n}", 4) for n in range(4000))
>>> 0.2 < moved / 4000 < 0.3  # about 1/4 move to the new fourth shard, none between old ones
True
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer import paths
from indexer.errors import ShardMismatch

#: The most shards a collection may have (a list longer than this is a typo, not a plan).
MAX_SHARDS = 1024


def shard_of(book_id: str, count: int) -> int:
    """The position (0..count-1) of the shard that holds `book_id` among `count` shards."""
    if count < 1:
        raise ValueError("a collection has at least one shard")
    best, chosen = b"", 0
    for position in range(count):
        score = hashlib.sha256(f"{position}:{book_id}".encode()).digest()
        if score > best:
            best, chosen = score, position
    return chosen


@dataclass(frozen=True, slots=True)
class ShardPlace:
    """A shard directory's place: position `position` (0-based) of `count` shards."""

    position: int
    count: int

    def to_json(self) -> dict[str, int]:
        return {"position": self.position, "count": self.count}


def read_place(data_dir: Path) -> ShardPlace | None:
    """The place recorded in `data_dir` (None: never written as a shard, or unreadable)."""
    try:
        data = json.loads(paths.shard_file(data_dir).read_text(encoding="utf-8"))
        return ShardPlace(int(data["position"]), int(data["count"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def claim(data_dirs: Sequence[Path]) -> list[ShardPlace]:
    """Check the shard directories against their recorded places and record the list's.

    Raises ShardMismatch when a directory was written as another position (the list is
    in another order, or names a directory twice). A directory recorded with another
    count keeps its position and takes the new count: the collection grew
    (docs/scale.md#growing). Creates the directories.
    """
    if not data_dirs:
        raise ShardMismatch("--shards lists no data directory")
    if len(data_dirs) > MAX_SHARDS:
        raise ShardMismatch(f"--shards lists {len(data_dirs)} directories; at most {MAX_SHARDS}")
    resolved = [Path(d).resolve() for d in data_dirs]
    if len(set(resolved)) != len(resolved):
        raise ShardMismatch("--shards names the same data directory twice")
    places = []
    for position, data_dir in enumerate(data_dirs):
        recorded = read_place(data_dir)
        if recorded is not None and recorded.position != position:
            raise ShardMismatch(
                f"{data_dir} is shard {recorded.position + 1} of {recorded.count}, but --shards lists it "
                f"{position + 1}: give the shards in the order they were first written"
            )
        place = ShardPlace(position, len(data_dirs))
        if recorded != place:
            _write_place(Path(data_dir), place)
        places.append(place)
    return places


def _write_place(data_dir: Path, place: ShardPlace) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    target = paths.shard_file(data_dir)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_text(json.dumps(place.to_json()) + "\n", encoding="utf-8")
    os.replace(partial, target)  # a reader sees the old record or the new one
