import pytest

from goals.tests.factories import CompetencyFactory, CoreValueFactory

BODY = {"name": "Ownership", "description": "Takes responsibility"}


@pytest.mark.parametrize("path", ["/competencies", "/core-values"])
def test_admin_creates_catalog_entries(api, admin, path):
    response = api.post(admin, path, BODY)

    assert response.status_code == 201
    assert set(response.json()) == {"id", "name", "description", "is_active", "created_at"}
    assert response.json()["is_active"] is True


@pytest.mark.parametrize("path", ["/competencies", "/core-values"])
def test_duplicate_catalog_name_is_409(api, admin, path):
    api.post(admin, path, BODY)
    assert api.post(admin, path, BODY).status_code == 409


@pytest.mark.parametrize("path", ["/competencies", "/core-values"])
@pytest.mark.parametrize("role", ["manager", "employee"])
def test_non_admins_read_but_do_not_write_catalogs(api, request, path, role):
    member = request.getfixturevalue(role)
    assert api.post(member, path, BODY).status_code == 403
    assert api.get(member, path).status_code == 200


@pytest.mark.parametrize("path", ["/competencies", "/core-values"])
def test_catalog_input_forbids_extra_fields(api, admin, path):
    response = api.post(admin, path, {**BODY, "org_id": 3})
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["body", "org_id"]


@pytest.mark.parametrize("path", ["/competencies", "/core-values"])
def test_outsider_gets_404_on_catalogs(api, outsider, org, path):
    outsider.org = org
    assert api.get(outsider, path).status_code == 404
    assert api.post(outsider, path, BODY).status_code == 404


@pytest.mark.parametrize(
    ("path", "factory"), [("/competencies", CompetencyFactory), ("/core-values", CoreValueFactory)]
)
def test_catalog_lists_are_org_scoped_and_cost_one_query_at_any_size(
    api, admin, other_org, path, factory, django_assert_num_queries
):
    factory(org=other_org)
    api.get(admin, "/me")  # warm the auth cache
    for n in (3, 27):
        factory.create_batch(n, org=admin.org)
        # 1 keyset SELECT of the catalog
        with django_assert_num_queries(1):
            response = api.get(admin, path, params={"limit": 200})
        assert len(response.json()["items"]) == (3 if n == 3 else 31)
        # SAVEPOINT, SAVEPOINT, INSERT entry, RELEASE, INSERT audit event, RELEASE
        with django_assert_num_queries(6):
            assert api.post(admin, path, {"name": f"new {n}"}).status_code == 201
    items = api.get(admin, path, params={"limit": 200}).json()["items"]
    assert len(items) == 32


@pytest.mark.parametrize("path", ["/competencies", "/core-values"])
@pytest.mark.parametrize("is_active", [0, 1, "false"])
def test_is_active_must_be_a_json_boolean(api, admin, path, is_active):
    # Pydantic's lax mode took 0 as false: the document says `boolean`.
    response = api.post(admin, path, {**BODY, "is_active": is_active})

    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["body", "is_active"]
