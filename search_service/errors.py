"""The service's errors: data only, so the search logic raises them without the web stack.

    ServiceError(status)
     ├── BadRequest            400
     │    ├── BadQuery         a search or autocomplete parameter that cannot be used
     │    ├── ImageRequestError(parameter)  an Image API URL that breaks the syntax
     │    └── BadViewerInput   a viewer page's manifest URL or query (shown on the page, not as JSON)
     │    (indexer's QueryTooCostly, a search past its time limit, is answered 400 too)
     ├── AccessDenied          401 (a restricted book, to a reader without access: #22)
     ├── NotFound              404
     │    ├── UnknownBook
     │    ├── UnknownImage
     │    └── SizeAboveLimits  Image API 3.0 §7.3 puts over-limit sizes under 404
     ├── NotImplementedFeature 501 (Image API features above level 1, e.g. `^`)
     ├── Overloaded            503 (more searches waiting for a thread than the queue holds)
     └── ShardUnavailable      503 (the shard holding the book did not answer; a front of shards, #20)

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


class AccessDenied(ServiceError):
    """A restricted book's resource, asked by a reader who does not hold its access level (#22).

    `document` is a body to send instead of the error's: an Image API info.json with its
    auth services, which Auth 1.0 and 2.0 viewers read from the 401 to offer the login.
    """

    status = 401

    def __init__(self, message: str, document: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.document = document


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
    retry_after = 1


class ShardUnavailable(ServiceError):
    """The shard that holds a book is down or slow past its time limit: try again later (#20)."""

    status = 503

    def __init__(self, message: str, parameter: str | None = None, retry_after: int = 5) -> None:
        super().__init__(message, parameter)
        self.retry_after = retry_after


def error_body(message: str, status: int, parameter: str | None = None) -> dict[str, object]:
    """The JSON error body of every JSON error response."""
    body: dict[str, object] = {"error": message, "status": status}
    if parameter:
        body["parameter"] = parameter
    return body
