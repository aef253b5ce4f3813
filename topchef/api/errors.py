"""One table from exception classes to error responses."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from topchef.api.envelope import failure
from topchef.api.requests import PayloadTooLarge
from topchef.broker.errors import (
    BrokerError,
    Conflict,
    InvalidInput,
    NotFound,
    Problem,
    Unavailable,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[BrokerError], int], ...] = (
    (PayloadTooLarge, 413),
    (Unavailable, 503),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 400),
)

RETRY_AFTER_SECONDS = "1"

HTTP_TITLES = {
    404: "Not Found",
    405: "Method Not Allowed",
}


async def broker_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BrokerError)  # Starlette calls this handler for BrokerError only
    status_code = next(
        (status for error_class, status in STATUS_BY_ERROR if isinstance(exc, error_class)), 400
    )

    if status_code == 503:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
        return failure(status_code, exc.problems, headers={"Retry-After": RETRY_AFTER_SECONDS})
    log.info(
        "%s %s rejected with %d: %s", request.method, request.url.path, status_code, exc
    )
    return failure(status_code, exc.problems)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # Starlette calls this handler for HTTPException only
    title = HTTP_TITLES.get(exc.status_code, "HTTP Error")
    if exc.status_code == 404:
        detail = f"no resource at {request.url.path}"
    elif exc.status_code == 405:
        allowed = exc.headers.get("Allow", "") if exc.headers else ""
        detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
    else:
        detail = str(exc.detail)
    return failure(exc.status_code, [Problem(title, detail)], headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.error(
        "%s %s failed with an unexpected error", request.method, request.url.path, exc_info=exc
    )
    problem = Problem("Internal Server Error", "the server failed to handle this request; "
                      "the server log has the details")
    return failure(500, [problem])


EXCEPTION_HANDLERS = {
    BrokerError: broker_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
