"""API keys of the admin API (#22): random, shown once, kept hashed in the access database.

A key is `iiifs_<id>_<secret>`: `id` is 12 hex characters, public, the row it is looked
up by; `secret` is 32 random bytes (`secrets`, base64url). Only SHA-256 of the whole key
is stored. A plain hash is right here, and a slow password hash (bcrypt) is not needed:
the key is 256 random bits, not a word a person chose, so there is no dictionary to try
and a stolen table gives nothing a brute force could finish; a fast hash also keeps the
check cheap on every call. The digests are compared with `hmac.compare_digest`, and an
unknown id is hashed and compared against a dummy digest, so the three outcomes (right
key, wrong secret with a right id, unknown id) take the same work (docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from search_service.web.auth.store import AccessStore

PREFIX = "iiifs_"
_ID_HEX = 12
#: What `keys add` accepts as a key's name: it appears in the audit log and in `keys list`.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_KEY_PATTERN = re.compile(rf"^{PREFIX}([0-9a-f]{{{_ID_HEX}}})_([A-Za-z0-9_-]{{43}})$")
# Compared against when the id is unknown, so that case does the same work as a wrong secret.
_DUMMY_DIGEST = hashlib.sha256(b"no such key").digest()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    digest BLOB NOT NULL,
    created REAL NOT NULL
);
"""


class KeyNameError(ValueError):
    """A key name that cannot be used, or that is taken."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What `keys list` shows of a key: never the key itself."""

    name: str
    key_id: str
    created: float


def digest_of(key: str) -> bytes:
    return hashlib.sha256(key.encode("ascii", errors="replace")).digest()


class ApiKeys:
    """The API keys of one data directory's access database."""

    def __init__(self, store: AccessStore) -> None:
        self.store = store

    def _connect(self) -> sqlite3.Connection:
        conn = self.store.connect()
        conn.executescript(_SCHEMA)  # CREATE ... IF NOT EXISTS: a no-op after the first call
        return conn

    def add(self, name: str) -> str:
        """Make a key for `name` and return it: the only time it is ever seen whole."""
        if not NAME_PATTERN.match(name):
            raise KeyNameError(
                f"key name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
            )
        key_id = secrets.token_hex(_ID_HEX // 2)
        key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        try:
            self._connect().execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?)", (key_id, name, digest_of(key), time.time())
            )
        except sqlite3.IntegrityError as exc:
            raise KeyNameError(f"a key named {name!r} exists already; remove it first") from exc
        return key

    def list(self) -> list[KeyInfo]:
        rows = self._connect().execute("SELECT name, key_id, created FROM api_keys ORDER BY name").fetchall()
        return [KeyInfo(str(name), str(key_id), float(created)) for name, key_id, created in rows]

    def remove(self, name: str) -> bool:
        """Revoke the key named `name`, at once for every worker and replica; False if there is none."""
        return self._connect().execute("DELETE FROM api_keys WHERE name = ?", (name,)).rowcount > 0

    def check(self, key: str) -> str | None:
        """The name of the key `key` is, or None."""
        match = _KEY_PATTERN.match(key)
        if match is None:
            return None  # not shaped like a key: no lookup, no hash
        row = (
            self._connect().execute("SELECT name, digest FROM api_keys WHERE key_id = ?", (match.group(1),)).fetchone()
        )
        stored = bytes(row[1]) if row is not None else _DUMMY_DIGEST
        if hmac.compare_digest(digest_of(key), stored) and row is not None:
            return str(row[0])
        return None


def looks_like_key(value: str) -> bool:
    return value.startswith(PREFIX)
