"""Errors of the indexer; only the CLI turns them into messages and exit codes.

IndexerError
 ├── SourceError    the source is not IIIF, unreadable, or malformed (names URL and JSON path)
 ├── FetchError     an image, manifest or OCR file could not be fetched (names URL and reason)
 ├── CanvasFailed   one canvas could not be turned into text (the run goes on; its summary says why)
 ├── StoreError     the index could not be opened, locked or written
 │    └── IndexBusy another job holds the index's write lock
 ├── QueryTooCostly a search needs more work than its time budget (the server answers 400)
 ├── ShardMismatch  `--shards`: the list is not in the order its directories were first written in
 └── ClusterError   `--cluster`: the Dask cluster cannot do the OCR (names the scheduler)
      ├── ClusterUnreachable  no scheduler answers at the address (or no worker joins it)
      ├── ClusterUnfit        its workers lack Tesseract, a language, or our package; checked before the run
      └── ClusterLost         the scheduler went away during the run; the book in progress is not written
"""

from __future__ import annotations


class IndexerError(Exception):
    """Base class of everything the indexer raises on purpose."""


class SourceError(IndexerError):
    """A source that is not a usable IIIF manifest, Collection or folder."""


class FetchError(IndexerError):
    """A URL or file that could not be read within the limits."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class CanvasFailed(IndexerError):
    """This canvas could not be turned into text; the reason is for the run's summary."""


class StoreError(IndexerError):
    """The Whoosh index could not be opened or written."""


class IndexBusy(StoreError):
    """Another index job holds the write lock of the same data directory."""


class QueryTooCostly(IndexerError):
    """A search passed its deadline (index.counting.Deadline) before it was counted."""


class ShardMismatch(IndexerError):
    """A list of shard data directories that does not match their recorded positions (indexer/shards.py)."""


class ClusterError(IndexerError):
    """The Dask cluster given with `--cluster` cannot OCR the pages; nothing half-written."""


class ClusterUnreachable(ClusterError):
    """No Dask scheduler answers at the address, or no worker joined it in time."""


class ClusterUnfit(ClusterError):
    """The cluster's workers cannot OCR as asked (no Tesseract, a missing language, ...)."""


class ClusterLost(ClusterError):
    """The connection to the scheduler was lost during the run."""
