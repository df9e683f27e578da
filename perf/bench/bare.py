"""`bare`: the floor's `SELECT 1` in a plain Django view behind NO middleware, served by the
same server processes as the project's application (`config.bench`, which `bench --http`
serves).

`bare` is the reference of DESIGN.md §6 over HTTP (the floor serves ≥ 0.75× what it serves).
It and `floor` share everything but the stack: the same server and worker processes, Django's
request handler (request signals, URL resolution, the pooled connection checked out and
returned), the same `SELECT 1` and the same 12-byte JSON body with a `Content-Length`; the
floor adds the middleware of `settings.MIDDLEWARE` and Ninja. The path test of `with_bare_*`,
one string comparison per request, is all the bench adds in front of the project's application.
"""

from __future__ import annotations

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path

BARE_PATH = "/bench/bare"
BARE_BODY = b'{"ok": true}'


def bare(request: HttpRequest) -> HttpResponse:
    """The floor's work without the stack: one `SELECT 1`, the same body."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    response = HttpResponse(BARE_BODY, content_type="application/json")
    response["Content-Length"] = str(len(BARE_BODY))  # CommonMiddleware sets it on the floor
    return response


urlpatterns = [path(BARE_PATH.lstrip("/"), bare)]


class _NoMiddleware:
    """`BaseHandler.load_middleware` with `MIDDLEWARE = []`, resolving against this module."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        self._middleware_chain = convert_exception_to_response(get_response)

    def get_response(self, request):
        request.urlconf = __name__
        return super().get_response(request)

    async def get_response_async(self, request):
        request.urlconf = __name__
        return await super().get_response_async(request)


class BareWSGIHandler(_NoMiddleware, WSGIHandler):
    pass


class BareASGIHandler(_NoMiddleware, ASGIHandler):
    pass


def with_bare_wsgi(project_application):
    """The project's WSGI application, except `BARE_PATH`, which `bare` answers."""
    bare_handler = BareWSGIHandler()

    def application(environ, start_response):
        if environ.get("PATH_INFO") == BARE_PATH:
            return bare_handler(environ, start_response)
        return project_application(environ, start_response)

    return application


def with_bare_asgi(project_application):
    """The project's ASGI application, except `BARE_PATH`, which `bare` answers."""
    bare_handler = BareASGIHandler()

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == BARE_PATH:
            return await bare_handler(scope, receive, send)
        return await project_application(scope, receive, send)

    return application
