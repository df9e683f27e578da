"""Test-only URLconf: the real one plus plain Django views under /api/ that crash, write and
then fail, run slow SQL or sleep past the request deadline."""

import time

from django.db import connection, transaction
from django.http import JsonResponse
from django.urls import path

from config.urls import urlpatterns as real_urlpatterns

CRASH_SECRET = "secret-internals-of-the-crash-0451"
FAILED_WRITE_NAME = "Written then rolled back"


def crash(request):
    raise RuntimeError(CRASH_SECRET)


def write_then_fail(request, mode: str):
    """A real service write (department row, audit event, on-commit version bump), then in the
    same transaction a failure: a unique violation, a cancelled statement or a crash. `commit`
    is the control: the same write, committed."""
    from orgs.models import Department, Membership
    from orgs.services import department_create

    member = Membership.objects.select_related("org").get(pk=request.GET["member_id"])
    with transaction.atomic():
        department_create(org=member.org, actor=member, name=FAILED_WRITE_NAME)
        if mode == "constraint":  # unique (org, name), raised by PostgreSQL mid-transaction
            Department.objects.create(org=member.org, name=FAILED_WRITE_NAME)
        elif mode == "timeout":
            statement_timeout_exceeded()
        elif mode == "crash":
            raise RuntimeError(CRASH_SECRET)
    return JsonResponse({"mode": mode})


def statement_timeout_exceeded() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '50ms'")
        cursor.execute("SELECT pg_sleep(1)")


def slow_sql(request):
    with transaction.atomic():
        statement_timeout_exceeded()
    return JsonResponse({})


def sql(request):
    """One query: the connection works. Answers the backend pid that served it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return JsonResponse({"pid": cursor.fetchone()[0]})


def sleep_then_sql(request):
    time.sleep(float(request.GET["seconds"]))
    return sql(request)


urlpatterns = [
    path("api/test-crash", crash),
    path("api/test-write/<str:mode>", write_then_fail),
    path("api/test-slow-sql", slow_sql),
    path("api/test-sql", sql),
    path("api/test-sleep", sleep_then_sql),
    *real_urlpatterns,
]
