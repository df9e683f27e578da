from orgs.models import AuditEvent, Department
from orgs.tests.factories import DepartmentFactory


def test_every_member_reads_the_departments_newest_first(
    api, org, admin, manager, employee, department
):
    newer = DepartmentFactory(org=org, name="Sales")

    for actor in (admin, manager, employee):
        response = api.get(actor, "/departments")
        assert response.status_code == 200
        body = response.json()
        assert [d["id"] for d in body["items"]] == [newer.pk, department.pk]
        assert set(body["items"][0]) == {"id", "name", "created_at"}
        assert body["next_cursor"] is None


def test_departments_of_another_org_are_not_listed(api, admin, other_org, department):
    DepartmentFactory(org=other_org, name="Hidden")

    names = [d["name"] for d in api.get(admin, "/departments").json()["items"]]

    assert names == ["Engineering"]


def test_admin_creates_a_department(api, admin):
    response = api.post(admin, "/departments", {"name": "Research"})

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Research"
    assert Department.objects.get(pk=body["id"]).org_id == admin.org_id
    event = AuditEvent.objects.get(entity_type="department", entity_id=body["id"])
    assert event.action == "department.create"


def test_a_duplicate_name_is_409(api, admin, department):
    created = api.post(admin, "/departments", {"name": "Engineering"})
    other = api.post(admin, "/departments", {"name": "Other"}).json()
    renamed = api.patch(admin, f"/departments/{other['id']}", {"name": "Engineering"})

    assert created.status_code == renamed.status_code == 409
    assert created.json()["error"] == "conflict"


def test_the_same_name_in_another_org_is_fine(api, admin, outsider):
    DepartmentFactory(org=outsider.org, name="Research")

    assert api.post(admin, "/departments", {"name": "Research"}).status_code == 201


def test_admin_renames_a_department(api, admin, department):
    response = api.patch(admin, f"/departments/{department.pk}", {"name": "R&D"})

    assert response.status_code == 200
    assert response.json()["name"] == "R&D"
    event = AuditEvent.objects.get(action="department.update", entity_id=department.pk)
    assert event.changes == {"name": ["Engineering", "R&D"]}


def test_renaming_a_foreign_or_unknown_department_is_404(api, admin, other_org):
    foreign = DepartmentFactory(org=other_org)

    assert api.patch(admin, f"/departments/{foreign.pk}", {"name": "x"}).status_code == 404
    assert api.patch(admin, "/departments/999999", {"name": "x"}).status_code == 404


def test_only_admins_write_departments(api, manager, employee, department):
    for actor in (manager, employee):
        assert api.post(actor, "/departments", {"name": "New"}).status_code == 403
        patch = api.patch(actor, f"/departments/{department.pk}", {"name": "New"})
        assert patch.status_code == 403


def test_invalid_department_input_is_422(api, admin):
    for data, loc in (({"name": ""}, ["body", "name"]), ({"name": "x", "org": 1}, ["body", "org"])):
        response = api.post(admin, "/departments", data)
        assert response.status_code == 422
        assert response.json()["details"][0]["loc"] == loc


def test_an_outsider_gets_404_on_every_department_endpoint(api, admin, department, outsider):
    base = f"/api/org/{admin.org.slug}"
    assert api.get(outsider.user, f"{base}/departments").status_code == 404
    assert api.post(outsider.user, f"{base}/departments", {"name": "x"}).status_code == 404
    patch = api.patch(outsider.user, f"{base}/departments/{department.pk}", {"name": "x"})
    assert patch.status_code == 404


def test_department_pages_walk_every_row_once(api, org, admin, department):
    for i in range(6):
        DepartmentFactory(org=org, name=f"D{i}")
    seen: list[int] = []
    params = {"limit": 3}
    while True:
        body = api.get(admin, "/departments", params=params).json()
        seen += [d["id"] for d in body["items"]]
        if not body["next_cursor"]:
            break
        params["cursor"] = body["next_cursor"]

    assert len(seen) == len(set(seen)) == 7


def test_department_list_limits_and_cursor_are_validated(api, admin):
    too_many = api.get(admin, "/departments", params={"limit": 201})
    bad_cursor = api.get(admin, "/departments", params={"cursor": "nope"})

    assert too_many.status_code == bad_cursor.status_code == 422
    assert too_many.json()["details"][0]["loc"] == ["query", "limit"]
    assert bad_cursor.json()["details"][0]["loc"] == ["query", "cursor"]


def test_department_list_costs_one_query_for_5_and_50(api, org, admin, django_assert_num_queries):
    for i in range(4):
        DepartmentFactory(org=org, name=f"Small {i}")
    # One token for every call: a token minted in a later second is a new cache key.
    token = api.token_for(admin.user)
    api.get(admin, "/me", token=token)  # warm the auth caches
    # 1: the page of departments
    with django_assert_num_queries(1):
        small = api.get(admin, "/departments", params={"limit": 200}, token=token)
    for i in range(45):
        DepartmentFactory(org=org, name=f"Large {i}")
    # 1: the page of departments
    with django_assert_num_queries(1):
        large = api.get(admin, "/departments", params={"limit": 200}, token=token)
    assert len(small.json()["items"]) == 5
    assert len(large.json()["items"]) == 50
