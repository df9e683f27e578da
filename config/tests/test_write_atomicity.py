"""A failed write leaves no trace, and timeouts are 504s that leave the connection usable.

Each failure happens inside a real service's transaction after its first rows are written (a
department, its audit event, the on-commit version bump), through the HTTP test client and the
full middleware stack. `transaction=True`: commits and on-commit callbacks run as in production,
so "the org version did not move" is checked in Redis, not inferred.
"""

import time

import pytest

from config.tests.urls_crash import CRASH_SECRET, FAILED_WRITE_NAME
from orgs.cache import org_version_get_or_init
from orgs.models import AuditEvent, Department

pytestmark = [pytest.mark.urls("config.tests.urls_crash"), pytest.mark.django_db(transaction=True)]


def _envelope(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == error
    assert body["request_id"] == response["X-Request-ID"]
    assert CRASH_SECRET not in response.content.decode()
    return body


def _trace(org_id: int) -> tuple[int, int, int | None]:
    return (
        Department.objects.filter(org_id=org_id).count(),
        AuditEvent.objects.filter(org_id=org_id).count(),
        org_version_get_or_init(org_id),
    )


@pytest.mark.parametrize(
    ("mode", "status", "error"),
    [
        ("constraint", 409, "conflict"),  # an IntegrityError no service handled: a race, 409
        ("timeout", 504, "timeout"),  # statement_timeout cancels the statement
        ("crash", 500, "internal_error"),  # an exception after the rows were written
    ],
)
def test_a_write_that_fails_midway_leaves_no_rows_no_audit_and_no_version_bump(
    api, admin, mode, status, error
):
    before = _trace(admin.org_id)
    assert before[2] is not None

    failed = api.post(None, f"/api/test-write/{mode}?member_id={admin.pk}")

    _envelope(failed, status, error)
    assert _trace(admin.org_id) == before
    assert not Department.objects.filter(name=FAILED_WRITE_NAME).exists()
    assert not AuditEvent.objects.filter(action="department.create").exists()

    # The control: the same write committed leaves all three traces, so the checks above can fail.
    assert api.post(None, f"/api/test-write/commit?member_id={admin.pk}").status_code == 200
    departments, events, version = _trace(admin.org_id)
    assert (departments, events) == (before[0] + 1, before[1] + 1)
    assert version > before[2]


def test_a_statement_timeout_is_a_fast_504_and_the_next_request_runs_sql(api, db):
    started = time.monotonic()
    response = api.get(None, "/api/test-slow-sql")
    elapsed = time.monotonic() - started

    body = _envelope(response, 504, "timeout")
    assert body["details"] == []
    assert elapsed < 0.9  # cancelled after 50 ms, not after pg_sleep(1)
    after = api.get(None, "/api/test-sql")
    assert after.status_code == 200
    assert after.json()["pid"] > 0


def test_a_request_past_request_timeout_is_a_504_at_its_next_query(api, db, settings):
    settings.REQUEST_TIMEOUT = 0.05

    response = api.get(None, "/api/test-sleep?seconds=0.1")

    body = _envelope(response, 504, "timeout")
    assert "0.05 s" in body["message"]
    assert api.get(None, "/api/test-sleep?seconds=0").status_code == 200


def test_a_ninja_endpoint_past_request_timeout_is_a_504_envelope(api, admin, settings):
    settings.REQUEST_TIMEOUT = 1e-6  # already late at the first query (tenant resolution, cold)

    body = _envelope(api.get(admin, "/members"), 504, "timeout")

    assert "took longer" in body["message"]
    settings.REQUEST_TIMEOUT = 30
    assert api.get(admin, "/members").status_code == 200
