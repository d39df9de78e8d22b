"""The key tokens are signed with (#22): the setting, or a random one kept in the data directory.

Kept in DATA_DIR/auth-secret (mode 0600) so every worker, replica and shard that shares
the data directory, or is given the same IIIF_SEARCH_AUTH_SECRET, accepts the same tokens.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from indexer.paths import secret_file

#: Fewer bytes than this is not a key worth signing with.
MIN_SECRET_BYTES = 16


def server_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, else the data directory's, created on first use."""
    if configured:
        key = configured.encode("utf-8")
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"IIIF_SEARCH_AUTH_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
        return key
    path = secret_file(data_dir)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under another name, then linked: two workers starting at once make one
    # key (link fails for the second) and neither reads a half-written file.
    draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_text(encoding="ascii").strip().encode("ascii")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"{path} holds no usable key; remove it to have a new one made")
    return key
