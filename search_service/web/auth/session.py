"""The browser side of a login (#22): the access cookie's flags, the login forms' CSRF check, origins.

The access cookie is HttpOnly (no page script reads it; viewers get a token from the token
services instead). Over HTTPS it is Secure and `SameSite=None`: a viewer on another site
loads our images with it, which `Lax` would not send. Over plain HTTP a browser refuses
`SameSite=None` without Secure, so it is `Lax` there (viewers on this server still work).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.responses import Response

from search_service.web.auth.reader import COOKIE

#: The login forms' CSRF cookie: a random nonce; the form carries its HMAC (see csrf_pair).
CSRF_COOKIE = "iiif_csrf"


def cookie_flags(base: str) -> dict[str, object]:
    """Secure and SameSite for a server whose public URL is `base` (a proxy's https counts)."""
    secure = base.startswith("https://")
    return {"secure": secure, "samesite": "none" if secure else "lax", "httponly": True, "path": "/"}


def set_access_cookie(response: Response, token: str, max_age: int, base: str) -> None:
    response.set_cookie(COOKIE, token, max_age=max_age, **cookie_flags(base))  # type: ignore[arg-type]


def clear_access_cookie(response: Response, base: str) -> None:
    response.delete_cookie(COOKIE, **cookie_flags(base))  # type: ignore[arg-type]


def _csrf_mac(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, b"csrf." + nonce.encode("ascii", "replace"), hashlib.sha256).hexdigest()


def csrf_pair(secret: bytes) -> tuple[str, str]:
    """(cookie nonce, form token): a POST must bring both, and only this server can make the second."""
    nonce = secrets.token_urlsafe(18)
    return nonce, _csrf_mac(secret, nonce)


def csrf_ok(secret: bytes, nonce: str | None, form_token: str | None) -> bool:
    """Whether a POST's form token is the one made for its cookie's nonce (constant time)."""
    if not nonce or not form_token:
        return False
    return hmac.compare_digest(_csrf_mac(secret, nonce), form_token)


def set_csrf_cookie(response: Response, nonce: str, base: str) -> None:
    # Lax: the form posts to this same site; a form posted from another site comes without it.
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        secure=base.startswith("https://"),
        samesite="lax",
        path="/auth",
    )


def origin_of(raw: str | None) -> str | None:
    """`scheme://host[:port]` of an http(s) origin or URL as a viewer sends it, None when it is not one.

    >>> origin_of("https://Viewer.example.org/"), origin_of("http://127.0.0.1:8000"), origin_of("javascript:x")
    ('https://viewer.example.org', 'http://127.0.0.1:8000', None)
    """
    if not raw or len(raw) > 300:
        return None
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    if any(c in host for c in "\"'<> \\"):
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def origin_allowed(origin: str, base: str, allowed: list[str]) -> bool:
    """Whether a viewer at `origin` may receive tokens: this server's own origin, or one of the setting's."""
    if origin == origin_of(base) or "*" in allowed:
        return True
    return origin in {origin_of(item) for item in allowed}
