"""The rollups behind the admin dashboards (dashboards.models): exact after every kind of write,
checked by `manage.py rollups --verify`; untouched by a failed write; read at a cost that does
not grow with the org."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from evaluations.tests.factories import rated_goal
from goals.models import Goal
from goals.tests.factories import PERFORMANCE, GoalFactory, PeriodFactory
from orgs.cache import org_versions_bump
from orgs.models import Organization
from orgs.tests.factories import DepartmentFactory, MembershipFactory


def verify(slug: str | None = None) -> str:
    """`rollups --verify` (for one org when `slug`): its output; CommandError when it fails."""
    out = io.StringIO()
    call_command("rollups", "--verify", *(["--org", slug] if slug else []), stdout=out)
    return out.getvalue()


def admin_dashboard(api, admin, **params) -> dict:
    org_versions_bump({admin.org_id})  # what a committed write does: the next read is cold
    response = api.get(admin, "/dashboards/admin", params=params or None)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def populated(admin, manager, employee, period):
    """Goals in every state, evaluations, a member without a department, another period."""
    rated_goal(employee, period, weight=30, rating=4, feedback_rating=5,
               feedback_status="published")  # fmt: skip
    rated_goal(employee, period, weight=10, rating=2, feedback_status="draft")
    GoalFactory(owner=employee, period=period, status="submitted", weight=15)
    loner = MembershipFactory(org=admin.org)  # no department
    GoalFactory(owner=loner, period=period, status="rejected", category="performance")
    closed = PeriodFactory(org=admin.org, name="2026 H1", status="closed")
    rated_goal(manager, closed, weight=50, rating=3, feedback_status="published")
    return employee


def test_verify_passes_on_written_data_fails_on_a_wrong_row_and_rebuild_repairs_it(
    admin, populated
):
    assert "match" in verify()
    with connection.cursor() as cursor:  # a rollup gone wrong, as no trigger would leave it
        cursor.execute(
            "UPDATE dashboards_goalrollup SET self_rating_4 = self_rating_4 + 2 "
            "WHERE org_id = %s AND self_rating_4 > 0",
            [admin.org_id],
        )
        cursor.execute("DELETE FROM dashboards_memberrollup WHERE org_id = %s", [admin.org_id])

    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("rollups", "--verify", "--org", admin.org.slug, stdout=out)

    assert failed.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert any("self_rating_4 stored 3 actual 1" in line for line in lines), lines
    assert any(line.startswith("member rollup") and "members stored 0" in line for line in lines)
    call_command("rollups", "--rebuild", "--org", admin.org.slug, stdout=io.StringIO())
    assert "match" in verify(admin.org.slug)


def test_verify_of_an_unknown_org_is_an_error(db):
    with pytest.raises(CommandError, match="No org"):
        call_command("rollups", "--verify", "--org", "no-such-org")


def test_the_dashboard_reads_the_rollups_after_api_writes(api, admin, employee, department, period):
    created = api.post(
        admin,
        "/goals",
        {"period_id": period.pk, "category": "performance", "title": "Grow", "weight": 40,
         "target_data": PERFORMANCE, "owner_id": employee.pk},
    )  # fmt: skip
    assert created.status_code == 201, created.content
    goal_id = created.json()["id"]
    assert api.post(employee, f"/goals/{goal_id}/submit").status_code == 200
    assert api.post(admin, f"/goals/{goal_id}/approve", {}).status_code == 200
    assessed = api.put(employee, f"/goals/{goal_id}/self-assessment",
                       {"rating": 4, "status": "submitted"})  # fmt: skip
    assert assessed.status_code == 200, assessed.content
    feedback = api.put(admin, f"/goals/{goal_id}/feedback", {"rating": 2, "status": "published"})
    assert feedback.status_code == 200, feedback.content

    body = admin_dashboard(api, admin)

    assert body["goals"]["total"] == 1
    assert body["goals"]["weight_sum"] == 40
    assert body["goals"]["by_status"]["approved"] == 1
    engineering = next(d for d in body["departments"] if d["department_id"] == department.pk)
    assert engineering["completion_rate"] == 1.0
    assert body["rating_distribution"] == {
        "self_assessment": [{"rating": 4, "count": 1}],
        "feedback": [{"rating": 2, "count": 1}],
    }

    # The owner moves to a new department: the goal, its assessment and feedback move along.
    research = DepartmentFactory(org=admin.org, name="Research")
    moved = api.patch(admin, f"/members/{employee.pk}", {"department_id": research.pk})
    assert moved.status_code == 200, moved.content
    body = admin_dashboard(api, admin)
    by_id = {d["department_id"]: d for d in body["departments"]}
    assert by_id[research.pk]["goals"] == 1
    assert by_id[research.pk]["self_assessments_submitted"] == 1
    assert by_id[research.pk]["members"] == 1
    assert by_id[department.pk]["goals"] == 0
    assert "match" in verify()


def test_a_failed_write_leaves_the_rollups_as_they_were(
    api, admin, employee, populated, period, django_capture_on_commit_callbacks
):
    before = admin_dashboard(api, admin)

    # refused by validation: nothing written
    body = {"period_id": period.pk, "category": "performance", "title": "x", "weight": 0,
            "target_data": PERFORMANCE}  # fmt: skip
    invalid = api.post(admin, "/goals", body)
    assert invalid.status_code == 422
    # refused by a rule: over the weight budget (30 + 10 approved, 15 submitted, + 60 > 100)
    draft = GoalFactory(owner=employee, period=period, weight=60)
    assert api.post(employee, f"/goals/{draft.pk}/submit").status_code == 409
    draft.delete()
    # written, then rolled back: the triggers' deltas go with the transaction
    with pytest.raises(RuntimeError), transaction.atomic():
        GoalFactory.create_batch(3, owner=employee, period=period, status="approved")
        Goal.objects.filter(owner=employee).update(status="rejected")
        employee.department = None
        employee.save()
        raise RuntimeError("after the writes")

    assert admin_dashboard(api, admin) == {**before}
    assert "match" in verify()


def test_deleting_goals_members_periods_departments_and_orgs_keeps_them_exact(
    api, admin, employee, manager, department, populated, period
):
    draft = GoalFactory(owner=employee, period=period, weight=5)
    assert api.delete(employee, f"/goals/{draft.pk}").status_code == 204
    department.delete()  # members lose their department (SET NULL), their goals move to none
    period.delete()  # its goals and their evaluations go first
    employee.delete()
    assert "match" in verify()

    doomed = Organization.objects.get(pk=admin.org_id)
    doomed.delete()
    with connection.cursor() as cursor:  # the org foreign key of the rollups, checked now
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert "match" in verify()


def test_the_seed_builds_the_rollups_of_its_orgs(db):
    call_command(
        "seed", "--slug", "rollcorp", "--members", "40", "--goals-per-member", "4",
        "--departments", "3", "--small-orgs", "2", stdout=io.StringIO(),
    )  # fmt: skip
    assert "match" in verify("rollcorp")
    assert "match" in verify("rollcorp-small-001")


def test_the_dashboards_cost_the_same_queries_at_two_sizes(
    api, admin, period, django_assert_num_queries
):
    api.get(admin, "/me")  # warm auth: the counts below are the dashboards' own
    departments = [DepartmentFactory(org=admin.org) for _ in range(3)]
    for index in range(6):
        member = MembershipFactory(org=admin.org, department=departments[index % 3])
        rated_goal(member, period, weight=10, rating=3, feedback_status="published")

    def counts() -> tuple[dict, dict]:
        org_versions_bump({admin.org_id})
        # the member rollup's department rows with the newcomers' index range
        with django_assert_num_queries(1):
            stats = api.get(admin, "/dashboards/stats").json()
        # the period with the members and the period's totals; the departments with their rows
        with django_assert_num_queries(2):
            board = api.get(admin, "/dashboards/admin").json()
        return stats, board

    small_stats, small = counts()
    departments += [DepartmentFactory(org=admin.org) for _ in range(27)]
    for index in range(60):
        member = MembershipFactory(org=admin.org, department=departments[index % 30])
        rated_goal(member, period, weight=10, rating=5, feedback_status="published")
    large_stats, large = counts()

    assert large_stats["total_users"] == small_stats["total_users"] + 60
    assert large["goals"]["total"] == small["goals"]["total"] + 60
    assert len(large["departments"]) == len(small["departments"]) + 27
    assert large["rating_distribution"]["feedback"] == [
        {"rating": 3, "count": 6},
        {"rating": 5, "count": 60},
    ]
