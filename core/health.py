"""`/health` and `/health/live` (DESIGN.md §4).

Hand-written rather than django-health-check: the contract fixes a small JSON shape with
per-check latency and a `degraded` state (cache down, database up) that the library does not
produce, and the whole check is a dozen lines.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from django_redis import get_redis_connection


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
        status = "ok"
    except Exception:  # noqa: BLE001 - any failure means the dependency is down
        status = "down"
    return {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache_check() -> None:
    # A real round trip that raises when Redis is down (cache.get would swallow the error).
    get_redis_connection("default").ping()


@require_GET
def health(request):
    checks = {"database": _timed(_database_check), "cache": _timed(_cache_check)}
    if checks["database"]["status"] != "ok":
        status, code = "unhealthy", 503
    elif checks["cache"]["status"] != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body = {
        "status": status,
        "app_name": settings.APP_NAME,
        "version": settings.APP_VERSION,
        "checks": checks,
    }
    response = JsonResponse(body, status=code)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def live(request):
    return JsonResponse({"status": "ok"})
