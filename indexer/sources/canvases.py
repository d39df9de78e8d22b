"""What the v2 and v3 readers share per canvas: its size, and saying why canvases were skipped."""

from __future__ import annotations

import logging

from indexer.errors import SourceError
from indexer.sources.json_values import JsonDict, positive_int


def canvas_size(canvas: JsonDict, body: JsonDict | None) -> tuple[int, int] | None:
    """Canvas width and height; a canvas without them takes its image's, else None.

    P3 §5.3 and P2.1 §5.3 require them; the fallback keeps sloppy manifests usable,
    since the image is then painted on the whole canvas anyway.
    """
    width, height = positive_int(canvas.get("width")), positive_int(canvas.get("height"))
    if width is not None and height is not None:
        return width, height
    if body is not None:
        width, height = positive_int(body.get("width")), positive_int(body.get("height"))
        if width is not None and height is not None:
            return width, height
    return None


_LOGGED_SKIPS = 5


def log_skipped(log: logging.Logger, location: str, skipped: list[str]) -> None:
    """One warning per skipped canvas, the first few only, so a broken manifest does not flood the log."""
    for reason in skipped[:_LOGGED_SKIPS]:
        log.warning("%s: %s; skipped", location, reason)
    if len(skipped) > _LOGGED_SKIPS:
        log.warning("%s: %d more canvases skipped for the same kinds of reason", location, len(skipped) - _LOGGED_SKIPS)


def skipped_error(location: str, skipped: list[str]) -> SourceError:
    """The error for a manifest none of whose canvases could be used; names the first reason."""
    more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
    return SourceError(f"manifest {location} has no usable canvases: {skipped[0]}{more}")
