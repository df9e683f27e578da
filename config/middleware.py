"""Request id and the error envelope for responses made outside Ninja (routing, 405, crashes)."""

from __future__ import annotations

import re
import uuid

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config.errors import database_unavailable_response, error_response, is_database_unavailable

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
logger = structlog.get_logger("cadence.errors")


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


class RequestIdMiddleware:
    """Echoes a well-formed incoming X-Request-ID, otherwise makes one; sets it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Auth adds org and user_id to this context; the request log line carries them all.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
        response[REQUEST_ID_HEADER] = request_id
        return response


class ApiErrorEnvelopeMiddleware:
    """Under /api/, turns every error response not already in the envelope into it.

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
            return enveloped
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path) and settings.DEBUG:
            return None  # Django's debug page for non-API paths in development
        if is_api_path(request.path) and is_database_unavailable(exception):
            logger.warning("database_unavailable", path=request.path, error=str(exception))
            return database_unavailable_response(request)
        logger.exception("unhandled_exception", path=request.path)
        if is_api_path(request.path):
            return error_response(request, 500)
        return None
