"""Reading IIIF JSON values that Presentation 2.1 and 3.0 spell differently: ids, types, lists, sizes.

P2.1 writes `@id`/`@type` and allows one object where P3 wants an array; these accept both,
so the v2 and v3 readers can stay short. Nothing here fetches anything.
"""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]


def as_list(value: Any) -> list[Any]:
    """A JSON value as a list: P2.1 allows one object where P3 wants an array."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def resource_id(value: Any) -> str | None:
    """`id` (P3) or `@id` (P2.1) of an object, or the string itself for a bare reference."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        found = value.get("id", value.get("@id"))
        return found if isinstance(found, str) and found else None
    return None


def resource_type(value: Any) -> str | None:
    """`type` (P3) or `@type` (P2.1); the first string when it is a list."""
    if not isinstance(value, dict):
        return None
    for candidate in as_list(value.get("type", value.get("@type"))):
        if isinstance(candidate, str):
            return candidate
    return None


def positive_int(value: Any) -> int | None:
    """A width or height as a positive int, or None (missing, zero, negative, not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    return None
