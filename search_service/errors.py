"""The service's errors: data only, so the search logic raises them without the web stack.

    ServiceError(status)
     ├── BadRequest            400
     │    ├── BadQuery         a search or autocomplete parameter that cannot be used
     │    ├── ImageRequestError(parameter)  an Image API URL that breaks the syntax
     │    └── BadViewerInput   a viewer page's manifest URL or query (shown on the page, not as JSON)
     │    (indexer's QueryTooCostly, a search past its time limit, is answered 400 too)
     ├── NotFound              404
     │    ├── UnknownBook
     │    ├── UnknownImage
     │    └── SizeAboveLimits  Image API 3.0 §7.3 puts over-limit sizes under 404
     ├── NotImplementedFeature 501 (Image API features above level 1, e.g. `^`)
     └── Overloaded            503 (more searches waiting for a thread than the queue holds)

Route handlers only raise; `search_service.web.error_handlers` is the one place each becomes
a response: one JSON shape `{"error", "status", "parameter"}` (search, manifests) or plain
text (image API, as Image API 3.0 §7.3 suggests).
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 500

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter


class BadRequest(ServiceError):
    status = 400


class BadQuery(BadRequest):
    pass


class ImageRequestError(BadRequest):
    pass


class BadViewerInput(BadRequest):
    """A manifest URL or query a viewer page refuses; the page shows the reason with its form."""


class NotFound(ServiceError):
    status = 404


class UnknownBook(NotFound):
    pass


class UnknownImage(NotFound):
    pass


class SizeAboveLimits(NotFound):
    pass


class NotImplementedFeature(ServiceError):
    status = 501


class Overloaded(ServiceError):
    """Too many searches wait for a thread: answered at once, with Retry-After, instead of queued."""

    status = 503


def error_body(message: str, status: int, parameter: str | None = None) -> dict[str, object]:
    """The JSON error body of every JSON error response."""
    body: dict[str, object] = {"error": message, "status": status}
    if parameter:
        body["parameter"] = parameter
    return body
