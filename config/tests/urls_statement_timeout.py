"""Test-only URLconf: the real one plus a long statement run on the connection exactly as the
app configured it (no SET of its own), for the statement timeout behind PgBouncer
(core/tests/test_pgbouncer.py)."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as real_urlpatterns


def statement_timeout(request):
    """The statement_timeout the request's connection runs with."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return JsonResponse({"statement_timeout": cursor.fetchone()[0]})


def long_sql(request):
    """One statement of `seconds`, in autocommit: what the app's reads are."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [float(request.GET["seconds"])])
    return JsonResponse({"slept": True})


urlpatterns = [
    path("api/test-statement-timeout", statement_timeout),
    path("api/test-long-sql", long_sql),
    *real_urlpatterns,
]
