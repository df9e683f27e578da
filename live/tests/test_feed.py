"""The change log and its feed (DESIGN.md §10): appended with every write, in seq order, each
change once, to exactly the members who could read the entity."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from goals.models import Goal
from goals.tests.factories import GoalFactory
from live.selectors import RESYNC_REQUIRED
from orgs.models import AuditEvent, Change
from orgs.tests.factories import MembershipFactory

PERFORMANCE = {
    "type": "performance",
    "metric": "NPS",
    "target": 50,
    "unit": "points",
    "direction": "increase",
}


def _goal(api, member, period, title="Grow"):
    body = {
        "period_id": period.pk,
        "category": "performance",
        "title": title,
        "weight": 10,
        "target_data": PERFORMANCE,
    }
    response = api.post(member, "/goals", body)
    assert response.status_code == 201, response.content
    return response.json()


def _feed(api, member, after=None, limit=None):
    params = {}
    if after is not None:
        params["after"] = after
    if limit is not None:
        params["limit"] = limit
    response = api.get(member, "/changes", params=params)
    assert response.status_code == 200, response.content
    return response.json()


def test_every_write_appends_one_change_with_its_audit_event(
    api, employee, period, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        goal = _goal(api, employee, period)
        api.patch(employee, f"/goals/{goal['id']}", {"title": "Grow more", "weight": 20})
        api.post(employee, f"/goals/{goal['id']}/submit")

    changes = list(Change.objects.filter(org=employee.org).order_by("seq"))
    assert [(c.seq, c.type, c.entity_type, c.entity_id) for c in changes] == [
        (1, "goal.created", "goal", goal["id"]),
        (2, "goal.updated", "goal", goal["id"]),
        (3, "goal.submitted", "goal", goal["id"]),
    ]
    assert changes[1].fields == ["title", "weight"]
    assert {c.actor_id for c in changes} == {employee.pk}
    assert AuditEvent.objects.filter(org=employee.org).count() == 3
    employee.org.refresh_from_db()
    assert employee.org.change_seq == 3


def test_a_write_that_fails_appends_nothing(api, admin, department):
    duplicate = api.post(admin, "/departments", {"name": department.name})

    assert duplicate.status_code == 409
    assert not Change.objects.filter(org=admin.org).exists()
    admin.org.refresh_from_db()
    assert admin.org.change_seq == 0


def test_the_feed_resumes_after_a_position_each_change_once_in_order(
    api, admin, period, django_capture_on_commit_callbacks
):
    start = _feed(api, admin)
    assert start == {"items": [], "last_seq": 0}  # no `after`: from now
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            _goal(api, admin, period, title=f"G{n}")

    first = _feed(api, admin, after=0, limit=2)
    second = _feed(api, admin, after=first["last_seq"], limit=2)
    third = _feed(api, admin, after=second["last_seq"], limit=2)
    rest = _feed(api, admin, after=third["last_seq"])

    seqs = [item["seq"] for page in (first, second, third) for item in page["items"]]
    assert seqs == [1, 2, 3, 4, 5]
    assert third["last_seq"] == 5
    assert rest == {"items": [], "last_seq": 5}
    item = first["items"][0]
    assert set(item) == {"seq", "type", "entity_type", "entity_id", "actor_id", "fields", "at"}
    assert (item["type"], item["actor_id"]) == ("goal.created", admin.pk)


def test_each_member_receives_only_what_they_could_read(
    api, admin, manager, employee, period, outsider, django_capture_on_commit_callbacks
):
    other = MembershipFactory(org=admin.org, role="employee")  # reports to nobody
    with django_capture_on_commit_callbacks(execute=True):
        own = _goal(api, employee, period, "Employee's")
        others = _goal(api, other, period, "Other's")
        managers = _goal(api, manager, period, "Manager's")
        api.post(admin, "/departments", {"name": "Sales"})  # org-wide
        api.patch(admin, f"/members/{other.pk}", {"title": "Lead"})  # a member row

    def seen(member):
        return [(i["entity_type"], i["entity_id"]) for i in _feed(api, member, after=0)["items"]]

    department = ("department", admin.org.departments.get(name="Sales").pk)
    assert seen(employee) == [("goal", own["id"]), department]
    assert seen(other) == [("goal", others["id"]), department, ("membership", other.pk)]
    assert seen(manager) == [
        ("goal", own["id"]),
        ("goal", managers["id"]),
        department,
        ("membership", other.pk),
    ]
    assert len(seen(admin)) == 5
    outsider.org = admin.org  # this org's URL, as a non-member
    assert api.get(outsider, "/changes", params={"after": 0}).status_code == 404


def test_another_orgs_changes_never_appear(
    api, admin, outsider, period, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _goal(api, admin, period)

    assert _feed(api, outsider, after=0) == {"items": [], "last_seq": 0}


def test_a_draft_feedback_reaches_reviewers_but_not_the_owner_until_published(
    api, manager, employee, period, django_capture_on_commit_callbacks
):
    goal = GoalFactory(owner=employee, status=Goal.Status.APPROVED)
    with django_capture_on_commit_callbacks(execute=True):
        draft = api.put(manager, f"/goals/{goal.pk}/feedback", {"rating": 4, "status": "draft"})
        assert draft.status_code == 200, draft.content
        published = api.put(
            manager, f"/goals/{goal.pk}/feedback", {"rating": 4, "status": "published"}
        )
        assert published.status_code == 200, published.content

    def types(member):
        return [i["type"] for i in _feed(api, member, after=0)["items"]]

    assert types(manager) == ["feedback.saved", "feedback.published"]
    assert types(employee) == ["feedback.published"]
    items = _feed(api, employee, after=0)["items"]
    assert (items[0]["entity_type"], items[0]["entity_id"]) == ("feedback", goal.pk)


def test_a_position_older_than_the_retention_or_ahead_of_the_head_is_410(
    api, admin, period, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            _goal(api, admin, period, title=f"G{n}")
    Change.objects.filter(org=admin.org, seq__lte=2).update(
        at=timezone.now() - datetime.timedelta(days=31)
    )
    call_command("prune_changes", stdout=open("/dev/null", "w"))  # noqa: SIM115

    behind = api.get(admin, "/changes", params={"after": 1})
    ahead = api.get(admin, "/changes", params={"after": 99})

    for response in (behind, ahead):
        assert response.status_code == 410
        body = response.json()
        assert (body["error"], body["message"]) == ("resync_required", RESYNC_REQUIRED)
    assert [i["seq"] for i in _feed(api, admin, after=2)["items"]] == [3]


def test_invalid_feed_parameters_are_422(api, admin):
    for params, loc in [
        ({"after": -1}, "after"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
    ]:
        response = api.get(admin, "/changes", params=params)
        assert response.status_code == 422
        assert response.json()["details"][0]["loc"] == ["query", loc]


def test_nothing_changed_costs_no_sql_and_the_feed_costs_the_same_at_two_sizes(
    api, admin, period, django_assert_num_queries, django_capture_on_commit_callbacks
):
    for size in (2, 20):
        with django_capture_on_commit_callbacks(execute=True):
            for n in range(size):
                _goal(api, admin, period, title=f"S{size}-{n}")
        head = _feed(api, admin)["last_seq"]
        # warm auth and tenancy (one MGET); the head is in it: nothing to read
        with django_assert_num_queries(0):
            assert _feed(api, admin, after=head)["items"] == []
        # 1 the org's head and pruned mark, 2 one page of visible changes
        with django_assert_num_queries(2):
            assert len(_feed(api, admin, after=0, limit=50)["items"]) == min(head, 50)


def test_reads_carry_the_change_seq_their_data_reflects(
    api, employee, period, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _goal(api, employee, period)
    for path in ("/goals", "/periods", "/evaluation/goal-list-page"):
        response = api.get(employee, path)
        assert response.status_code == 200
        assert response["X-Change-Seq"] == "1", path

    page = api.get(employee, "/evaluation/goal-list-page")
    again = api.get(employee, "/evaluation/goal-list-page", HTTP_IF_NONE_MATCH=page["ETag"])
    assert again.status_code == 304
    assert again["X-Change-Seq"] == "1"

    with django_capture_on_commit_callbacks(execute=True):
        _goal(api, employee, period, title="Second")
    assert api.get(employee, "/goals")["X-Change-Seq"] == "2"


@pytest.mark.parametrize("method", ["post", "patch"])
def test_writes_do_not_carry_a_change_seq(api, admin, method):
    response = getattr(api, method)(admin, "/departments", {"name": "X"})
    assert "X-Change-Seq" not in response


def test_the_row_rule_and_the_query_rule_agree_on_every_kind_of_change(
    admin, manager, employee, outsider
):
    """live.permissions has the rule twice: as a Q (the feed, the replay) and row by row (live
    messages). Every combination of owner, entity and flag gets the same answer from both."""
    from live.permissions import change_visibility_q, change_visible

    other = MembershipFactory(org=admin.org, role="employee")
    owners = [None, admin, manager, employee, other]
    rows = []
    for entity_type in ("goal", "feedback", "membership", "department"):
        for owner in owners:
            for reviewers_only in (False, True):
                rows.append(
                    Change(
                        org=admin.org,
                        seq=len(rows) + 1,
                        type=f"{entity_type}.updated",
                        entity_type=entity_type,
                        entity_id=1,
                        owner=owner,
                        reviewers_only=reviewers_only,
                    )
                )
    Change.objects.bulk_create(rows)
    items = [
        {
            "seq": row.seq,
            "entity_type": row.entity_type,
            "owner_id": row.owner_id,
            "owner_supervisor_id": row.owner.supervisor_id if row.owner else None,
            "reviewers_only": row.reviewers_only,
        }
        for row in rows
    ]
    for actor in (admin, manager, employee, other):
        by_query = set(
            Change.objects.filter(org=admin.org)
            .filter(change_visibility_q(actor))
            .values_list("seq", flat=True)
        )
        by_row = {item["seq"] for item in items if change_visible(actor, item)}
        assert by_query == by_row, actor.role
        assert by_query  # everyone sees something (org-wide rows at least)


def test_field_selection_returns_only_the_named_keys_at_the_same_cost(
    api, admin, period, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _goal(api, admin, period)
    api.get(admin, "/me")  # warm auth

    # 1 the org's head and pruned mark, 2 one page of visible changes (two columns of it)
    with django_assert_num_queries(2) as captured:
        body = api.get(admin, "/changes", params={"after": 0, "fields": "type,seq"}).json()
    assert body["items"] == [{"seq": 1, "type": "goal.created"}]
    assert '"orgs_change"."fields"' not in captured.captured_queries[-1]["sql"]

    for bad in ("type,nope", "", ",", "SEQ"):
        response = api.get(admin, "/changes", params={"after": 0, "fields": bad})
        assert response.status_code == 422, bad
        assert response.json()["details"][0]["loc"] == ["query", "fields"]


def test_the_openapi_document_describes_field_selection(api):
    document = api.client.get("/api/openapi.json").json()
    operation = document["paths"]["/api/org/{org_slug}/changes"]["get"]
    (fields,) = [p for p in operation["parameters"] if p["name"] == "fields"]
    assert "seq" in fields["description"] and "fields" in fields["description"]
    item = document["components"]["schemas"]["ChangeOut"]
    assert "required" not in item  # a selected item may lack any key


def test_health_reports_the_channel_layer(api):
    body = api.get(None, "/health").json()
    assert body["checks"]["channel_layer"]["status"] == "ok"
    assert body["checks"]["channel_layer"]["backend"] == "RedisPubSubChannelLayer"
