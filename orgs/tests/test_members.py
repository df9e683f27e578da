import pytest

from orgs.cache import org_version_get_or_init, org_versions_bump
from orgs.models import AuditEvent, Membership
from orgs.tests.factories import DepartmentFactory, MembershipFactory
from users.tests.factories import UserFactory


def _member(org, **kwargs):
    return MembershipFactory(org=org, **kwargs)


# --- GET /members ----------------------------------------------------------------------------


def test_admin_lists_the_org_members_with_a_count(api, admin, manager, employee, outsider):
    response = api.get(admin, "/members")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["next_cursor"] is None
    assert {item["id"] for item in body["items"]} == {admin.pk, manager.pk, employee.pk}
    item = next(i for i in body["items"] if i["id"] == employee.pk)
    assert set(item) == {
        "id", "user_id", "email", "full_name", "role", "department_id",
        "supervisor_id", "title", "is_active", "created_at",
    }  # fmt: skip
    assert item["supervisor_id"] == manager.pk
    assert item["email"] == employee.user.email
    assert "password" not in response.content.decode()


def test_a_manager_reads_the_whole_directory(api, admin, manager, employee):
    response = api.get(manager, "/members")

    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_an_employee_gets_403(api, employee):
    response = api.get(employee, "/members")

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_an_outsider_gets_404_on_every_members_endpoint(api, admin, employee, outsider):
    slug = admin.org.slug
    calls = [
        ("GET", f"/api/org/{slug}/members", None),
        ("POST", f"/api/org/{slug}/members/bulk", {"members": []}),
        ("PATCH", f"/api/org/{slug}/members/{employee.pk}", {"title": "x"}),
    ]
    for method, path, data in calls:
        response = api.request(method, outsider.user, path, data)
        assert response.status_code == 404, (method, path)


def test_filters_by_role_activity_and_department(api, org, admin, manager, employee, department):
    other_department = DepartmentFactory(org=org, name="Sales")
    seller = _member(org, department=other_department)
    _member(org, is_active=False)

    by_role = api.get(admin, "/members", params={"role": "manager"}).json()
    inactive = api.get(admin, "/members", params={"is_active": "false"}).json()
    in_sales = api.get(admin, "/members", params={"department_id": other_department.pk}).json()

    assert [i["id"] for i in by_role["items"]] == [manager.pk]
    assert by_role["count"] == 1
    assert inactive["count"] == 1
    assert [i["id"] for i in in_sales["items"]] == [seller.pk]


def test_a_department_of_another_org_as_filter_gives_an_empty_page(api, admin, other_org):
    foreign = DepartmentFactory(org=other_org)

    response = api.get(admin, "/members", params={"department_id": foreign.pk})

    assert response.status_code == 200
    assert response.json() == {"items": [], "count": 0, "next_cursor": None}


def test_search_matches_name_or_email_ignoring_case(api, org, admin):
    ada = _member(org, user=UserFactory(email="ada@lovelace.example", full_name="Ada Lovelace"))
    grace = _member(org, user=UserFactory(email="grace@navy.example", full_name="Grace HOPPER"))

    by_name = api.get(admin, "/members", params={"search": "hopp"}).json()
    by_email = api.get(admin, "/members", params={"search": "LOVELACE.EX"}).json()
    wildcard = api.get(admin, "/members", params={"search": "%"}).json()

    assert [i["id"] for i in by_name["items"]] == [grace.pk]
    assert [i["id"] for i in by_email["items"]] == [ada.pk]
    assert wildcard["count"] == 0  # LIKE wildcards are escaped


def test_sorts_by_full_name_both_ways(api, org, admin):
    for name in ("Charlie", "alice", "Bob"):
        _member(org, user=UserFactory(full_name=name))

    asc = api.get(admin, "/members", params={"sort_by": "full_name", "sort_order": "asc"})
    desc = api.get(admin, "/members", params={"sort_by": "full_name", "sort_order": "desc"})

    asc_names = [i["full_name"] for i in asc.json()["items"]]
    assert [i["full_name"] for i in desc.json()["items"]] == asc_names[::-1]


def test_offset_pagination_with_count(api, org, admin):
    for _ in range(4):
        _member(org)

    first = api.get(admin, "/members", params={"limit": 2, "sort_by": "email"}).json()
    second = api.get(admin, "/members", params={"limit": 2, "offset": 2, "sort_by": "email"})
    past_end = api.get(admin, "/members", params={"limit": 2, "offset": 10}).json()

    assert first["count"] == second.json()["count"] == past_end["count"] == 5
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second.json()["items"]}
    assert past_end["items"] == []


def test_cursor_walks_every_member_once_for_each_sort(api, org, admin):
    for _ in range(11):
        _member(org)
    expected = set(Membership.objects.filter(org=org).values_list("pk", flat=True))
    for sort_by in ("created_at", "full_name", "email"):
        for sort_order in ("asc", "desc"):
            seen: list[int] = []
            params = {"limit": 3, "sort_by": sort_by, "sort_order": sort_order}
            while True:
                body = api.get(admin, "/members", params=params).json()
                assert body["count"] == 12
                seen += [item["id"] for item in body["items"]]
                if not body["next_cursor"]:
                    break
                params["cursor"] = body["next_cursor"]
            assert len(seen) == len(set(seen)) == 12, (sort_by, sort_order)
            assert set(seen) == expected


def test_limit_above_200_is_422_on_query_limit(api, admin):
    response = api.get(admin, "/members", params={"limit": 201})

    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["query", "limit"]


def test_an_invalid_cursor_is_422(api, admin):
    for cursor in ("not-a-cursor", "WyJ4Il0", "WyJ4IiwgIngiXQ"):
        response = api.get(admin, "/members", params={"cursor": cursor})
        assert response.status_code == 422, cursor
        assert response.json()["details"][0]["loc"] == ["query", "cursor"]


def test_members_list_costs_one_query_for_5_and_50_members(
    api, org, admin, django_assert_num_queries
):
    for _ in range(4):
        _member(org)
    # One token for every call: a token minted in a later second is a new cache key.
    token = api.token_for(admin.user)
    api.get(admin, "/me", token=token)  # warm the token, org and member caches
    # 1: the page joined to users, with the filtered count as a scalar subquery
    with django_assert_num_queries(1):
        small = api.get(admin, "/members", params={"search": "e", "limit": 200}, token=token)
    for _ in range(45):
        _member(org)
    org_versions_bump({org.id})  # factory rows skip the services, which bump the version
    # 1: the page joined to users, with the filtered count as a scalar subquery
    with django_assert_num_queries(1):
        large = api.get(admin, "/members", params={"search": "e", "limit": 200}, token=token)
    assert small.status_code == large.status_code == 200
    assert len(large.json()["items"]) == large.json()["count"] >= len(small.json()["items"])


def test_the_count_is_cached_per_org_version_and_filters(
    api, org, admin, employee, django_assert_num_queries, django_capture_on_commit_callbacks
):
    for _ in range(3):
        _member(org, role="employee")
    org_versions_bump({org.id})
    token = api.token_for(admin.user)
    first = api.get(admin, "/members", params={"role": "employee", "limit": 2}, token=token)
    # 1: the page alone (the count comes from the cache, so no count subquery in it)
    with django_assert_num_queries(1) as captured:
        again = api.get(admin, "/members", params={"role": "employee", "limit": 2}, token=token)
    assert "COUNT" not in captured.captured_queries[0]["sql"].upper()
    assert first.json()["count"] == again.json()["count"] == 4
    # ... and from this process's memo (core.memo): the auth MGET is the only Redis round trip.
    assert "cache;dur=" in again["Server-Timing"] and 'desc="1 calls"' in again["Server-Timing"]
    other = api.get(admin, "/members", params={"role": "admin"}, token=token)
    assert other.json()["count"] == 1  # other filters, another entry

    # A write through the API bumps the version (on commit): the next count is fresh.
    with django_capture_on_commit_callbacks(execute=True):
        patched = api.patch(admin, f"/members/{employee.pk}", {"is_active": False}, token=token)
    assert patched.status_code == 200
    active = api.get(admin, "/members", params={"role": "employee", "is_active": True}, token=token)
    everyone = api.get(admin, "/members", params={"role": "employee"}, token=token)
    assert active.json()["count"] == 3
    assert everyone.json()["count"] == 4


# --- PATCH /members/{id} ----------------------------------------------------------------------


def test_admin_changes_role_department_supervisor_and_title(api, org, admin, employee, manager):
    sales = DepartmentFactory(org=org, name="Sales")

    response = api.patch(
        admin,
        f"/members/{employee.pk}",
        {"role": "manager", "department_id": sales.pk, "supervisor_id": admin.pk, "title": "Lead"},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["role"], body["department_id"], body["supervisor_id"], body["title"]) == (
        "manager", sales.pk, admin.pk, "Lead",
    )  # fmt: skip
    event = AuditEvent.objects.get(entity_type="membership", entity_id=employee.pk)
    assert event.action == "member.update"
    assert event.actor_id == admin.pk
    assert event.changes["supervisor_id"] == [manager.pk, admin.pk]


def test_an_explicit_null_clears_the_supervisor(api, admin, employee):
    response = api.patch(admin, f"/members/{employee.pk}", {"supervisor_id": None})

    assert response.status_code == 200
    assert response.json()["supervisor_id"] is None


def test_patch_rejects_a_foreign_or_own_supervisor_and_foreign_department(
    api, admin, employee, outsider, other_org
):
    foreign_department = DepartmentFactory(org=other_org)
    cases = [
        ({"supervisor_id": outsider.pk}, ["body", "supervisor_id"]),
        ({"supervisor_id": employee.pk}, ["body", "supervisor_id"]),
        ({"department_id": foreign_department.pk}, ["body", "department_id"]),
        ({"role": "owner"}, ["body", "role"]),
        ({"role": None}, ["body", "role"]),
        ({"org_id": 1}, ["body", "org_id"]),
    ]
    for data, loc in cases:
        response = api.patch(admin, f"/members/{employee.pk}", data)
        assert response.status_code == 422, data
        assert response.json()["details"][0]["loc"] == loc, data


def test_patch_rejects_a_deactivated_supervisor(api, org, admin, employee):
    gone = _member(org, is_active=False)
    response = api.patch(admin, f"/members/{employee.pk}", {"supervisor_id": gone.pk})
    assert response.status_code == 422
    assert response.json()["details"] == [
        {
            "loc": ["body", "supervisor_id"],
            "msg": "This member is deactivated and cannot supervise.",
        },
    ]
    active = api.patch(admin, f"/members/{employee.pk}", {"supervisor_id": admin.pk})
    assert active.status_code == 200


def test_patch_rejects_a_supervisor_loop(api, org, admin, manager, employee):
    # employee reports to manager; making the manager report to the employee closes a loop
    direct = api.patch(admin, f"/members/{manager.pk}", {"supervisor_id": employee.pk})
    grandchild = _member(org, supervisor=employee)
    indirect = api.patch(admin, f"/members/{manager.pk}", {"supervisor_id": grandchild.pk})

    for response in (direct, indirect):
        assert response.status_code == 422
        assert response.json()["details"][0]["loc"] == ["body", "supervisor_id"]
    assert (
        api.patch(admin, f"/members/{employee.pk}", {"supervisor_id": admin.pk}).status_code == 200
    )


def test_patch_of_an_unknown_or_foreign_member_is_404(api, admin, outsider):
    assert api.patch(admin, f"/members/{outsider.pk}", {"title": "x"}).status_code == 404
    assert api.patch(admin, "/members/999999", {"title": "x"}).status_code == 404


def test_only_admins_patch_members(api, manager, employee):
    assert api.patch(manager, f"/members/{employee.pk}", {"title": "x"}).status_code == 403
    assert api.patch(employee, f"/members/{employee.pk}", {"title": "x"}).status_code == 403


def test_a_deactivated_member_gets_404_on_the_next_request(
    api, admin, employee, django_capture_on_commit_callbacks
):
    assert api.get(employee, "/me").status_code == 200  # cached as active

    # cache invalidation runs on commit; the test transaction never commits, so run them
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(admin, f"/members/{employee.pk}", {"is_active": False})

    assert response.status_code == 200
    assert api.get(employee, "/me").status_code == 404


@pytest.mark.parametrize("change", [{"role": "manager"}, {"is_active": False}])
def test_the_last_active_admin_cannot_be_demoted_or_deactivated(api, admin, change):
    response = api.patch(admin, f"/members/{admin.pk}", change)
    assert response.status_code == 409
    assert response.json()["message"] == "The organization must keep at least one active admin."
    admin.refresh_from_db()
    assert admin.role == Membership.Role.ADMIN and admin.is_active
    assert not AuditEvent.objects.filter(org=admin.org, action="member.update").exists()


def test_an_admin_can_be_demoted_while_another_active_admin_remains(api, org, admin):
    second = _member(org, role=Membership.Role.ADMIN)
    assert api.patch(admin, f"/members/{second.pk}", {"role": "manager"}).status_code == 200
    assert api.patch(admin, f"/members/{admin.pk}", {"role": "manager"}).status_code == 409
    _member(org, role=Membership.Role.ADMIN, is_active=False)  # an inactive admin does not count
    assert api.patch(admin, f"/members/{admin.pk}", {"is_active": False}).status_code == 409


def test_a_patch_bumps_the_org_data_version(
    api, admin, employee, django_capture_on_commit_callbacks
):
    before = org_version_get_or_init(admin.org_id)
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(admin, f"/members/{employee.pk}", {"title": "Staff"})

    assert org_version_get_or_init(admin.org_id) > before


def test_patch_costs_the_same_whatever_the_org_size(
    api, org, admin, employee, manager, django_assert_num_queries
):
    # One token for every call: a token minted in a later second is a new cache key.
    token = api.token_for(admin.user)
    api.get(admin, "/me", token=token)  # warm the auth caches
    # savepoint, member FOR UPDATE (+ user), department exists, supervisor's chain (exists,
    # no loop: one recursive query),
    # UPDATE member, INSERT audit event, release savepoint
    with django_assert_num_queries(7):
        first = api.patch(
            admin,
            f"/members/{employee.pk}",
            {"department_id": employee.department_id, "supervisor_id": admin.pk, "title": "A"},
            token=token,
        )
    for _ in range(45):
        _member(org)
    with django_assert_num_queries(7):
        second = api.patch(
            admin,
            f"/members/{employee.pk}",
            {"department_id": employee.department_id, "supervisor_id": manager.pk, "title": "B"},
            token=token,
        )
    assert first.status_code == second.status_code == 200


@pytest.mark.parametrize("is_active", [0, "false"])
def test_patch_is_active_must_be_a_json_boolean(api, admin, employee, is_active):
    response = api.patch(admin, f"/members/{employee.pk}", {"is_active": is_active})

    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["body", "is_active"]
    employee.refresh_from_db()
    assert employee.is_active


def test_member_and_audit_field_selection(api, admin, employee, django_assert_num_queries):
    api.get(admin, "/me")  # warm auth: each list below is one query
    with django_assert_num_queries(1) as captured:
        members = api.get(admin, "/members", params={"fields": "email,id", "limit": 1}).json()
    assert [set(item) for item in members["items"]] == [{"id", "email"}]
    assert members["count"] == 3 and members["next_cursor"]
    assert '"title"' not in captured.captured_queries[0]["sql"]
    rest = api.get(
        admin, "/members", params={"fields": "email", "cursor": members["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 2 and all(set(i) == {"email"} for i in rest["items"])

    api.patch(admin, f"/members/{employee.pk}", {"title": "Lead"})
    with django_assert_num_queries(1):
        audit = api.get(admin, "/audit", params={"fields": "action,staff_actor"}).json()
    assert audit["items"] == [{"action": "member.update", "staff_actor": None}]

    for path in ("/members", "/audit"):
        bad = api.get(admin, path, params={"fields": "id,password_hash"})
        assert bad.status_code == 422
        assert bad.json()["details"][0]["loc"] == ["query", "fields"]
