"""PUT /goals/{id}/self-assessment: the owner rates an approved goal of the active period."""

from __future__ import annotations

import pytest

from evaluations.models import SelfAssessment
from evaluations.services import (
    ASSESSMENT_SUBMITTED,
    GOAL_NOT_APPROVED,
    NOT_OWNER,
    PERIOD_NOT_ACTIVE,
)
from goals.models import Goal, Period
from goals.tests.factories import GoalFactory, PeriodFactory
from orgs.models import AuditEvent, Membership
from orgs.tests.factories import MembershipFactory

BODY = {"rating": 4, "comment": "Shipped it.", "status": "draft"}


def path(goal) -> str:
    return f"/goals/{goal.pk}/self-assessment"


@pytest.fixture
def goal(employee):
    return GoalFactory(owner=employee, status=Goal.Status.APPROVED)


def counts() -> tuple[int, int]:
    return SelfAssessment.objects.count(), AuditEvent.objects.count()


def test_the_owner_creates_a_draft(api, employee, goal):
    response = api.put(employee, path(goal), BODY)

    assert response.status_code == 200, response.json()
    body = response.json()
    row = SelfAssessment.objects.get()
    assert body == {
        "id": row.pk,
        "goal_id": goal.pk,
        "rating": 4,
        "comment": "Shipped it.",
        "status": "draft",
        "submitted_at": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert row.org_id == goal.org_id


def test_the_owner_updates_a_draft_then_submits_it(api, employee, goal):
    first = api.put(employee, path(goal), BODY).json()

    response = api.put(employee, path(goal), {"rating": 5, "status": "submitted"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == first["id"]
    assert body["rating"] == 5
    assert body["comment"] == ""  # PUT replaces: an omitted comment is cleared
    assert body["status"] == "submitted"
    assert body["submitted_at"] is not None
    assert SelfAssessment.objects.count() == 1


def test_a_submitted_assessment_can_no_longer_be_changed(api, employee, goal):
    api.put(employee, path(goal), {**BODY, "status": "submitted"})
    before = counts()

    response = api.put(employee, path(goal), {**BODY, "rating": 2})

    assert response.status_code == 409
    assert response.json()["message"] == ASSESSMENT_SUBMITTED
    assert counts() == before
    assert SelfAssessment.objects.get().rating == 4


def test_a_write_is_audited_with_the_request_id(api, employee, goal):
    api.put(employee, path(goal), BODY)
    response = api.put(
        employee, path(goal), {**BODY, "rating": 2, "status": "submitted"}, HTTP_X_REQUEST_ID="sa-1"
    )

    assert response.status_code == 200
    row = SelfAssessment.objects.get()
    created, updated = AuditEvent.objects.order_by("id")
    assert created.action == "self_assessment.create"
    assert created.entity_type == "self_assessment"
    assert created.entity_id == row.pk
    assert created.actor_id == employee.pk
    assert created.changes["rating"] == [None, 4]
    assert updated.action == "self_assessment.update"
    assert updated.request_id == "sa-1"
    assert updated.changes["rating"] == [4, 2]
    assert updated.changes["status"] == ["draft", "submitted"]
    assert "comment" not in updated.changes
    assert updated.org_id == goal.org_id


@pytest.mark.parametrize(
    ("actor_name", "status"),
    [
        ("employee", 200),  # the owner
        ("manager", 403),  # the owner's supervisor sees the goal but may not write
        ("admin", 403),  # sees every goal, may not write another's self-assessment
        ("other_manager", 404),
        ("other_employee", 404),
        ("outsider", 404),
    ],
)
def test_role_matrix(api, request, org, goal, actor_name, status):
    if actor_name == "other_manager":
        actor = MembershipFactory(org=org, role=Membership.Role.MANAGER)
    elif actor_name == "other_employee":
        actor = MembershipFactory(org=org, role=Membership.Role.EMPLOYEE)
    else:
        actor = request.getfixturevalue(actor_name)
    before = counts()

    response = api.put(actor, path(goal), BODY)

    assert response.status_code == status, response.json()
    if status != 200:
        assert counts() == before
    if status == 403:
        assert response.json()["message"] == NOT_OWNER


def test_the_owner_cannot_assess_a_goal_of_another_org(api, employee, outsider):
    foreign = GoalFactory(owner=outsider, status=Goal.Status.APPROVED)

    response = api.put(employee, path(foreign), BODY)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert SelfAssessment.objects.count() == 0


def test_an_unknown_goal_is_404(api, employee):
    assert api.put(employee, "/goals/999999/self-assessment", BODY).status_code == 404


@pytest.mark.parametrize("goal_status", ["draft", "submitted", "rejected"])
def test_a_goal_that_is_not_approved_is_409(api, employee, goal_status):
    goal = GoalFactory(owner=employee, status=goal_status)
    before = counts()

    response = api.put(employee, path(goal), BODY)

    assert response.status_code == 409
    assert response.json()["message"] == GOAL_NOT_APPROVED
    assert counts() == before


@pytest.mark.parametrize("period_status", [Period.Status.CLOSED, Period.Status.PLANNED])
def test_a_period_that_is_not_active_is_409(api, org, employee, period_status):
    period = PeriodFactory(org=org, status=period_status)
    goal = GoalFactory(owner=employee, period=period, status=Goal.Status.APPROVED)
    before = counts()

    response = api.put(employee, path(goal), BODY)

    assert response.status_code == 409
    assert response.json()["message"] == PERIOD_NOT_ACTIVE
    assert counts() == before


@pytest.mark.parametrize("rating", [0, 6, 11, -1, "4", 4.5, True, None])
def test_a_rating_outside_the_org_scale_is_422_with_its_loc(api, employee, goal, rating):
    assert employee.org.rating_scale == 5
    before = counts()

    response = api.put(employee, path(goal), {**BODY, "rating": rating})

    assert response.status_code == 422, response.json()
    assert [d["loc"] for d in response.json()["details"]] == [["body", "rating"]]
    assert counts() == before


def test_the_top_of_a_wider_org_scale_is_accepted(api, org, employee, goal):
    org.rating_scale = 10
    org.save(update_fields=["rating_scale"])

    response = api.put(employee, path(goal), {**BODY, "rating": 10})

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({**BODY, "comment": "x" * 5001}, ["body", "comment"]),
        ({**BODY, "status": "published"}, ["body", "status"]),
        ({"rating": 3}, ["body", "status"]),
        ({**BODY, "org_id": 1}, ["body", "org_id"]),
        ({**BODY, "submitted_at": "2026-01-01T00:00:00Z"}, ["body", "submitted_at"]),
    ],
)
def test_invalid_bodies_are_422(api, employee, goal, body, loc):
    response = api.put(employee, path(goal), body)

    assert response.status_code == 422
    assert loc in [d["loc"] for d in response.json()["details"]]
    assert counts() == (0, 0)


def test_a_comment_of_5000_characters_is_accepted(api, employee, goal):
    response = api.put(employee, path(goal), {**BODY, "comment": "x" * 5000})

    assert response.status_code == 200


def _warm(api, employee):
    assert api.get(employee, "/me").status_code == 200  # the auth cache: 0 queries from now on


@pytest.mark.parametrize("goal_count", [3, 30])
def test_creating_costs_the_same_for_3_and_30_goals(
    api, employee, goal_count, django_assert_num_queries
):
    goals = GoalFactory.create_batch(goal_count, owner=employee, status=Goal.Status.APPROVED)
    _warm(api, employee)

    # SAVEPOINT, goal + period + owner FOR UPDATE, assessment lookup, INSERT assessment,
    # INSERT audit event, RELEASE SAVEPOINT
    with django_assert_num_queries(6):
        response = api.put(employee, path(goals[0]), BODY)
    assert response.status_code == 200


@pytest.mark.parametrize("goal_count", [3, 30])
def test_updating_costs_the_same_for_3_and_30_goals(
    api, employee, goal_count, django_assert_num_queries
):
    goals = GoalFactory.create_batch(goal_count, owner=employee, status=Goal.Status.APPROVED)
    for goal in goals:
        api.put(employee, path(goal), BODY)

    # SAVEPOINT, goal + period + owner FOR UPDATE, assessment lookup, UPDATE assessment,
    # INSERT audit event, RELEASE SAVEPOINT
    with django_assert_num_queries(6):
        response = api.put(employee, path(goals[-1]), {**BODY, "status": "submitted"})
    assert response.status_code == 200


def test_a_refused_write_stops_after_the_goal_lookup(
    api, employee, manager, goal, django_assert_num_queries
):
    _warm(api, manager)

    # SAVEPOINT, goal + period + owner FOR UPDATE (visible, not owned → 403),
    # ROLLBACK TO SAVEPOINT, RELEASE SAVEPOINT
    with django_assert_num_queries(4):
        response = api.put(manager, path(goal), BODY)
    assert response.status_code == 403


def test_a_failure_after_the_insert_rolls_everything_back(api, employee, goal, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr("evaluations.services.record_change", broken_audit)

    response = api.put(employee, path(goal), BODY)

    assert response.status_code == 500
    assert counts() == (0, 0)
