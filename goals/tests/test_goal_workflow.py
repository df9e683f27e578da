"""Every legal and illegal transition, the weight rule and the reviewer role matrix."""

import pytest

from goals.models import Goal
from goals.tests.factories import PeriodFactory
from orgs.models import AuditEvent

ALL = ["draft", "submitted", "approved", "rejected"]


@pytest.mark.parametrize("status", ALL)
def test_submit_is_allowed_from_draft_or_rejected_only(api, employee, make_goal, status):
    goal = make_goal(employee, status=status)

    response = api.post(employee, f"/goals/{goal.pk}/submit")

    legal = status in ("draft", "rejected")
    assert response.status_code == (200 if legal else 409)
    goal.refresh_from_db()
    assert goal.status == ("submitted" if legal else status)
    assert AuditEvent.objects.filter(action="goal.submit", entity_id=goal.pk).count() == legal


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_review_is_allowed_from_submitted_only(api, manager, employee, make_goal, status, action):
    goal = make_goal(employee, status=status)

    response = api.post(manager, f"/goals/{goal.pk}/{action}", {"comment": "Needs numbers"})

    legal = status == "submitted"
    assert response.status_code == (200 if legal else 409)
    if legal:
        body = response.json()
        assert body["status"] == ("approved" if action == "approve" else "rejected")
        assert body["reviewed_by_id"] == manager.pk
        assert body["reviewed_at"] is not None
        if action == "reject":
            assert body["review_comment"] == "Needs numbers"


def test_a_rejected_goal_is_edited_and_resubmitted(api, manager, employee, make_goal):
    goal = make_goal(employee, status="submitted")
    api.post(manager, f"/goals/{goal.pk}/reject", {"comment": "Too vague"})

    edited = api.patch(employee, f"/goals/{goal.pk}", {"title": "Sharper"})
    resubmitted = api.post(employee, f"/goals/{goal.pk}/submit")

    assert edited.json()["status"] == "rejected"
    assert resubmitted.json()["status"] == "submitted"


def test_reject_requires_a_comment(api, manager, employee, make_goal):
    goal = make_goal(employee, status="submitted")
    for body in ({}, {"comment": ""}):
        response = api.post(manager, f"/goals/{goal.pk}/reject", body)
        assert response.status_code == 422
        assert response.json()["details"][0]["loc"] == ["body", "comment"]


@pytest.mark.parametrize(
    ("committed", "weight", "expected"),
    [(70, 30, 200), (70, 31, 409), (0, 100, 200), (100, 1, 409)],
)
def test_submit_keeps_the_owners_committed_weights_within_100(
    api, employee, make_goal, committed, weight, expected
):
    if committed:
        make_goal(employee, status="submitted", weight=committed // 2 or committed)
        make_goal(employee, status="approved", weight=committed - (committed // 2 or committed))
    make_goal(employee, status="draft", weight=90)  # drafts do not count
    make_goal(employee, status="rejected", weight=90)  # nor do rejected goals
    goal = make_goal(employee, weight=weight)

    assert api.post(employee, f"/goals/{goal.pk}/submit").status_code == expected


def test_weights_in_another_period_do_not_count(api, employee, make_goal, org):
    other = PeriodFactory(org=org, status="planned")
    make_goal(employee, period=other, status="approved", weight=100)
    goal = make_goal(employee, weight=100)
    assert api.post(employee, f"/goals/{goal.pk}/submit").status_code == 200


@pytest.mark.parametrize(
    ("reviewer", "owner", "expected"),
    [
        ("manager", "employee", 200),  # the owner's supervisor
        ("admin", "employee", 200),
        ("admin", "manager", 200),
        ("other_manager", "employee", 404),  # not their report: invisible
        ("employee", "employee", 403),  # own goal
        ("manager", "manager", 403),  # own goal
        ("admin", "admin", 403),  # own goal, even for an admin
        ("employee", "manager", 404),  # invisible
    ],
)
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_review_role_matrix(api, request, make_goal, reviewer, owner, expected, action):
    actor = request.getfixturevalue(reviewer)
    request.getfixturevalue("other_manager")
    goal = make_goal(request.getfixturevalue(owner), status="submitted")

    response = api.post(actor, f"/goals/{goal.pk}/{action}", {"comment": "ok"})

    assert response.status_code == expected
    goal.refresh_from_db()
    if expected != 200:
        assert goal.status == "submitted"


def test_a_manager_cannot_submit_a_reports_goal(api, manager, employee, make_goal):
    goal = make_goal(employee)
    assert api.post(manager, f"/goals/{goal.pk}/submit").status_code == 403


def test_an_admin_submits_for_the_owner(api, admin, employee, make_goal):
    goal = make_goal(employee)
    assert api.post(admin, f"/goals/{goal.pk}/submit").status_code == 200


@pytest.mark.parametrize("action", ["submit", "approve", "reject"])
def test_actions_in_a_closed_period_are_409(api, admin, employee, make_goal, org, action):
    closed = PeriodFactory(org=org, status="closed")
    status = "draft" if action == "submit" else "submitted"
    goal = make_goal(employee, period=closed, status=status)

    response = api.post(
        admin, f"/goals/{goal.pk}/{action}", {"comment": "x"} if action == "reject" else None
    )

    assert response.status_code == 409
    assert Goal.objects.get(pk=goal.pk).status == status


def test_review_of_a_goal_in_another_org_is_404(api, admin, outsider):
    from goals.tests.factories import GoalFactory

    goal = GoalFactory(owner=outsider, status="submitted")
    assert api.post(admin, f"/goals/{goal.pk}/approve").status_code == 404
