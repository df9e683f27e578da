"""Concurrent writes leave the rollups exact: ten identical writes released at once, through the
API on ten threads (ten database connections, committed transactions), then
`rollups --verify` and the dashboard. The triggers add deltas with INSERT … ON CONFLICT DO UPDATE
(increments commute) and read a goal's owner FOR SHARE, so a department change racing with
writes to that member's goals serializes with them instead of counting a goal in the wrong row."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from conftest import ApiClient
from goals.tests.factories import PERFORMANCE, GoalFactory
from orgs.cache import org_versions_bump
from orgs.tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 10


def race(calls: list[Callable[[ApiClient], Any]]) -> list[Any]:
    """Each call on its own thread with its own client, released together; results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[ApiClient], Any]) -> None:
        client = ApiClient()
        try:
            barrier.wait(timeout=30)
            results[index] = call(client)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            results[index] = exc
        finally:
            connection.close()  # this thread's connection

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def verified() -> str:
    out = io.StringIO()
    call_command("rollups", "--verify", stdout=out)  # CommandError (exit 1) on a difference
    return out.getvalue()


def dashboard(admin) -> dict:
    org_versions_bump({admin.org_id})
    return ApiClient().get(admin, "/dashboards/admin").json()


def test_ten_identical_goal_creations_count_ten_goals(admin, employee, period):
    body = {"period_id": period.pk, "category": "performance", "title": "Same", "weight": 5,
            "target_data": PERFORMANCE, "owner_id": employee.pk}  # fmt: skip

    statuses = race([lambda c: c.post(admin, "/goals", body).status_code] * THREADS)

    assert statuses == [201] * THREADS
    assert "match" in verified()
    board = dashboard(admin)
    assert board["goals"]["total"] == THREADS
    assert board["goals"]["weight_sum"] == 5 * THREADS


def test_ten_identical_evaluations_of_one_goal_count_once(admin, employee, period):
    goal = GoalFactory(owner=employee, period=period, status="approved")
    assessment = {"rating": 4, "status": "submitted"}
    feedback = {"rating": 2, "status": "published"}

    results = race(
        [lambda c: c.put(employee, f"/goals/{goal.pk}/self-assessment", assessment).status_code]
        * (THREADS // 2)
        + [lambda c: c.put(admin, f"/goals/{goal.pk}/feedback", feedback).status_code]
        * (THREADS // 2)
    )

    assert all(isinstance(status, int) and status < 500 for status in results), results
    assert "match" in verified()
    board = dashboard(admin)
    assert board["rating_distribution"] == {
        "self_assessment": [{"rating": 4, "count": 1}],
        "feedback": [{"rating": 2, "count": 1}],
    }


def test_department_moves_racing_goal_writes_of_the_same_member(admin, employee, period):
    research = DepartmentFactory(org=admin.org, name="Research")
    departments = [research.pk, employee.department_id]
    approved = GoalFactory(owner=employee, period=period, status="approved", weight=5)
    body = {"period_id": period.pk, "category": "performance", "title": "Race", "weight": 5,
            "target_data": PERFORMANCE, "owner_id": employee.pk}  # fmt: skip

    def move(index: int) -> Callable[[ApiClient], int]:
        target = {"department_id": departments[index % 2]}
        return lambda c: c.patch(admin, f"/members/{employee.pk}", target).status_code

    calls = [move(i) for i in range(4)]
    calls += [lambda c: c.post(admin, "/goals", body).status_code] * 4
    calls += [
        lambda c: c.put(employee, f"/goals/{approved.pk}/self-assessment",
                        {"rating": 5, "status": "submitted"}).status_code,
    ] * 2  # fmt: skip
    results = race(calls)

    assert all(isinstance(status, int) and status < 500 for status in results), results
    assert "match" in verified()
    board = dashboard(admin)
    assert board["goals"]["total"] == 5
    employee.refresh_from_db()
    home = next(d for d in board["departments"] if d["department_id"] == employee.department_id)
    assert home["goals"] == 5
    assert home["self_assessments_submitted"] == 1
