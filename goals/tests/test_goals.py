import pytest

from goals.models import Goal, Period
from goals.tests.factories import PERFORMANCE, GoalFactory, PeriodFactory
from orgs.models import AuditEvent
from orgs.tests.factories import MembershipFactory

GOAL_KEYS = {
    "id", "period_id", "owner_id", "category", "title", "weight", "target_data", "status",
    "review_comment", "reviewed_by_id", "reviewed_at", "created_at", "updated_at",
}  # fmt: skip


def _body(period, **extra):
    return {
        "period_id": period.pk,
        "category": "performance",
        "title": "Grow revenue",
        "weight": 30,
        "target_data": PERFORMANCE,
        **extra,
    }


def test_a_member_creates_own_draft_goal(api, employee, period):
    response = api.post(employee, "/goals", _body(period))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == GOAL_KEYS
    assert (body["owner_id"], body["status"], body["weight"]) == (employee.pk, "draft", 30)
    assert AuditEvent.objects.filter(action="goal.create", entity_id=body["id"]).count() == 1


def test_a_target_beyond_64_bits_is_read_back_exactly_never_a_500(api, employee, period):
    """JSON integers have no size limit; orjson's do (found by schemathesis: every read of such
    a goal was a 500). The renderer falls back to the standard encoder for that document."""
    huge = 2**70 + 1
    target = {**PERFORMANCE, "target": huge}
    created = api.post(employee, "/goals", _body(period, target_data=target))
    assert created.status_code == 201, created.content
    goal_id = created.json()["id"]
    assert created.json()["target_data"]["target"] == huge

    for path in (f"/goals/{goal_id}", "/goals", "/evaluation/goal-list-page"):
        response = api.get(employee, path)
        assert response.status_code == 200, (path, response.content)
        assert str(huge) in response.content.decode()
    assert api.post(employee, f"/goals/{goal_id}/submit", {}).status_code == 200


def test_an_admin_creates_a_goal_for_another_member(api, admin, employee, period):
    response = api.post(admin, "/goals", _body(period, owner_id=employee.pk))
    assert response.status_code == 201
    assert response.json()["owner_id"] == employee.pk


@pytest.mark.parametrize("role", ["manager", "employee"])
def test_a_non_admin_passing_another_owner_id_is_403(api, request, role, admin, period):
    member = request.getfixturevalue(role)
    assert api.post(member, "/goals", _body(period, owner_id=admin.pk)).status_code == 403


def test_ids_of_another_org_in_the_body_are_422(api, admin, period, outsider):
    foreign_period = PeriodFactory(org=outsider.org)

    bad_period = api.post(admin, "/goals", _body(foreign_period))
    bad_owner = api.post(admin, "/goals", _body(period, owner_id=outsider.pk))

    assert bad_period.status_code == bad_owner.status_code == 422
    assert bad_period.json()["details"][0]["loc"] == ["body", "period_id"]
    assert bad_owner.json()["details"][0]["loc"] == ["body", "owner_id"]


@pytest.mark.parametrize(
    ("extra", "loc"),
    [
        ({"weight": 0}, ["body", "weight"]),
        ({"weight": 101}, ["body", "weight"]),
        ({"status": "approved"}, ["body", "status"]),
        ({"org_id": 1}, ["body", "org_id"]),
        ({"category": "vibes"}, ["body", "category"]),
        ({"title": ""}, ["body", "title"]),
    ],
)
def test_goal_input_validation(api, employee, period, extra, loc):
    response = api.post(employee, "/goals", _body(period, **extra))
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == loc


def test_a_goal_in_a_closed_period_cannot_be_created(api, employee, org):
    closed = PeriodFactory(org=org, status=Period.Status.CLOSED)
    assert api.post(employee, "/goals", _body(closed)).status_code == 409


def test_visibility_of_goals_by_role(api, admin, manager, other_manager, employee, make_goal):
    own = make_goal(employee)
    managers = make_goal(manager)

    def ids(member, **params):
        return {g["id"] for g in api.get(member, "/goals", params=params).json()["items"]}

    assert ids(employee) == {own.pk}
    assert ids(manager) == {own.pk, managers.pk}
    assert ids(other_manager) == set()
    assert ids(admin) == {own.pk, managers.pk}
    # a filter on an invisible owner is an empty page, not an error
    assert ids(employee, owner_id=manager.pk) == set()
    assert ids(other_manager, owner_id=employee.pk) == set()
    assert api.get(employee, f"/goals/{managers.pk}").status_code == 404
    assert api.get(other_manager, f"/goals/{own.pk}").status_code == 404
    assert api.get(manager, f"/goals/{own.pk}").status_code == 200


def test_goal_list_filters_and_pagination(api, admin, employee, make_goal, org):
    other_period = PeriodFactory(org=org, status="planned")
    draft = make_goal(employee)
    submitted = make_goal(employee, status="submitted")
    elsewhere = make_goal(employee, period=other_period)

    def ids(**params):
        return [g["id"] for g in api.get(admin, "/goals", params=params).json()["items"]]

    assert ids(status="draft", period_id=draft.period_id) == [draft.pk]
    assert ids(status="submitted") == [submitted.pk]
    assert ids(period_id=other_period.pk) == [elsewhere.pk]
    assert ids(category="competency") == []
    assert ids(owner_id=employee.pk) == [elsewhere.pk, submitted.pk, draft.pk]
    first = api.get(admin, "/goals", params={"limit": 2}).json()
    second = api.get(admin, "/goals", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [g["id"] for g in first["items"] + second["items"]] == ids()
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 201}, ["query", "limit"]),
        ({"limit": 0}, ["query", "limit"]),
        ({"status": "nope"}, ["query", "status"]),
        ({"cursor": "garbage!"}, ["query", "cursor"]),
    ],
)
def test_goal_list_query_validation(api, employee, params, loc):
    response = api.get(employee, "/goals", params=params)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == loc


def test_limit_200_is_allowed(api, employee):
    assert api.get(employee, "/goals", params={"limit": 200}).status_code == 200


@pytest.mark.parametrize("status", ["draft", "rejected"])
def test_owner_and_admin_edit_a_draft_or_rejected_goal(api, admin, employee, make_goal, status):
    goal = make_goal(employee, status=status)

    by_owner = api.patch(employee, f"/goals/{goal.pk}", {"title": "Better", "weight": 20})
    by_admin = api.patch(admin, f"/goals/{goal.pk}", {"weight": 25})

    assert by_owner.status_code == by_admin.status_code == 200
    assert by_admin.json()["title"] == "Better"
    assert by_admin.json()["weight"] == 25
    assert by_admin.json()["status"] == status  # a rejected goal stays rejected until resubmitted
    assert AuditEvent.objects.filter(action="goal.update", entity_id=goal.pk).count() == 2


@pytest.mark.parametrize("status", ["submitted", "approved"])
def test_a_submitted_or_approved_goal_cannot_be_edited(api, admin, employee, make_goal, status):
    goal = make_goal(employee, status=status)
    assert api.patch(employee, f"/goals/{goal.pk}", {"title": "x"}).status_code == 409
    assert api.patch(admin, f"/goals/{goal.pk}", {"title": "x"}).status_code == 409


def test_a_manager_cannot_edit_a_reports_goal(api, manager, employee, make_goal):
    goal = make_goal(employee)
    assert api.patch(manager, f"/goals/{goal.pk}", {"title": "x"}).status_code == 403
    assert api.delete(manager, f"/goals/{goal.pk}").status_code == 403


def test_patch_rejects_unknown_and_null_fields(api, employee, make_goal):
    goal = make_goal(employee)
    assert api.patch(employee, f"/goals/{goal.pk}", {"status": "approved"}).status_code == 422
    assert api.patch(employee, f"/goals/{goal.pk}", {"title": None}).status_code == 422


def test_only_draft_goals_are_deleted(api, employee, make_goal):
    draft = make_goal(employee)
    rejected = make_goal(employee, status="rejected")

    assert api.delete(employee, f"/goals/{draft.pk}").status_code == 204
    assert api.delete(employee, f"/goals/{rejected.pk}").status_code == 409
    assert not Goal.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(action="goal.delete", entity_id=draft.pk).exists()


def test_goals_in_a_closed_period_are_read_only(api, admin, employee, make_goal, org):
    closed = PeriodFactory(org=org, status=Period.Status.CLOSED)
    draft = make_goal(employee, period=closed)

    assert api.get(employee, f"/goals/{draft.pk}").status_code == 200
    assert api.patch(employee, f"/goals/{draft.pk}", {"title": "x"}).status_code == 409
    assert api.delete(admin, f"/goals/{draft.pk}").status_code == 409
    assert api.post(employee, f"/goals/{draft.pk}/submit").status_code == 409


def test_outsider_gets_404_on_every_goal_endpoint(api, outsider, org, employee, make_goal):
    goal = make_goal(employee, status="submitted")
    outsider.org = org  # this org's URLs, the outsider's token
    calls = [
        api.get(outsider, "/goals"),
        api.post(outsider, "/goals", {}),
        api.get(outsider, f"/goals/{goal.pk}"),
        api.patch(outsider, f"/goals/{goal.pk}", {"title": "x"}),
        api.delete(outsider, f"/goals/{goal.pk}"),
        api.post(outsider, f"/goals/{goal.pk}/submit"),
        api.post(outsider, f"/goals/{goal.pk}/approve"),
        api.post(outsider, f"/goals/{goal.pk}/reject", {"comment": "no"}),
        api.post(outsider, "/goals/bulk-status", {"goal_ids": [goal.pk], "action": "approve"}),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls)


def test_a_goal_of_another_org_is_404_for_an_admin(api, admin, outsider):
    foreign = GoalFactory(owner=outsider)
    assert api.get(admin, f"/goals/{foreign.pk}").status_code == 404
    assert api.patch(admin, f"/goals/{foreign.pk}", {"title": "x"}).status_code == 404


def test_goal_endpoints_cost_the_same_for_3_and_30_goals(
    api, admin, manager, employee, period, django_assert_num_queries
):
    api.get(admin, "/me")  # warm the auth cache of each caller: auth costs 0 queries
    api.get(employee, "/me")
    api.get(manager, "/me")
    for n in (3, 27):
        GoalFactory.create_batch(n, owner=employee, period=period, weight=1)
        target = GoalFactory(owner=employee, period=period, weight=1)
        # 1 keyset SELECT of goals (visibility joins the owner for a manager)
        with django_assert_num_queries(1):
            assert len(api.get(manager, "/goals", params={"limit": 200}).json()["items"]) > n
        # 1 SELECT of the goal inside the org and visibility
        with django_assert_num_queries(1):
            assert api.get(employee, f"/goals/{target.pk}").status_code == 200
        # SELECT period, SAVEPOINT, INSERT goal, INSERT audit event, RELEASE
        with django_assert_num_queries(5):
            created = api.post(employee, "/goals", _body(period, weight=1))
        assert created.status_code == 201
        # SAVEPOINT, SELECT goal+owner+period FOR UPDATE, UPDATE goal, INSERT audit, RELEASE
        with django_assert_num_queries(5):
            assert api.patch(employee, f"/goals/{target.pk}", {"title": f"t{n}"}).status_code == 200
        # SAVEPOINT, SELECT goal+owner+period FOR UPDATE OF goal, owner, SUM of committed
        # weights, UPDATE goal, INSERT audit, RELEASE
        with django_assert_num_queries(6):
            assert api.post(employee, f"/goals/{target.pk}/submit").status_code == 200
        # SAVEPOINT, SELECT … FOR UPDATE, UPDATE goal, INSERT audit, RELEASE
        with django_assert_num_queries(5):
            assert api.post(manager, f"/goals/{target.pk}/approve").status_code == 200
        to_reject = GoalFactory(owner=employee, period=period, weight=1, status="submitted")
        # SAVEPOINT, SELECT … FOR UPDATE, UPDATE goal, INSERT audit, RELEASE
        with django_assert_num_queries(5):
            response = api.post(manager, f"/goals/{to_reject.pk}/reject", {"comment": "No"})
        assert response.status_code == 200
        # SAVEPOINT, SELECT … FOR UPDATE, DELETE self-assessments, DELETE feedback (cascade),
        # DELETE goal, INSERT audit, RELEASE
        with django_assert_num_queries(7):
            assert api.delete(employee, f"/goals/{created.json()['id']}").status_code == 204
        # admin creating for another owner adds: SELECT owner membership
        with django_assert_num_queries(6):
            response = api.post(admin, "/goals", _body(period, weight=1, owner_id=employee.pk))
        assert response.status_code == 201


def test_a_manager_sees_goals_of_their_own_reports(api, other_manager, org, make_goal):
    report = MembershipFactory(org=org, supervisor=other_manager)
    goal = make_goal(report)
    assert api.get(other_manager, f"/goals/{goal.pk}").status_code == 200


def test_foreign_ids_as_list_filters_give_an_empty_page(api, admin, employee, make_goal, outsider):
    make_goal(employee)
    foreign = GoalFactory(owner=outsider)

    for params in ({"period_id": foreign.period_id}, {"owner_id": outsider.pk}):
        response = api.get(admin, "/goals", params=params)
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("weight", ["30", True])
def test_a_weight_that_is_not_a_json_integer_is_422(api, employee, period, weight):
    # Pydantic's lax mode used to take "30" as 30 and true as 1: not what the document says.
    response = api.post(employee, "/goals", _body(period, weight=weight))

    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["body", "weight"]
    assert not Goal.objects.exists()


def test_a_goal_patch_with_an_integral_float_weight_is_accepted(api, employee, period):
    goal = GoalFactory(owner=employee, period=period, weight=10)

    response = api.patch(employee, f"/goals/{goal.pk}", {"weight": 20.0})

    assert response.status_code == 200, response.json()
    assert response.json()["weight"] == 20


def test_goal_list_field_selection_selects_in_sql_and_keeps_the_cursor(
    api, employee, django_assert_num_queries
):
    from goals.tests.factories import GoalFactory

    goals = GoalFactory.create_batch(3, owner=employee)
    api.get(employee, "/me")  # warm auth: the list below is its one query
    with django_assert_num_queries(1) as captured:
        first = api.get(employee, "/goals", params={"fields": "title,id", "limit": 2}).json()
    assert [set(item) for item in first["items"]] == [{"id", "title"}] * 2
    assert '"target_data"' not in captured.captured_queries[0]["sql"]
    rest = api.get(
        employee, "/goals", params={"fields": "title", "cursor": first["next_cursor"]}
    ).json()
    assert [item["title"] for item in first["items"] + rest["items"]] == [
        g.title for g in reversed(goals)
    ]
    everything = api.get(employee, "/goals").json()["items"][0]
    assert len(everything) == 13  # all fields without `fields`

    unknown = api.get(employee, "/goals", params={"fields": "title,password"})
    assert unknown.status_code == 422
    assert unknown.json()["details"][0]["loc"] == ["query", "fields"]
