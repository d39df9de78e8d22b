"""The htpasswd password file (#22): bcrypt lines as `htpasswd -B` writes them, and nothing weaker."""

from __future__ import annotations

import os
import time
from pathlib import Path

import bcrypt
import pytest

from search_service.web.auth.passwords import PasswordFile


def htpasswd_line(user: str, password: str, prefix: str = "$2y$", cost: int = 4) -> str:
    """A line as `htpasswd -B` writes it: Apache's `$2y$` prefix on a bcrypt hash."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost)).decode()
    return f"{user}:{prefix}{hashed[4:]}\n"


def test_a_2y_line_and_a_2b_line_both_check(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("ada", "lovelace") + htpasswd_line("grace", "hopper", prefix="$2b$"))
    passwords = PasswordFile(path)
    assert passwords.check("ada", "lovelace")
    assert passwords.check("grace", "hopper")
    assert not passwords.check("ada", "hopper")
    assert not passwords.check("nobody", "lovelace")
    assert not passwords.check("ada", "lovelace" + "x" * 100)  # past bcrypt's 72 bytes: refused, not cut


def test_weaker_schemes_are_skipped_not_trusted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "htpasswd"
    # `htpasswd -m` (MD5) and `-s` (SHA-1) lines: refused whatever the password.
    path.write_text("old:$apr1$abc$0123456789abcdefghijkl\nsha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nbroken\n")
    passwords = PasswordFile(path)
    assert not passwords.check("old", "anything")
    assert "not a bcrypt hash" in caplog.text and "not `user:hash`" in caplog.text


def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("ada", "lovelace"))
    passwords = PasswordFile(path)
    assert not passwords.check("grace", "hopper")
    path.write_text(htpasswd_line("ada", "lovelace") + htpasswd_line("grace", "hopper"))
    os.utime(path, (time.time() + 5, time.time() + 5))  # a new mtime even within the clock's resolution
    assert passwords.check("grace", "hopper")


def test_an_unknown_user_costs_the_same_bcrypt_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The name alone must not be told by the time of the answer (docs/reliability.md, timing).

    Counted, not timed (a loaded CI machine makes wall times noisy): an unknown name runs one
    real bcrypt check against a hash of the file's cost, as a known name does.
    """
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("ada", "lovelace", cost=8) + htpasswd_line("grace", "hopper", cost=9))
    passwords = PasswordFile(path)
    costs: list[int] = []
    real_checkpw = bcrypt.checkpw

    def counted_checkpw(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counted_checkpw)
    assert not passwords.check("grace", "wrong")
    assert not passwords.check("nobody", "wrong")
    assert not passwords.check("nobody", "")
    assert costs == [9, 9, 9]
