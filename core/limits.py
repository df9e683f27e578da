"""Request body size limit (413), URL length limit (414) and the request timeout (504), all
in the envelope.

URL limit: `MAX_URL_BYTES` (default 4096) for the path plus the query string as sent.

Body limit: `MAX_BODY_BYTES` (default 1 MiB), or a route's own allowance from
`MAX_BODY_BYTES_BY_PATH` — `(path regex, content type, bytes)` entries, e.g. the member
import's 10 MiB of `text/csv` — for a body of that content type (any other body on that route
keeps the default, so no JSON parser ever sees more than `MAX_BODY_BYTES`). A declared
`Content-Length` above the limit is refused before a byte of the body is read. A body without
a length (chunked transfer encoding, which gunicorn de-chunks and marks with
`wsgi.input_terminated`) is read with a cap of the limit + 1 bytes: one byte too many and the
answer is 413; otherwise the body is handed on to Django as if it had been sent with a
`Content-Length`.

Request timeout: `REQUEST_TIMEOUT` (default 30 s). Sync gunicorn workers cannot interrupt
a running Python frame safely, so the timeout is enforced where a request spends its time,
in PostgreSQL, with two guards:

1. a wall-clock deadline: `RequestTimeoutMiddleware` sets `now + REQUEST_TIMEOUT` for the
   request and installs a `connection.execute_wrapper`; any SQL statement issued after the
   deadline raises `RequestTimedOut` instead of running (a request that is already late
   does no more database work);
2. a statement timeout: every connection runs with `statement_timeout`
   (`DB_STATEMENT_TIMEOUT_MS`, set in settings; under PgBouncer its `connect_query` sets
   it), so a single slow statement is cancelled by PostgreSQL itself. psycopg raises
   `QueryCanceled`, which Django wraps in `OperationalError`.

Both become a 504 envelope: in Ninja through the exception handlers of `config.api`, and
outside Ninja through `process_exception` below. A cancelled statement inside
`transaction.atomic` rolls back like any error, so the pooled connection stays usable.
CPU-bound Python that never touches the database is not interrupted: gunicorn's worker
`timeout` (40 s, above REQUEST_TIMEOUT) is the last resort for that.
"""

from __future__ import annotations

import io
import re
import time
from contextvars import ContextVar

import structlog
from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.db import connection
from django.http import HttpRequest, HttpResponse

from core.errors import ApplicationError, error_response

logger = structlog.get_logger("cadence.limits")

BODY_TOO_LARGE = "The request body is larger than {limit} bytes."
URL_TOO_LONG = "The request URL is longer than {limit} bytes."
TIMED_OUT = "The request took longer than {seconds:g} s."


class RequestTimedOut(ApplicationError):
    status = 504


# --- Body size --------------------------------------------------------------------------------


def body_limit(request: HttpRequest) -> int:
    """The largest body this request may send: a route's allowance for its content type, or
    MAX_BODY_BYTES."""
    for pattern, content_type, limit in settings.MAX_BODY_BYTES_BY_PATH:
        if request.content_type == content_type and re.fullmatch(pattern, request.path):
            return limit
    return settings.MAX_BODY_BYTES


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return error_response(request, 413, message=BODY_TOO_LARGE.format(limit=limit))


class BodySizeLimitMiddleware:
    """Refuses an over-long URL (414) and an over-large body (413) before any work."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        url_limit = settings.MAX_URL_BYTES
        url_bytes = len(request.path.encode()) + len(request.META.get("QUERY_STRING", ""))
        if url_bytes > url_limit:
            return error_response(request, 414, message=URL_TOO_LONG.format(limit=url_limit))
        limit = body_limit(request)
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared:
            try:
                length = int(declared)
            except ValueError:
                return error_response(request, 400, message="Invalid Content-Length header.")
            if length > limit:
                return _too_large(request, limit)
        elif request.META.get("wsgi.input_terminated") and "wsgi.input" in request.META:
            # No length (chunked): read with a cap instead of trusting the client.
            body = request.META["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return _too_large(request, limit)
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)


# --- Timeout ----------------------------------------------------------------------------------

_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


def deadline_guard(execute, sql, params, many, context):
    """`connection.execute_wrapper`: refuses to start SQL once the request's deadline passed."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise RequestTimedOut(TIMED_OUT.format(seconds=settings.REQUEST_TIMEOUT))
    return execute(sql, params, many, context)


def is_timeout(exc: BaseException) -> bool:
    """A request deadline, or PostgreSQL cancelling a statement (statement_timeout)."""
    import psycopg.errors

    if isinstance(exc, RequestTimedOut):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, psycopg.errors.QueryCanceled):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def timeout_response(request: HttpRequest) -> HttpResponse:
    logger.warning("request_timed_out", path=request.path)
    return error_response(request, 504, message=TIMED_OUT.format(seconds=settings.REQUEST_TIMEOUT))


class RequestTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeout = settings.REQUEST_TIMEOUT
        if not timeout:
            return self.get_response(request)
        token = _deadline.set(time.monotonic() + timeout)
        try:
            with connection.execute_wrapper(deadline_guard):
                return self.get_response(request)
        finally:
            _deadline.reset(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_timeout(exception):
            return timeout_response(request)
        return None
