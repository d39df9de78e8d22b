"""The one place errors become HTTP responses: `install_error_handlers(app)`.

Every JSON error has the body of `errors.error_body`; image API errors are plain text.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response

from indexer.errors import QueryTooCostly, StoreError
from search_service.errors import AccessDenied, Overloaded, ServiceError, ShardUnavailable, error_body

log = logging.getLogger("search_service")


def _is_image_path(request: Request) -> bool:
    return request.url.path.startswith("/iiif/image/")


def error_response(
    request: Request,
    message: str,
    status: int,
    parameter: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store", **(extra_headers or {})}
    if _is_image_path(request):
        return PlainTextResponse(message + "\n", status_code=status, headers=headers)
    return JSONResponse(error_body(message, status, parameter), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping from exceptions to responses on `app`."""

    async def service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Overloaded | ShardUnavailable) else None
        if isinstance(exc, AccessDenied):
            # RFC 9110 §11.6.1: a 401 names a scheme; a viewer's token goes as a bearer token.
            headers = {"WWW-Authenticate": 'Bearer realm="iiif-search"'}
            if exc.document is not None:
                return JSONResponse(
                    exc.document,
                    status_code=401,
                    headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store", **headers},
                )
        return error_response(request, exc.message, exc.status, exc.parameter, headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # FastAPI's default is 422; IIIF clients expect 400 for a bad parameter.
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
        parameter = loc[-1] if loc else None
        message = (
            f"{parameter}: {first.get('msg', 'invalid value')}"
            if parameter
            else str(first.get("msg", "invalid request"))
        )
        return error_response(request, message, 400, parameter)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = "not found" if exc.status_code == 404 else str(exc.detail)
        # A 405 carries Allow (RFC 9110 §15.5.6): the routing puts it in the exception's headers.
        return error_response(request, message, exc.status_code, extra_headers=dict(exc.headers or {}))

    async def too_costly(request: Request, exc: Exception) -> Response:
        # The query asks for more work than the server allows: the client can narrow it.
        return error_response(request, str(exc), 400, "q")

    async def store_error(request: Request, exc: Exception) -> Response:
        log.error("index unavailable: %s", exc)
        return error_response(request, "the index is unavailable right now; try again shortly", 503)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, "internal error", 500)

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(QueryTooCostly, too_costly)
    app.add_exception_handler(Exception, unexpected)
