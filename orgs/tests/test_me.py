from orgs.tests.factories import MembershipFactory


def test_org_me_returns_the_callers_member_item_and_org(api, employee, manager):
    response = api.get(employee, "/me")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == employee.pk
    assert body["user_id"] == employee.user_id
    assert body["email"] == employee.user.email
    assert body["role"] == "employee"
    assert body["supervisor_id"] == manager.pk
    assert body["org"] == {"slug": "acme-test", "name": "Acme Test"}
    assert "password" not in response.content.decode()


def test_a_warm_org_request_costs_no_sql(api, employee, django_assert_num_queries):
    api.get(employee, "/me")  # cold: fills the token, org and member caches
    # warm: auth and tenant resolution come from one Redis MGET
    with django_assert_num_queries(0):
        response = api.get(employee, "/me")
    assert response.status_code == 200
    assert 'desc="1 calls"' in response["Server-Timing"]


def test_a_member_of_another_org_gets_the_same_404_as_an_unknown_slug(api, employee, outsider):
    foreign = api.get(employee.user, f"/api/org/{outsider.org.slug}/me")
    unknown = api.get(employee.user, "/api/org/no-such-org/me")

    assert foreign.status_code == unknown.status_code == 404
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    assert strip(foreign.json()) == strip(unknown.json())


def test_auth_me_returns_the_user_and_active_memberships_without_the_password(
    api, employee, outsider
):
    MembershipFactory(org=outsider.org, user=employee.user, role="manager")
    user = employee.user

    response = api.get(user, "/api/auth/me")

    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "is_superuser": False,
        "memberships": [
            {
                "member_id": employee.pk,
                "org_slug": "acme-test",
                "org_name": "Acme Test",
                "role": "employee",
            },
            {
                "member_id": user.memberships.get(org=outsider.org).pk,
                "org_slug": "globex-test",
                "org_name": "Globex Test",
                "role": "manager",
            },
        ],
    }
    text = response.content.decode()
    assert "password" not in text
    assert user.password not in text


def test_a_warm_auth_me_costs_no_sql_and_follows_every_change(
    api, employee, outsider, django_assert_num_queries, django_capture_on_commit_callbacks
):
    user = employee.user
    api.get(user, "/api/auth/me")  # cold: user and memberships, then cached
    with django_assert_num_queries(0):
        warm = api.get(user, "/api/auth/me")
    assert [m["org_slug"] for m in warm.json()["memberships"]] == ["acme-test"]

    with django_capture_on_commit_callbacks(execute=True):  # joins another org
        MembershipFactory(org=outsider.org, user=user, role="manager")
    assert [m["org_slug"] for m in api.get(user, "/api/auth/me").json()["memberships"]] == [
        "acme-test",
        "globex-test",
    ]

    with django_capture_on_commit_callbacks(execute=True):  # the org is renamed
        employee.org.name = "Acme Renamed"
        employee.org.save()
    names = [m["org_name"] for m in api.get(user, "/api/auth/me").json()["memberships"]]
    assert names[0] == "Acme Renamed"

    with django_capture_on_commit_callbacks(execute=True):  # deactivated in one org
        employee.is_active = False
        employee.save()
    assert [m["org_slug"] for m in api.get(user, "/api/auth/me").json()["memberships"]] == [
        "globex-test"
    ]
