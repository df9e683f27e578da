"""POST /goals/bulk-status: all or nothing, 404 > 403 > 409, constant query count."""

from collections import Counter

import pytest

from goals.models import Goal
from goals.tests.factories import GoalFactory, PeriodFactory
from orgs.models import AuditEvent
from orgs.tests.factories import MembershipFactory


def _state():
    return Counter(Goal.objects.values_list("status", flat=True)), AuditEvent.objects.count()


def _bulk(api, actor, ids, action="approve", **extra):
    return api.post(actor, "/goals/bulk-status", {"goal_ids": ids, "action": action, **extra})


def _locs(response):
    return [d["loc"] for d in response.json()["details"]]


def test_a_manager_approves_reports_goals_in_one_call(api, manager, employee, make_goal):
    goals = [make_goal(employee, status="submitted") for _ in range(3)]
    ids = [g.pk for g in goals]

    response = _bulk(api, manager, ids)

    assert response.status_code == 200
    items = response.json()["items"]
    assert [g["id"] for g in items] == ids
    assert {g["status"] for g in items} == {"approved"}
    assert {g["reviewed_by_id"] for g in items} == {manager.pk}
    assert Goal.objects.filter(pk__in=ids, status="approved").count() == 3
    assert AuditEvent.objects.filter(action="goal.approve", entity_id__in=ids).count() == 3


def test_an_admin_rejects_with_a_comment(api, admin, employee, make_goal):
    goal = make_goal(employee, status="submitted")
    response = _bulk(api, admin, [goal.pk], "reject", comment="Redo")
    assert response.status_code == 200
    assert response.json()["items"][0]["review_comment"] == "Redo"
    assert _bulk(api, admin, [goal.pk], "reject").status_code == 422


def test_an_employee_gets_403(api, employee, make_goal):
    goal = make_goal(employee, status="submitted")
    assert _bulk(api, employee, [goal.pk]).status_code == 403


def test_an_invisible_id_is_404_and_nothing_changes(
    api, manager, other_manager, employee, make_goal, outsider
):
    ok = make_goal(employee, status="submitted")
    own = make_goal(manager, status="submitted")
    invisible = make_goal(MembershipFactory(org=employee.org, supervisor=other_manager))
    foreign = GoalFactory(owner=outsider, status="submitted")
    before = _state()

    response = _bulk(api, manager, [ok.pk, own.pk, invisible.pk, foreign.pk, 999999])

    assert response.status_code == 404  # 404 beats the 403 of the own goal
    assert _locs(response) == [["body", "goal_ids", i] for i in (2, 3, 4)]
    assert _state() == before


def test_an_own_goal_is_403_before_any_409(api, manager, employee, make_goal):
    draft = make_goal(employee, status="draft")
    own = make_goal(manager, status="submitted")
    before = _state()

    response = _bulk(api, manager, [draft.pk, own.pk])

    assert response.status_code == 403
    assert _locs(response) == [["body", "goal_ids", 1]]
    assert _state() == before


def test_a_wrong_state_is_409_listing_each_offender(api, admin, employee, make_goal):
    ok = make_goal(employee, status="submitted")
    wrong = [make_goal(employee, status=s) for s in ("draft", "approved", "rejected")]
    before = _state()

    response = _bulk(api, admin, [ok.pk] + [g.pk for g in wrong])

    assert response.status_code == 409
    assert _locs(response) == [["body", "goal_ids", i] for i in (1, 2, 3)]
    assert _state() == before  # all or nothing


def test_a_closed_period_is_409(api, admin, employee, make_goal, org):
    closed = PeriodFactory(org=org, status="closed")
    goal = make_goal(employee, status="submitted", period=closed)
    assert _bulk(api, admin, [goal.pk]).status_code == 409


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"goal_ids": [], "action": "approve"}, ["body", "goal_ids"]),
        ({"goal_ids": [1, 1], "action": "approve"}, ["body", "goal_ids"]),
        ({"goal_ids": list(range(1, 502)), "action": "approve"}, ["body", "goal_ids"]),
        ({"goal_ids": [1], "action": "archive"}, ["body", "action"]),
        ({"goal_ids": [1], "action": "approve", "status": "x"}, ["body", "status"]),
    ],
)
def test_bulk_input_validation(api, admin, body, loc):
    response = api.post(admin, "/goals/bulk-status", body)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == loc


def test_500_ids_are_accepted(api, admin, employee, period):
    goals = GoalFactory.create_batch(500, owner=employee, period=period, status="submitted")
    response = _bulk(api, admin, [g.pk for g in goals])
    assert response.status_code == 200
    assert len(response.json()["items"]) == 500


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_bulk_status_costs_the_same_for_3_and_30_goals(
    api, manager, employee, period, action, django_assert_num_queries
):
    api.get(manager, "/me")  # warm the auth cache: auth costs 0 queries below
    for n in (3, 30):
        goals = GoalFactory.create_batch(n, owner=employee, period=period, status="submitted")
        audit_before = AuditEvent.objects.count()
        # SAVEPOINT, SELECT goals+owner+period FOR UPDATE, one UPDATE of all goals,
        # one bulk INSERT of audit events, RELEASE
        with django_assert_num_queries(5):
            response = _bulk(api, manager, [g.pk for g in goals], action, comment="c")
        assert response.status_code == 200
        assert AuditEvent.objects.count() == audit_before + n


def test_one_version_bump_after_a_successful_batch_and_none_after_a_failed_one(
    api, admin, employee, period, django_capture_on_commit_callbacks
):
    goals = GoalFactory.create_batch(5, owner=employee, period=period, status="submitted")
    draft = GoalFactory(owner=employee, period=period)

    with django_capture_on_commit_callbacks() as failed:
        assert _bulk(api, admin, [goals[0].pk, draft.pk]).status_code == 409
    with django_capture_on_commit_callbacks() as succeeded:
        assert _bulk(api, admin, [g.pk for g in goals]).status_code == 200

    assert len(failed) == 0  # a rolled-back write never touches the cache
    assert len(succeeded) == 1
