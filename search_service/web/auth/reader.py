"""The one access check (#22): which access levels the reader of a request holds.

Every route asks `reader_of(request)`, a single server's and a shard front's alike, so
restricted books are guarded in one place. A reader proves access with a token
(tokens.py) in the access cookie (what Auth 1.0 and 2.0 access services set, and what
images are fetched with) or in `Authorization: Bearer` (what viewers send to info.json,
the Auth 2.0 probe and search). No valid, unrevoked token: the anonymous reader, who
holds the public level only.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import HTTPConnection

from search_service.web.auth import tokens
from search_service.web.auth.secret import server_secret
from search_service.web.auth.store import AccessStore

log = logging.getLogger("search_service")

#: The access cookie's name.
COOKIE = "iiif_access"
#: Where the request's Reader is kept, once decided (headers.py reads it there).
SCOPE_KEY = "iiif_search.reader"


@dataclass(frozen=True, slots=True)
class Reader:
    """A request's reader: the access levels it holds, and who it is when it logged in."""

    levels: frozenset[str]
    user: str | None = None
    session: str | None = None
    expires: int = 0
    #: The token it proved access with: a shard front sends it on to the shards (#20 with #22).
    token: str | None = field(default=None, repr=False)

    @property
    def anonymous(self) -> bool:
        return self.session is None

    def may_read(self, access: str) -> bool:
        return access in self.levels


ANONYMOUS = Reader(frozenset({"public"}))


class Access:
    """One server's secret and access database: checks tokens and mints them."""

    def __init__(self, secret: bytes, store: AccessStore) -> None:
        self.secret = secret
        self.store = store

    @classmethod
    def for_settings(cls, auth_secret: str | None, data_dir: Path) -> Access:
        try:
            secret = server_secret(auth_secret, data_dir)
        except OSError as exc:
            # A read-only data directory (a replica mounting it so) must still serve: with a key
            # of this process only, tokens are good here alone; the setting shares one.
            log.warning(
                "cannot keep the token key in %s (%s): logins last as long as this process and "
                "hold on it alone; set IIIF_SEARCH_AUTH_SECRET to share one",
                data_dir,
                exc.strerror or exc,
            )
            secret = secrets.token_bytes(32)
        return cls(secret, AccessStore(data_dir))

    def check(self, token: str | None) -> Reader:
        """The reader a token stands for: ANONYMOUS unless it is ours, intact, unexpired and not logged out."""
        if not token:
            return ANONYMOUS
        grant = tokens.verify(token, self.secret)
        if grant is None or self.store.is_revoked(grant.session):
            return ANONYMOUS
        return Reader(grant.levels | {"public"}, grant.user, grant.session, grant.expires, token)

    def mint(self, user: str, levels: frozenset[str], lifetime: int, session: str | None = None) -> tokens.Grant:
        return tokens.Grant(session or tokens.new_session(), user, levels, int(time.time()) + lifetime)

    def token(self, grant: tokens.Grant) -> str:
        return tokens.sign(grant, self.secret)


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def reader_of(connection: HTTPConnection) -> Reader:
    """The request's reader, decided once per request (kept in its scope).

    The bearer token is asked first (a viewer sends it on purpose); then the cookie.
    """
    found = connection.scope.get(SCOPE_KEY)
    if isinstance(found, Reader):
        return found
    access: Access = connection.app.state.access
    reader = access.check(bearer_token(connection))
    if reader.anonymous:
        reader = access.check(connection.cookies.get(COOKIE))
    connection.scope[SCOPE_KEY] = reader
    return reader
