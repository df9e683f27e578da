from orgs.audit import record_change
from orgs.models import AuditEvent
from orgs.tests.factories import MembershipFactory


def _event(member, *, entity_type="membership", entity_id=1, action="member.update"):
    record_change(
        org=member.org,
        actor=member,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes={"title": ["a", "b"]},
    )
    return AuditEvent.objects.filter(org=member.org).latest("id")


def test_admin_reads_the_audit_log_newest_first(api, admin, outsider):
    first = _event(admin, entity_id=1)
    second = _event(admin, entity_id=2)
    _event(outsider, entity_id=3)  # another org

    response = api.get(admin, "/audit")

    assert response.status_code == 200
    body = response.json()
    assert [e["id"] for e in body["items"]] == [second.pk, first.pk]
    assert set(body["items"][0]) == {
        "id", "actor_id", "staff_actor", "action", "entity_type", "entity_id", "changes",
        "request_id", "created_at",
    }  # fmt: skip
    assert body["items"][0]["staff_actor"] is None  # a member's own action
    assert body["items"][0]["changes"] == {"title": ["a", "b"]}
    assert body["next_cursor"] is None


def test_writes_through_the_api_record_their_request_id(api, admin, employee):
    response = api.patch(admin, f"/members/{employee.pk}", {"title": "Staff"})

    event = api.get(admin, "/audit", params={"entity_id": employee.pk}).json()["items"][0]
    assert event["request_id"] == response["X-Request-ID"]
    assert event["actor_id"] == admin.pk
    assert event["changes"] == {"title": [employee.title, "Staff"]}


def test_filters_by_entity_and_actor(api, admin, manager):
    wanted = _event(admin, entity_type="department", entity_id=7)
    _event(admin, entity_type="membership", entity_id=7)
    by_manager = _event(manager, entity_type="department", entity_id=8)

    by_entity = api.get(admin, "/audit", params={"entity_type": "department", "entity_id": 7})
    by_actor = api.get(admin, "/audit", params={"actor_id": manager.pk})

    assert [e["id"] for e in by_entity.json()["items"]] == [wanted.pk]
    assert [e["id"] for e in by_actor.json()["items"]] == [by_manager.pk]


def test_an_actor_of_another_org_as_filter_gives_an_empty_page(api, admin, outsider):
    _event(outsider)

    response = api.get(admin, "/audit", params={"actor_id": outsider.pk})

    assert response.json() == {"items": [], "next_cursor": None}


def test_managers_and_employees_get_403(api, manager, employee):
    assert api.get(manager, "/audit").status_code == 403
    assert api.get(employee, "/audit").status_code == 403


def test_an_outsider_gets_404(api, admin, outsider):
    assert api.get(outsider.user, f"/api/org/{admin.org.slug}/audit").status_code == 404


def test_pages_walk_every_event_once(api, admin):
    for i in range(7):
        _event(admin, entity_id=i)
    seen: list[int] = []
    params = {"limit": 2}
    while True:
        body = api.get(admin, "/audit", params=params).json()
        seen += [e["id"] for e in body["items"]]
        if not body["next_cursor"]:
            break
        params["cursor"] = body["next_cursor"]

    assert len(seen) == len(set(seen)) == 7


def test_limit_and_cursor_are_validated(api, admin):
    assert api.get(admin, "/audit", params={"limit": 201}).status_code == 422
    response = api.get(admin, "/audit", params={"cursor": "WyJub3QgYSBkYXRlIiwgMV0"})
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["query", "cursor"]


def test_audit_list_costs_one_query_for_5_and_50_events(api, org, admin, django_assert_num_queries):
    other = MembershipFactory(org=org)
    for i in range(5):
        _event(other, entity_id=i)
    # One token for every call: a token minted in a later second is a new cache key.
    token = api.token_for(admin.user)
    api.get(admin, "/me", token=token)  # warm the auth caches
    # 1: the page of events
    with django_assert_num_queries(1):
        small = api.get(admin, "/audit", params={"limit": 200}, token=token)
    for i in range(45):
        _event(other, entity_id=i)
    # 1: the page of events
    with django_assert_num_queries(1):
        large = api.get(admin, "/audit", params={"limit": 200}, token=token)
    assert len(small.json()["items"]) == 5
    assert len(large.json()["items"]) == 50
