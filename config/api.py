"""The NinjaAPI instance: routers, the error envelope, and error responses in the OpenAPI doc."""

from __future__ import annotations

import json
from typing import Any

import structlog
from django.db import DatabaseError
from django.http import Http404, HttpRequest
from django.urls import register_converter
from ninja import NinjaAPI, Schema, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from config import __version__
from config.errors import (
    ApplicationError,
    application_error_response,
    concurrent_conflict_response,
    database_unavailable_response,
    error_response,
    is_concurrent_conflict,
    is_database_unavailable,
)
from config.inputs import PathIdConverter
from config.limits import is_timeout, timeout_response
from dashboards.api import router as dashboards_router
from evaluations.api import router as evaluations_router
from goals.api import router as goals_router
from orgs.api import account_router
from orgs.api import router as orgs_router
from perf.api import ops_router
from perf.api import router as perf_router
from users.api import router as auth_router

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


class CadenceAPI(NinjaAPI):
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
    """The body as config.middleware.HostileInputMiddleware parsed and checked it (once)."""

    def parse_body(self, request: HttpRequest) -> Any:
        if hasattr(request, "json_body"):
            return request.json_body
        return json.loads(request.body)


api = CadenceAPI(
    parser=PreparsedJsonParser(),
    title="Cadence API",
    version=__version__,
    description="Multi-tenant performance management. Errors use one envelope (ErrorEnvelope).",
    docs=Swagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api",
)


def _clean_loc(loc: tuple | list) -> list[str | int]:
    """`[source, field, …]`: drops Ninja's wrapper segment (the handler's parameter name)."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "body" and parts[1] == "payload":
        del parts[1]
    if len(parts) >= 2 and parts[0] == "query" and parts[1] == "filters":
        del parts[1]
    return parts


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    details = [{"loc": _clean_loc(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors]
    return error_response(request, 422, details=details)


@api.exception_handler(ApplicationError)
def on_application_error(request, exc: ApplicationError):
    return application_error_response(request, exc)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request, exc: AuthenticationError):
    return error_response(request, 401)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    message = exc.message if exc.status_code < 500 else None
    return error_response(request, exc.status_code, message=message)


@api.exception_handler(Http404)
def on_not_found(request, exc: Http404):
    return error_response(request, 404)


@api.exception_handler(DatabaseError)
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


@api.exception_handler(Exception)
def on_unexpected_error(request, exc: Exception):
    logger.exception("unhandled_exception", path=request.path)
    return error_response(request, 500)


api.add_router("/auth/", auth_router)
api.add_router("/auth/", account_router)
api.add_router("/org/{org_slug}/", orgs_router)
api.add_router("/org/{org_slug}/", goals_router)
api.add_router("/org/{org_slug}/", evaluations_router)
api.add_router("/org/{org_slug}/", dashboards_router)
api.add_router("/perf/", perf_router)
api.add_router("/ops/", ops_router)
