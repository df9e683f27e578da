"""Request id and the error envelope for responses made outside Ninja (routing, 405, crashes)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from core import tracing
from core.errors import (
    Detail,
    concurrent_conflict_response,
    database_unavailable_response,
    error_response,
    is_concurrent_conflict,
    is_database_unavailable,
)
from core.errortracking import error_capture
from core.inputs import NUL_CHARACTER, json_body_problems

REQUEST_ID_HEADER = "X-Request-ID"
CHANGE_SEQ_HEADER = "X-Change-Seq"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
logger = structlog.get_logger("cadence.errors")


TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_NO_TRACE, _NO_SPAN = "0" * 32, "0" * 16


@dataclass(frozen=True, slots=True)
class Trace:
    trace_id: str
    span_id: str
    flags: str

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def request_trace(request: HttpRequest) -> Trace:
    """This request's trace: the recording span's when OpenTelemetry is on, otherwise the
    incoming trace continued (a new span id under it) or a new one."""
    if tracing.enabled:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return Trace(
                trace_id=f"{context.trace_id:032x}",
                span_id=f"{context.span_id:016x}",
                flags=f"{int(context.trace_flags):02x}",
            )
    match = _TRACEPARENT.fullmatch(request.META.get("HTTP_TRACEPARENT", "").strip())
    if match and match[1] != _NO_TRACE and match[2] != _NO_SPAN:
        return Trace(trace_id=match[1], span_id=os.urandom(8).hex(), flags=match[3])
    return Trace(trace_id=os.urandom(16).hex(), span_id=os.urandom(8).hex(), flags="00")


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


def request_id_of(request: HttpRequest) -> str:
    """A well-formed incoming X-Request-ID, otherwise a new one (32 random hex digits). The
    response and every log line carry it (perf.middleware.ObservabilityMiddleware)."""
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    return incoming if incoming and _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()


class ApiErrorEnvelopeMiddleware:
    """Under /api/, turns every error response not already in the envelope into it, and marks
    the answers of org-scoped reads with `X-Change-Seq` (set by tenant resolution).

    Ninja answers its own errors in the envelope (config.api); this catches the rest: an
    unknown path (Django's 404), a known path with the wrong method (Ninja's bare 405, whose
    Allow header is kept), and an exception that escaped everything (500, no traceback in the
    body whatever DEBUG says).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            enveloped = error_response(request, response.status_code)
            for header in ("Allow", "Retry-After"):
                if header in response:
                    enveloped[header] = response[header]
            response = enveloped
        if response.status_code == 405 and "Allow" in response:
            response["Allow"] = allow_with_head(response["Allow"])
        change_seq = getattr(request, "change_seq", None)
        if (
            change_seq is not None
            and request.method == "GET"
            and response.status_code in (200, 304)
        ):
            # DESIGN.md §10: a client subscribes from here and misses nothing.
            response[CHANGE_SEQ_HEADER] = str(change_seq)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path) and settings.DEBUG:
            return None  # Django's debug page for non-API paths in development
        if is_api_path(request.path) and is_database_unavailable(exception):
            logger.warning("database_unavailable", path=request.path, error=str(exception))
            return database_unavailable_response(request)
        if is_api_path(request.path) and is_concurrent_conflict(exception):
            logger.warning("concurrent_conflict", path=request.path, error=str(exception))
            return concurrent_conflict_response(request)
        logger.exception("unhandled_exception", path=request.path)
        error_capture(exception)
        if is_api_path(request.path):
            return error_response(request, 500)
        return None


def allow_with_head(allow: str) -> str:
    """HEAD is answered wherever GET is (HostileInputMiddleware), so `Allow` says so."""
    methods = [method.strip() for method in allow.split(",") if method.strip()]
    if "GET" in methods and "HEAD" not in methods:
        methods.insert(methods.index("GET") + 1, "HEAD")
    return ", ".join(methods)


# Bodies that are not JSON documents (imports, forms) are not parsed here.
_NOT_JSON_BODIES = ("text/csv", "multipart/form-data", "application/x-www-form-urlencoded")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class HostileInputMiddleware:
    """The one boundary for input PostgreSQL cannot store (DESIGN.md §4, "Hostile input").

    Under /api/, a NUL character in a path segment, a query parameter or any string of a JSON
    body (keys included), and a non-finite number in a JSON body (`NaN`, `Infinity`, `1e309`),
    are a 422 at their loc before any view or SQL runs. The JSON body is parsed here once and
    handed to Ninja through `request.json_body` (config.api.PreparsedJsonParser).

    HEAD on any path is served as GET, without the body (Content-Length stays the GET's).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        head = request.method == "HEAD"
        if head:
            request.method = "GET"
        problems = self._problems(request) if is_api_path(request.path) else []
        response = (
            error_response(request, 422, details=problems)
            if problems
            else self.get_response(request)
        )
        if head:
            _drop_body(response)
        return response

    @staticmethod
    def _problems(request: HttpRequest) -> list[Detail]:
        problems: list[Detail] = []
        if "\x00" in request.path_info:
            problems += _path_problems(request.path_info)
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            problems += [
                {"loc": ["query", key], "msg": NUL_CHARACTER}
                for key, values in request.GET.lists()
                if "\x00" in key or any("\x00" in value for value in values)
            ]
        if request.method in _BODY_METHODS and not request.content_type.startswith(
            _NOT_JSON_BODIES
        ):
            body = request.body
            if body:
                try:
                    data: Any = json.loads(body)
                except ValueError:
                    return problems  # malformed: Ninja answers 400
                request.json_body = data
                problems += json_body_problems(data, ["body"])
        return problems


def _path_problems(path: str) -> list[Detail]:
    try:
        match = resolve(path)
    except Resolver404:
        return [{"loc": ["path"], "msg": NUL_CHARACTER}]
    names = [name for name, value in match.kwargs.items() if "\x00" in str(value)]
    return [{"loc": ["path", name], "msg": NUL_CHARACTER} for name in names] or [
        {"loc": ["path"], "msg": NUL_CHARACTER}
    ]


def _drop_body(response: HttpResponse) -> None:
    if response.streaming:
        close = getattr(response, "close", None)
        response.streaming_content = []
        if close is not None:
            close()
        return
    length = len(response.content)
    response.content = b""
    response["Content-Length"] = str(length)


# --- The lean stack: what API requests skip --------------------------------------------------


class BrowserOnlyMixin:
    """A layer that API requests skip: they carry a bearer token, never a session cookie, so
    sessions, `request.user` and messages only serve the admin and the browsable pages (CSRF
    stays as it is: `check --deploy` looks for it by name, and Ninja's views are exempt).
    Measured on the floor: sessions + auth + messages cost ~90 µs of CPU per request; skipped,
    an /api/ request pays one function call per layer. They stay in MIDDLEWARE (as
    subclasses) so the admin's system checks and the layer order hold."""

    def __call__(self, request: HttpRequest):
        if is_api_path(request.path_info):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(BrowserOnlyMixin, sessions_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(BrowserOnlyMixin, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(BrowserOnlyMixin, messages_middleware.MessageMiddleware):
    pass
