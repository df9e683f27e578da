"""`CadenceAPI`: a NinjaAPI that answers every error in the envelope (DESIGN.md §4), documents
those errors on every operation of the OpenAPI document, and takes JSON bodies as
`core.middleware.HostileInputMiddleware` already parsed and checked them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import structlog
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import register_converter
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.renderers import BaseRenderer
from ninja.responses import NinjaJSONEncoder

from core.errors import (
    ApplicationError,
    application_error_response,
    concurrent_conflict_response,
    database_unavailable_response,
    error_response,
    is_concurrent_conflict,
    is_database_unavailable,
)
from core.errortracking import error_capture
from core.inputs import PathIdConverter
from core.limits import is_timeout, timeout_response

logger = structlog.get_logger("cadence.errors")
# Every `{…_id}` path parameter is written `{id:…_id}` (checked by config/tests).
register_converter(PathIdConverter, "id")

# Statuses any operation can answer; each operation documents them with the envelope schema.
COMMON_ERRORS = (400, 401, 404, 405, 413, 414, 422, 429, 500, 503, 504)
ORG_ERRORS = (403, 409)


class ErrorDetail(Schema):
    loc: list[str | int]
    msg: str


class ErrorEnvelope(Schema):
    error: str
    message: str
    details: list[ErrorDetail]
    request_id: str


# --- JSON out: orjson, in the format Django's encoder writes -------------------------------

_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_ninja_encoder = NinjaJSONEncoder()


def _json_default(value: Any) -> Any:
    """Datetimes as DjangoJSONEncoder writes them (milliseconds, `Z` for UTC), so a body reads
    the same whichever path rendered it; anything else orjson does not know (Decimal, lazy
    text, pydantic models) through Ninja's encoder."""
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        if value.microsecond:
            text = text[:23] + text[26:]
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return _ninja_encoder.default(value)


def json_bytes(data: Any) -> bytes:
    """`data` as JSON, ~10× faster than `json.dumps` with Django's encoder and byte-for-byte
    the same document for the types the API returns. orjson refuses integers beyond 64 bits,
    which JSON (and a goal's stored target data) may hold: those documents go through the
    standard encoder instead, never a 500."""
    try:
        return orjson.dumps(data, default=_json_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        text = json.dumps(data, cls=NinjaJSONEncoder, separators=(",", ":"), ensure_ascii=False)
        return text.encode()


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """`data` as the response, bypassing the operation's response schema: for handlers whose
    data is already exactly that schema (rows selected for it), where validating each row
    again through pydantic would cost more than building it (DESIGN.md §8). A test checks
    such bodies against the OpenAPI document."""
    return HttpResponse(json_bytes(data), status=status, content_type="application/json")


class OrjsonRenderer(BaseRenderer):
    """Ninja's renderer with `json_bytes` (the response schema still validates what a handler
    returns; only the encoding changes)."""

    media_type = "application/json"
    charset = "utf-8"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        return json_bytes(data)


class CadenceAPI(NinjaAPI):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(parser=PreparsedJsonParser(), renderer=OrjsonRenderer(), **kwargs)
        for exc_class, handler in EXCEPTION_HANDLERS:
            self.add_exception_handler(exc_class, handler)

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(components["ErrorEnvelope"].pop("$defs", {}))
        envelope = {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
            }
        }
        # A request line over gunicorn's limit (8190 bytes, its maximum) never reaches the app:
        # gunicorn answers 414 itself, in HTML. Shorter URLs over MAX_URL_BYTES get the envelope.
        uri_too_long = {
            "description": "URI too long: the envelope, or text/html from the HTTP server for a "
            "request line over 8190 bytes",
            "content": {**envelope["content"], "text/html": {"schema": {"type": "string"}}},
        }
        error = {"description": "Error", **envelope}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status in (*COMMON_ERRORS, *ORG_ERRORS):
                    responses.setdefault(str(status), uri_too_long if status == 414 else error)
        return schema


class PreparsedJsonParser(Parser):
    """The body as core.middleware.HostileInputMiddleware parsed and checked it (once)."""

    def parse_body(self, request: HttpRequest) -> Any:
        if hasattr(request, "json_body"):
            return request.json_body
        return json.loads(request.body)


def _clean_loc(loc: tuple | list) -> list[str | int]:
    """`[source, field, …]`: drops Ninja's wrapper segment (the handler's parameter name)."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "body" and parts[1] == "payload":
        del parts[1]
    if len(parts) >= 2 and parts[0] == "query" and parts[1] == "filters":
        del parts[1]
    return parts


def on_validation_error(request, exc: ValidationError):
    details = [{"loc": _clean_loc(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors]
    return error_response(request, 422, details=details)


def on_application_error(request, exc: ApplicationError):
    return application_error_response(request, exc)


def on_authentication_error(request, exc: AuthenticationError):
    return error_response(request, 401)


def on_http_error(request, exc: HttpError):
    message = exc.message if exc.status_code < 500 else None
    return error_response(request, exc.status_code, message=message)


def on_not_found(request, exc: Http404):
    return error_response(request, 404)


def on_database_error(request, exc: DatabaseError):
    """A statement cancelled by statement_timeout (psycopg QueryCanceled) is a 504; a database
    that cannot be reached (down, restarting, no pooled connection in time) is a 503."""
    if is_timeout(exc):
        return timeout_response(request)
    if is_database_unavailable(exc):
        logger.warning("database_unavailable", path=request.path, error=str(exc))
        return database_unavailable_response(request)
    if is_concurrent_conflict(exc):
        logger.warning("concurrent_conflict", path=request.path, error=str(exc))
        return concurrent_conflict_response(request)
    return on_unexpected_error(request, exc)


def on_unexpected_error(request, exc: Exception):
    logger.exception("unhandled_exception", path=request.path)
    error_capture(exc)
    return error_response(request, 500)


# Ninja picks the handler of the nearest class in the exception's MRO.
EXCEPTION_HANDLERS = (
    (ValidationError, on_validation_error),
    (ApplicationError, on_application_error),
    (AuthenticationError, on_authentication_error),
    (HttpError, on_http_error),
    (Http404, on_not_found),
    (DatabaseError, on_database_error),
    (Exception, on_unexpected_error),
)
