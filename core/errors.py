"""One error type for domain code, and the one envelope every error under /api/ is sent in.

    {"error": "not_found", "message": "…", "details": [{"loc": [...], "msg": "…"}],
     "request_id": "…"}

Domain code raises `ApplicationError` (or `NotFound`, `Forbidden`, `Conflict`,
`Unprocessable`, `Unauthorized`); `config.api` and `core.middleware` turn it, Ninja's
validation errors, `Http404` and unexpected exceptions into this envelope.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
    504: "timeout",
}
DEFAULT_MESSAGES = {
    400: "The request could not be parsed.",
    401: "Authentication credentials are missing, invalid, expired or revoked.",
    403: "Your role does not allow this action.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "The request conflicts with the current state.",
    413: "The request body is too large.",
    414: "The request URI is too long.",
    422: "The request is not valid.",
    429: "Too many requests.",
    500: "Internal server error.",
    503: "The service is unavailable.",
    504: "The request took too long.",
}

Detail = dict[str, Any]


class ApplicationError(Exception):
    status = 400
    headers: dict[str, str] = {}  # noqa: RUF012 - read-only default; subclasses set their own

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: list[Detail] | None = None,
        status: int | None = None,
    ) -> None:
        if status is not None:
            self.status = status
        self.code = code or ERROR_CODES.get(self.status, "error")
        self.message = message or DEFAULT_MESSAGES.get(self.status, "Error.")
        self.details = details or []
        super().__init__(self.message)


class Unauthorized(ApplicationError):
    status = 401


class Forbidden(ApplicationError):
    status = 403


class NotFound(ApplicationError):
    status = 404


class Conflict(ApplicationError):
    status = 409


class Unprocessable(ApplicationError):
    status = 422


class ServiceUnavailable(ApplicationError):
    status = 503
    headers = {"Retry-After": "2"}  # noqa: RUF012


DATABASE_UNAVAILABLE = "The database is unavailable; retry shortly."
# SQLSTATE classes and codes that mean "the server is not there", not "your query failed":
# 08 connection exception, 53300 too many connections, 57P01 admin shutdown, 57P02 crash
# shutdown, 57P03 cannot connect now.
_UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")


def is_database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached: no pooled connection came in time (PoolTimeout), a
    connection attempt failed, or the server went away under a connection. Not a query error
    (constraint, timeout, lock): those stay 409/422/504/500."""
    import psycopg
    from django.db import InterfaceError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, InterfaceError):  # Django: "connection already closed"
            return True
        if isinstance(current, psycopg.InterfaceError):
            return True
        if isinstance(current, psycopg.OperationalError):
            # No SQLSTATE: raised by the client (connection refused, lost, pool timeout).
            sqlstate = current.sqlstate or ""
            return not sqlstate or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
        current = current.__cause__ or current.__context__
    return False


CONCURRENT_CONFLICT = "Another request changed the same data at the same moment; retry."
# 40001 serialization failure, 40P01 deadlock detected, 23505 unique violation: what a race
# that the services did not serialize ends in. The loser gets a 409, never a 500.
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "23505"})


def is_concurrent_conflict(exc: BaseException) -> bool:
    """Last resort for a race: services lock or use ON CONFLICT so this is rare."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) in _CONFLICT_SQLSTATES:
            return True
        current = current.__cause__ or current.__context__
    return False


def concurrent_conflict_response(request: HttpRequest) -> JsonResponse:
    return application_error_response(request, Conflict(CONCURRENT_CONFLICT))


def database_unavailable_response(request: HttpRequest) -> JsonResponse:
    return application_error_response(request, ServiceUnavailable(DATABASE_UNAVAILABLE))


def detail(loc: list[str | int], msg: str) -> Detail:
    return {"loc": loc, "msg": msg}


def error_response(
    request: HttpRequest,
    status: int,
    *,
    code: str | None = None,
    message: str | None = None,
    details: list[Detail] | None = None,
) -> JsonResponse:
    body = {
        "error": code or ERROR_CODES.get(status, "error"),
        "message": message or DEFAULT_MESSAGES.get(status, "Error."),
        "details": details or [],
        "request_id": getattr(request, "request_id", ""),
    }
    return JsonResponse(body, status=status)


def application_error_response(request: HttpRequest, exc: ApplicationError) -> JsonResponse:
    response = error_response(
        request, exc.status, code=exc.code, message=exc.message, details=exc.details
    )
    for name, value in exc.headers.items():
        response[name] = value
    return response
