"""The IIIF Auth service descriptions (#22) a restricted book's images, info.json and search carry.

Both flows, so every viewer finds one it speaks: Auth 1.0 (Mirador 3 and 4, UV 4.4) and
the Authorization Flow 2.0 (probe, access, token, logout). One URL layout, answered by
routes/auth.py:

    /auth/login                 access service: log in (Auth 1.0 login, Auth 2.0 active)
    /auth/clickthrough          access service: agree to the terms (Auth 1.0 clickthrough, 2.0 active)
    /auth/1/token               Auth 1.0 access token service
    /auth/2/token               Auth 2.0 access token service
    /auth/2/probe/{book_id}     Auth 2.0 probe service of a book's resources
    /auth/logout                logout, both flows
"""

from __future__ import annotations

from typing import Any

AUTH1_CONTEXT = "http://iiif.io/api/auth/1/context.json"
AUTH2_CONTEXT = "http://iiif.io/api/auth/2/context.json"

#: The access service a level's reader goes through.
ACCESS_PATHS = {"restricted": "/auth/login", "clickthrough": "/auth/clickthrough"}


def auth1_service(base: str, access: str) -> dict[str, Any]:
    """The Auth 1.0 login or clickthrough service, with its token and logout services."""
    login = access == "restricted"
    return {
        "@context": AUTH1_CONTEXT,
        "@id": base + ACCESS_PATHS[access],
        "profile": "http://iiif.io/api/auth/1/" + ("login" if login else "clickthrough"),
        "label": "Log in to see this book" if login else "Agree to the terms to see this book",
        "header": "Restricted book" if login else "Terms of use",
        "description": "This book is shown to logged-in readers only."
        if login
        else "This book is shown to readers who accept its terms of use.",
        "confirmLabel": "Log in" if login else "I agree",
        "failureHeader": "Not logged in" if login else "Terms not accepted",
        "failureDescription": "The login did not succeed, or it has expired."
        if login
        else "The terms were not accepted, or the acceptance has expired.",
        "service": [
            {"@id": base + "/auth/1/token", "profile": "http://iiif.io/api/auth/1/token"},
            {"@id": base + "/auth/logout", "profile": "http://iiif.io/api/auth/1/logout", "label": "Log out"},
        ],
    }


def auth2_probe_service(base: str, book_id: str, access: str) -> dict[str, Any]:
    """The Auth 2.0 probe service of a book's resources, with its access, token and logout services."""
    login = access == "restricted"
    return {
        "id": f"{base}/auth/2/probe/{book_id}",
        "type": "AuthProbeService2",
        # Not an Auth 2.0 property: Mirador 4.0 calls getProfile().match() on every service of an
        # image resource and stops (no info.json request, no image) on one without a profile.
        # Any value outside iiif.io/api/auth/ keeps it out of Mirador's Auth 1.0 handling.
        "profile": "AuthProbeService2",
        "service": [
            {
                "id": base + ACCESS_PATHS[access],
                "type": "AuthAccessService2",
                "profile": "active",
                "label": {"en": ["Log in to see this book" if login else "Agree to the terms to see this book"]},
                "heading": {"en": ["Restricted book" if login else "Terms of use"]},
                "note": {
                    "en": [
                        "This book is shown to logged-in readers only."
                        if login
                        else "This book is shown to readers who accept its terms of use."
                    ]
                },
                "confirmLabel": {"en": ["Log in" if login else "I agree"]},
                "service": [
                    {"id": base + "/auth/2/token", "type": "AuthAccessTokenService2"},
                    {"id": base + "/auth/logout", "type": "AuthLogoutService2", "label": {"en": ["Log out"]}},
                ],
            }
        ],
    }


def auth_services(base: str, book_id: str, access: str) -> list[dict[str, Any]]:
    """What a resource of this book lists in its `service`: nothing for a public book, else both flows."""
    if access not in ACCESS_PATHS:
        return []
    return [auth1_service(base, access), auth2_probe_service(base, book_id, access)]
