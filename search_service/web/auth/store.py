"""The access database (#22): DATA_DIR/access.sqlite, shared by every worker and replica.

Holds what must outlive a process and be seen by all: revoked sessions (logout), and,
in their own tables, API keys and indexing jobs. SQLite in WAL mode: readers never
wait for a writer, and a connection per thread (sqlite3 objects are not shared).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from indexer.paths import access_db

log = logging.getLogger("search_service")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS revoked (session TEXT PRIMARY KEY, expires INTEGER NOT NULL);
"""


class AccessStore:
    """One data directory's access database; open lazily, a connection per thread."""

    def __init__(self, data_dir: Path) -> None:
        self.path = access_db(data_dir)
        self._local = threading.local()
        self._ready = False
        self._lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        """This thread's connection, the file and its tables created on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            with self._lock:
                if not self._ready:
                    conn.executescript(_SCHEMA)
                    self._ready = True
            self._local.conn = conn
        return conn

    def revoke(self, session: str, expires: int) -> None:
        """Refuse this session's token from now on, everywhere (logout); forgotten once it expires anyway."""
        conn = self.connect()
        conn.execute("INSERT OR REPLACE INTO revoked VALUES (?, ?)", (session, expires))
        conn.execute("DELETE FROM revoked WHERE expires < ?", (int(time.time()),))

    def is_revoked(self, session: str) -> bool:
        """Whether the session was logged out; True when that cannot be read (refused rather than trusted)."""
        if not self.path.exists():
            return False  # nobody has logged out here yet, and a read-only data directory needs no file
        try:
            row = self.connect().execute("SELECT 1 FROM revoked WHERE session = ?", (session,)).fetchone()
        except sqlite3.Error as exc:
            log.error("cannot read the revoked sessions in %s: %s; the token is refused", self.path, exc)
            return True
        return row is not None
