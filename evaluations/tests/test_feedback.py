"""PUT /goals/{id}/feedback: the owner's supervisor or an admin rates an approved goal."""

from __future__ import annotations

import pytest

from evaluations.models import SupervisorFeedback
from evaluations.services import FEEDBACK_PUBLISHED, GOAL_NOT_APPROVED, PERIOD_CLOSED
from goals.models import Goal, Period
from goals.permissions import CANNOT_REVIEW_OWN
from goals.tests.factories import GoalFactory, PeriodFactory
from orgs.models import AuditEvent, Membership
from orgs.tests.factories import MembershipFactory

BODY = {"rating": 3, "comment": "Solid work.", "status": "draft"}


def path(goal) -> str:
    return f"/goals/{goal.pk}/feedback"


@pytest.fixture
def goal(employee):
    return GoalFactory(owner=employee, status=Goal.Status.APPROVED)


def counts() -> tuple[int, int]:
    return SupervisorFeedback.objects.count(), AuditEvent.objects.count()


def test_the_supervisor_creates_a_draft(api, manager, goal):
    response = api.put(manager, path(goal), BODY)

    assert response.status_code == 200, response.json()
    body = response.json()
    row = SupervisorFeedback.objects.get()
    assert body == {
        "id": row.pk,
        "goal_id": goal.pk,
        "author_id": manager.pk,
        "rating": 3,
        "comment": "Solid work.",
        "status": "draft",
        "published_at": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert row.org_id == goal.org_id


def test_publishing_stamps_published_at_once(api, manager, admin, goal):
    api.put(manager, path(goal), BODY)
    published = api.put(manager, path(goal), {**BODY, "status": "published"}).json()
    assert published["published_at"] is not None

    # Published feedback may still be edited by a reviewer; it stays published.
    response = api.put(admin, path(goal), {"rating": 5, "status": "published"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == published["id"]
    assert body["rating"] == 5
    assert body["comment"] == ""
    assert body["author_id"] == admin.pk  # the reviewer who last wrote it
    assert body["published_at"] == published["published_at"]
    assert body["updated_at"] > published["updated_at"]


def test_published_feedback_cannot_return_to_draft(api, manager, goal):
    api.put(manager, path(goal), {**BODY, "status": "published"})
    before = counts()

    response = api.put(manager, path(goal), BODY)

    assert response.status_code == 409
    assert response.json()["message"] == FEEDBACK_PUBLISHED
    assert counts() == before
    assert SupervisorFeedback.objects.get().status == "published"


def test_a_write_is_audited_with_the_request_id(api, manager, goal):
    api.put(manager, path(goal), BODY)
    response = api.put(
        manager, path(goal), {**BODY, "status": "published"}, HTTP_X_REQUEST_ID="fb-1"
    )

    assert response.status_code == 200
    row = SupervisorFeedback.objects.get()
    created, updated = AuditEvent.objects.order_by("id")
    assert created.action == "feedback.create"
    assert created.entity_type == "feedback"
    assert created.entity_id == row.pk
    assert created.actor_id == manager.pk
    assert created.changes["rating"] == [None, 3]
    assert created.changes["author_id"] == [None, manager.pk]
    assert updated.action == "feedback.update"
    assert updated.request_id == "fb-1"
    assert updated.changes["status"] == ["draft", "published"]
    assert updated.changes["published_at"][0] is None
    assert set(updated.changes) == {"status", "published_at"}


@pytest.mark.parametrize(
    ("actor_name", "status", "message"),
    [
        ("manager", 200, None),  # the owner's supervisor
        ("admin", 200, None),
        ("employee", 403, CANNOT_REVIEW_OWN),  # the owner
        ("other_manager", 404, None),  # not the owner's supervisor: cannot see the goal
        ("other_employee", 404, None),
        ("outsider", 404, None),
    ],
)
def test_role_matrix(api, request, org, goal, actor_name, status, message):
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
    if message:
        assert response.json()["message"] == message


def test_a_manager_cannot_review_its_own_goal(api, org, manager):
    boss = MembershipFactory(org=org, role=Membership.Role.MANAGER)
    manager.supervisor = boss
    manager.save(update_fields=["supervisor"])
    goal = GoalFactory(owner=manager, status=Goal.Status.APPROVED)

    response = api.put(manager, path(goal), BODY)

    assert response.status_code == 403
    assert response.json()["message"] == CANNOT_REVIEW_OWN
    assert api.put(boss, path(goal), BODY).status_code == 200


def test_an_admin_cannot_review_its_own_goal(api, admin):
    goal = GoalFactory(owner=admin, status=Goal.Status.APPROVED)

    response = api.put(admin, path(goal), BODY)

    assert response.status_code == 403
    assert response.json()["message"] == CANNOT_REVIEW_OWN
    assert counts() == (0, 0)


def test_a_goal_of_another_org_is_404(api, manager, outsider):
    foreign = GoalFactory(owner=outsider, status=Goal.Status.APPROVED)

    response = api.put(manager, path(foreign), BODY)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert SupervisorFeedback.objects.count() == 0


@pytest.mark.parametrize("goal_status", ["draft", "submitted", "rejected"])
def test_a_goal_that_is_not_approved_is_409(api, manager, employee, goal_status):
    goal = GoalFactory(owner=employee, status=goal_status)
    before = counts()

    response = api.put(manager, path(goal), BODY)

    assert response.status_code == 409
    assert response.json()["message"] == GOAL_NOT_APPROVED
    assert counts() == before


def test_a_closed_period_is_409(api, org, manager, employee):
    period = PeriodFactory(org=org, status=Period.Status.CLOSED)
    goal = GoalFactory(owner=employee, period=period, status=Goal.Status.APPROVED)
    before = counts()

    response = api.put(manager, path(goal), BODY)

    assert response.status_code == 409
    assert response.json()["message"] == PERIOD_CLOSED
    assert counts() == before


def test_a_planned_period_accepts_feedback(api, org, manager, employee):
    period = PeriodFactory(org=org, status=Period.Status.PLANNED)
    goal = GoalFactory(owner=employee, period=period, status=Goal.Status.APPROVED)

    assert api.put(manager, path(goal), BODY).status_code == 200


@pytest.mark.parametrize("rating", [0, 6, 11, "3", 2.5, False, None])
def test_a_rating_outside_the_org_scale_is_422_with_its_loc(api, manager, goal, rating):
    before = counts()

    response = api.put(manager, path(goal), {**BODY, "rating": rating})

    assert response.status_code == 422, response.json()
    assert [d["loc"] for d in response.json()["details"]] == [["body", "rating"]]
    assert counts() == before


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({**BODY, "comment": "x" * 5001}, ["body", "comment"]),
        ({**BODY, "status": "submitted"}, ["body", "status"]),
        ({"rating": 3}, ["body", "status"]),
        ({**BODY, "author_id": 1}, ["body", "author_id"]),
        ({**BODY, "published_at": "2026-01-01T00:00:00Z"}, ["body", "published_at"]),
    ],
)
def test_invalid_bodies_are_422(api, manager, goal, body, loc):
    response = api.put(manager, path(goal), body)

    assert response.status_code == 422
    assert loc in [d["loc"] for d in response.json()["details"]]
    assert counts() == (0, 0)


@pytest.mark.parametrize("goal_count", [3, 30])
def test_creating_costs_the_same_for_3_and_30_goals(
    api, manager, employee, goal_count, django_assert_num_queries
):
    goals = GoalFactory.create_batch(goal_count, owner=employee, status=Goal.Status.APPROVED)
    assert api.get(manager, "/me").status_code == 200  # warms the auth cache

    # SAVEPOINT, goal + period + owner FOR UPDATE, feedback lookup, INSERT feedback,
    # INSERT audit event, RELEASE SAVEPOINT
    with django_assert_num_queries(6):
        response = api.put(manager, path(goals[0]), BODY)
    assert response.status_code == 200


@pytest.mark.parametrize("goal_count", [3, 30])
def test_publishing_costs_the_same_for_3_and_30_goals(
    api, manager, employee, goal_count, django_assert_num_queries
):
    goals = GoalFactory.create_batch(goal_count, owner=employee, status=Goal.Status.APPROVED)
    for goal in goals:
        api.put(manager, path(goal), BODY)

    # SAVEPOINT, goal + period + owner FOR UPDATE, feedback lookup, UPDATE feedback,
    # INSERT audit event, RELEASE SAVEPOINT
    with django_assert_num_queries(6):
        response = api.put(manager, path(goals[-1]), {**BODY, "status": "published"})
    assert response.status_code == 200


def test_a_failure_after_the_insert_rolls_everything_back(api, manager, goal, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr("evaluations.services.record_change", broken_audit)

    response = api.put(manager, path(goal), BODY)

    assert response.status_code == 500
    assert counts() == (0, 0)


def test_a_rating_of_5_0_is_the_integer_5_and_5_as_a_string_is_not(api, manager, goal):
    # JSON Schema's `integer` includes 5.0 (the document promises it); "5" and true are not.
    accepted = api.put(manager, path(goal), {**BODY, "rating": 5.0})
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["rating"] == 5

    for rating in ("5", True, 5.5):
        refused = api.put(manager, path(goal), {**BODY, "rating": rating})
        assert refused.status_code == 422, rating
        assert refused.json()["details"][0]["loc"] == ["body", "rating"]
