"""Signed access tokens (#22): what the access cookie and a bearer token carry.

A token is `v1.<payload>.<signature>`: the payload is compact JSON in base64url, the
signature HMAC-SHA256 over `v1.<payload>` with the server's secret (secret.py), compared
in constant time. It names a session (random, revocable at logout), who holds it, the
access levels it grants and when it expires. Stateless on purpose: every replica and
shard sharing the secret checks it without asking anyone; logout is the revocation list
(store.py), checked after the signature.

>>> secret = b"k" * 32
>>> grant = Grant("s1", "ada", frozenset({"public", "restricted"}), expires=2_000_000_000)
>>> verify(sign(grant, secret), secret, now=1_900_000_000) == grant
True
>>> verify(sign(grant, secret), secret, now=2_000_000_001) is None  # expired
True
>>> verify(sign(grant, secret) + "x", secret, now=0) is None  # tampered
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from indexer.paths import ACCESS_LEVELS

_VERSION = "v1"
#: Longer is not a token of ours: refused before any work.
MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token says: a session, its holder, the levels it opens, its expiry (unix seconds)."""

    session: str
    user: str
    levels: frozenset[str]
    expires: int


def new_session() -> str:
    return secrets.token_urlsafe(18)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, signed: str) -> str:
    return _b64(hmac.new(secret, signed.encode("ascii"), hashlib.sha256).digest())


def sign(grant: Grant, secret: bytes) -> str:
    payload = {"s": grant.session, "u": grant.user, "l": sorted(grant.levels), "e": grant.expires}
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    signed = f"{_VERSION}.{body}"
    return f"{signed}.{_signature(secret, signed)}"


def verify(token: str, secret: bytes, now: float | None = None) -> Grant | None:
    """The grant a token carries, or None if it is not one of ours, was altered or has expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        return None
    signed = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_signature(secret, signed), parts[2]):
        return None
    try:
        payload = json.loads(_unb64(parts[1]))
        grant = Grant(str(payload["s"]), str(payload["u"]), frozenset(payload["l"]), int(payload["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None  # signed by us yet unreadable: only if the format changed; refuse all the same
    if not grant.levels <= set(ACCESS_LEVELS) or grant.expires <= (time.time() if now is None else now):
        return None
    return grant
