"""A v2 or v3 Collection -> the manifests it lists, nested collections included.

Walks depth-first in the listed order, fetching referenced members; a collection
seen before (one that contains itself, or two that list each other) is skipped,
and nesting is capped, so a walk always ends. Turning manifests into Books is
left to `indexer.sources.read_source`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from indexer.errors import IndexerError, SourceError
from indexer.fetch import Fetcher
from indexer.sources.json_values import JsonDict, as_list, resource_id
from indexer.sources.sniff import sniff

__all__ = ["MAX_DEPTH", "ErrorHandler", "iter_manifests"]

log = logging.getLogger(__name__)

MAX_DEPTH = 8
ErrorHandler = Callable[[str, IndexerError], None]

# Keys whose presence means a member is embedded in full rather than referenced.
_CONTENT_KEYS = ("items", "sequences", "manifests", "collections", "members")


@dataclass
class _Walk:
    fetcher: Fetcher
    max_depth: int
    on_error: ErrorHandler | None
    collections: set[str] = field(default_factory=set)
    manifests: set[str] = field(default_factory=set)

    def report(self, location: str, error: IndexerError) -> None:
        if self.on_error is None:
            raise error
        self.on_error(location, error)


def iter_manifests(
    data: JsonDict,
    location: str,
    fetcher: Fetcher,
    *,
    max_depth: int = MAX_DEPTH,
    on_error: ErrorHandler | None = None,
) -> Iterator[tuple[JsonDict, str, Literal[2, 3]]]:
    """(manifest JSON, its location, Presentation version) for every manifest in a Collection.

    A member that cannot be fetched or is not IIIF goes to `on_error(location, error)`
    and the walk goes on; without `on_error` the error is raised. Each manifest is
    yielded once even when listed twice.
    Example: `for manifest, url, version in iter_manifests(collection, url, fetcher): ...`
    """
    kind, version = sniff(data, location)
    if kind != "collection":
        raise SourceError(f"{location}: a Manifest, not a Collection")
    walk = _Walk(fetcher, max_depth, on_error)
    walk.collections.update(i for i in (location, resource_id(data)) if i)
    yield from _walk(walk, data, location, version, depth=0)


def _members(data: JsonDict, version: Literal[2, 3]) -> list[Any]:
    """The listed members in order."""
    if version == 3:
        # P3 §5.1 (Collection): items lists Manifests and Collections, in order.
        return as_list(data.get("items"))
    # P2.1 §5.8 (Collection): `members` is the ordered mixed list; `collections`
    # and `manifests` the older split form. Duplicates are dropped by id later.
    return as_list(data.get("members")) + as_list(data.get("collections")) + as_list(data.get("manifests"))


def _is_http(url: str) -> bool:
    try:
        return urlsplit(url).scheme.lower() in ("http", "https")
    except ValueError:  # a broken IPv6 host
        return False


def _walk(
    walk: _Walk, data: JsonDict, location: str, version: Literal[2, 3], depth: int
) -> Iterator[tuple[JsonDict, str, Literal[2, 3]]]:
    for position, member in enumerate(_members(data, version)):
        member_id = resource_id(member)
        if member_id is None:
            log.warning("%s: member %d has no id; skipped", location, position)
            continue
        if member_id in walk.collections or member_id in walk.manifests:
            log.warning("%s: %s is listed again (a cycle or a duplicate); skipped", location, member_id)
            continue
        if isinstance(member, dict) and any(key in member for key in _CONTENT_KEYS):
            member_data: Any = member
        elif not _is_http(member_id):
            # P3 §3.2 (id): referenced resources have HTTP(S) URIs. A remote
            # collection must not make us read local files.
            walk.report(member_id, SourceError(f"{location}: member {member_id!r} is not an http(s) URI; not fetched"))
            continue
        else:
            try:
                member_data = walk.fetcher.get_json(member_id)
            except IndexerError as error:
                walk.report(member_id, error)
                continue
        try:
            kind, member_version = sniff(member_data, member_id)
        except SourceError as error:
            walk.report(member_id, error)
            continue
        # The fetched document may name itself differently from the reference.
        ids = {i for i in (member_id, resource_id(member_data)) if i}
        if kind == "collection":
            if ids & walk.collections:
                log.warning("%s: collection %s contains itself; skipped", location, member_id)
                continue
            walk.collections |= ids
            if depth + 1 > walk.max_depth:
                walk.report(
                    member_id,
                    SourceError(f"{member_id}: collection nested more than {walk.max_depth} levels deep; not read"),
                )
                continue
            yield from _walk(walk, member_data, member_id, member_version, depth + 1)
        else:
            if ids & walk.manifests:
                log.warning("%s: manifest %s is listed again; skipped", location, member_id)
                continue
            walk.manifests |= ids
            yield member_data, member_id, member_version
