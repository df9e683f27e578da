"""`/health` and `/health/live` (DESIGN.md §4).

Hand-written rather than django-health-check: the contract fixes a small JSON shape with
per-check latency and a `degraded` state (cache down, database up) that the library does not
produce, and the whole check is a dozen lines.

Apps above the kernel add checks of their own with `check_register` (in `AppConfig.ready`),
e.g. the job queue (jobs.health): a check returns extra fields for its entry (the queue's
depth and oldest job age) and says `down` by raising or by returning `{"status": "down"}`.
Any added check down makes the service `degraded`, not `unhealthy`: it still answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from django_redis import get_redis_connection

# name → (check, needs_database). A check returns None or extra fields of its entry, and
# raises when its dependency is down.
_added_checks: dict[str, tuple[Callable[[], dict[str, Any] | None], bool]] = {}


def check_register(
    name: str, check: Callable[[], dict[str, Any] | None], *, needs_database: bool = True
) -> None:
    """Adds `name` to the checks. One that needs the database is reported down without being
    run when the database is: /health stays fast during an outage."""
    _added_checks[name] = (check, needs_database)


def _database_down() -> None:
    raise ConnectionError("the database is down")


def _timed(check) -> dict:
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    try:
        extra = check() or {}
        status = extra.pop("status", "ok")
    except Exception:  # noqa: BLE001 - any failure means the dependency is down
        status = "down"
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return {"status": status, "latency_ms": latency_ms, **extra}


def _database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache_check() -> None:
    # A real round trip that raises when Redis is down (cache.get would swallow the error).
    get_redis_connection("default").ping()


@require_GET
def health(request):
    checks = {"database": _timed(_database_check), "cache": _timed(_cache_check)}
    database_up = checks["database"]["status"] == "ok"
    checks.update(
        (name, _timed(check if database_up or not needs_database else _database_down))
        for name, (check, needs_database) in _added_checks.items()
    )
    if checks["database"]["status"] != "ok":
        status, code = "unhealthy", 503
    elif any(check["status"] != "ok" for check in checks.values()):
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
