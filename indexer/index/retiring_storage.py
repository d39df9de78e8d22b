"""The index writer's file storage: files a commit no longer needs are removed a grace period later.

Whoosh deletes a segment's files as soon as a commit merges the segment away, and the old
table of contents with them. A reader still on the previous commit then fails: it opens
some of a segment's files only when first needed (a page's stored words), so a server
taking a search during a commit read a deleted file (a TypeError deep in Whoosh, seen as
an HTTP 500), and a reader listing the directory just before the commit could not open
the table of contents it had found. On NFS it is worse: a file deleted by the writer's
host turns every other host's open handle on it stale (ESTALE), whatever the reader had
opened. Lucene meets the same problem with a deletion policy that keeps old commits for
a while (its ExpirationTimeDeletionPolicy, made for NFS); this is that policy for Whoosh.

A file Whoosh gives up is noted with the time in `.retired` (only the writer, under its
lock, writes it) and removed by the first commit `grace` seconds later. Readers take no
lock and never read the note: they open the newest table of contents, which names none
of the retired files. See docs/scale.md for what a replica needs of its file system.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from whoosh.filedb.filestore import FileStorage

#: Seconds a file a commit gave up stays on disk: longer than a search takes, than a
#: server's refresh (0.25 s), and than NFS clients cache a directory's listing (`acdirmax`,
#: 60 s by default), so a reader that has not yet seen the commit still finds its files.
RETIRE_AFTER = 300.0
JOURNAL = ".retired"  # Whoosh ignores names starting with a dot when it cleans up


class RetiringStorage(FileStorage):  # type: ignore[misc]  # whoosh is untyped
    """A FileStorage whose delete_file waits `grace` seconds after a file was first given up."""

    def __init__(self, path: str, grace: float = RETIRE_AFTER) -> None:
        super().__init__(path)
        self.grace = grace

    def delete_file(self, name: str) -> None:
        if self.grace <= 0:
            super().delete_file(name)
            return
        now = time.time()
        retired = self._read_journal()
        since = retired.setdefault(name, now)
        if now - since >= self.grace:
            with contextlib.suppress(FileNotFoundError):
                super().delete_file(name)
            del retired[name]
        # Forget names whose files are gone (removed here, or by hand).
        kept = {n: t for n, t in retired.items() if os.path.exists(self._fpath(n))}
        self._write_journal(kept)

    def _read_journal(self) -> dict[str, float]:
        try:
            data = json.loads(Path(self._fpath(JOURNAL)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_journal(self, retired: dict[str, float]) -> None:
        temporary = self._fpath(JOURNAL + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(retired, handle)
        os.replace(temporary, self._fpath(JOURNAL))
