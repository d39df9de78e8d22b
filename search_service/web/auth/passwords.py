"""Passwords checked against an `htpasswd` file (#22): the bcrypt lines that `htpasswd -B` writes.

Apache's tool writes `user:$2y$05$...`; `$2y$`, `$2b$` and `$2a$` are the same bcrypt for
our purpose and the `bcrypt` package checks all three. Other schemes htpasswd knows (MD5
`$apr1$`, SHA-1, crypt) are weak and refused: their lines are skipped with a warning, so a
user on such a line cannot log in until the file is rewritten with `-B`.

The file is re-read when its modification time or size changes: adding a reader with
`htpasswd -B FILE name` takes effect on the next login, on every worker.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from pathlib import Path

import bcrypt

log = logging.getLogger("iiif_search.auth")

_BCRYPT_PREFIXES = ("$2y$", "$2b$", "$2a$")
#: `htpasswd -B`'s default cost (-C 4..17); the file's own highest cost is used when it has entries.
DEFAULT_COST = 5
#: bcrypt reads at most 72 bytes; longer input is refused before it is hashed (bcrypt 5 raises on it).
MAX_PASSWORD_BYTES = 72
MAX_USER_LENGTH = 255


class PasswordFile:
    """An htpasswd file's bcrypt entries, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._hashes: dict[str, bytes] = {}
        self._dummy = _dummy_hash(DEFAULT_COST)

    def _entries(self) -> dict[str, bytes]:
        stat = os.stat(self.path)  # a missing file is an error the login page reports, not "nobody"
        stamp = (stat.st_mtime, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._hashes = _parse(self.path.read_text(encoding="utf-8"), self.path)
                # Checked for an unknown user, at the file's highest cost, so an unknown name costs the
                # same bcrypt work as a known one: the time of an answer does not tell which names exist.
                self._dummy = _dummy_hash(max((_cost(h) for h in self._hashes.values()), default=DEFAULT_COST))
                self._stamp = stamp
            return self._hashes

    def check(self, user: str, password: str) -> bool:
        """Whether `password` is `user`'s; as slow for an unknown user as for a known one."""
        secret = password.encode("utf-8")
        hashes = self._entries()
        known = hashes.get(user)
        if len(secret) > MAX_PASSWORD_BYTES or len(user) > MAX_USER_LENGTH:
            secret, known = secret[:MAX_PASSWORD_BYTES], None
        matched = bcrypt.checkpw(secret, known if known is not None else self._dummy)
        # Compared as a constant-time pair, so the dummy check can never count as a match.
        return hmac.compare_digest(bytes([matched, known is not None]), b"\x01\x01")


def _cost(hashed: bytes) -> int:
    """The cost of a bcrypt hash (`$2y$05$...` -> 5)."""
    return int(hashed[4:6])


def _dummy_hash(cost: int) -> bytes:
    return bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=min(max(cost, 4), 31)))


def _parse(text: str, path: Path) -> dict[str, bytes]:
    hashes: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user:
            log.warning("%s line %d is not `user:hash`; skipped", path, number)
        elif not hashed.startswith(_BCRYPT_PREFIXES) or not hashed[4:6].isdigit():
            log.warning("%s line %d (%s) is not a bcrypt hash: rewrite it with `htpasswd -B`", path, number, user)
        else:
            hashes[user] = hashed.encode("ascii")
    return hashes
