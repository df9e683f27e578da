import pytest

from orgs.models import AuditEvent, Membership
from orgs.tests.factories import DepartmentFactory, MembershipFactory
from users.models import User
from users.tests.factories import UserFactory


def _counts():
    return (User.objects.count(), Membership.objects.count(), AuditEvent.objects.count())


def _rows(n, *, prefix="new", **extra):
    return [
        {"email": f"{prefix}{i}@bulk.example", "full_name": f"New {i}", "role": "employee", **extra}
        for i in range(n)
    ]


def test_admin_creates_members_with_new_users(api, admin, department):
    rows = _rows(2, department_id=department.pk, title="Analyst")
    rows[0]["password"] = "s3cret-pass-word"

    response = api.post(admin, "/members/bulk", {"members": rows})

    assert response.status_code == 201
    items = response.json()["items"]
    assert [i["email"] for i in items] == ["new0@bulk.example", "new1@bulk.example"]
    assert all(i["department_id"] == department.pk and i["title"] == "Analyst" for i in items)
    assert User.objects.get(email="new0@bulk.example").check_password("s3cret-pass-word")
    assert not User.objects.get(email="new1@bulk.example").has_usable_password()
    events = AuditEvent.objects.filter(action="member.create", org=admin.org)
    assert {e.entity_id for e in events} == {i["id"] for i in items}
    assert all(e.actor_id == admin.pk for e in events)


def test_an_existing_user_joins_unchanged(api, admin, outsider):
    user = outsider.user
    password_hash = user.password

    response = api.post(
        admin,
        "/members/bulk",
        {
            "members": [
                {
                    "email": user.email.upper(),
                    "full_name": "Someone Else",
                    "role": "manager",
                    "password": "another-password",
                }
            ]
        },
    )

    assert response.status_code == 201
    item = response.json()["items"][0]
    assert item["user_id"] == user.pk
    assert item["full_name"] == user.full_name
    user.refresh_from_db()
    assert user.password == password_hash
    assert user.full_name != "Someone Else"


def test_supervisors_resolve_inside_the_batch_and_in_the_org(api, admin, manager):
    rows = [
        {"email": "boss@bulk.example", "full_name": "Boss", "role": "manager",
         "supervisor_email": manager.user.email},
        {"email": "worker@bulk.example", "full_name": "Worker", "role": "employee",
         "supervisor_email": "BOSS@bulk.example"},
    ]  # fmt: skip

    response = api.post(admin, "/members/bulk", {"members": rows})

    assert response.status_code == 201
    boss, worker = response.json()["items"]
    assert boss["supervisor_id"] == manager.pk
    assert worker["supervisor_id"] == boss["id"]
    assert Membership.objects.get(pk=worker["id"]).supervisor_id == boss["id"]


def test_an_email_already_in_the_org_is_409_and_nothing_is_written(api, admin, employee):
    rows = _rows(2)
    rows.append({"email": employee.user.email, "full_name": "X", "role": "employee"})
    before = _counts()

    response = api.post(admin, "/members/bulk", {"members": rows})

    assert response.status_code == 409
    assert response.json()["details"] == [
        {"loc": ["body", "members", 2, "email"], "msg": response.json()["details"][0]["msg"]}
    ]
    assert _counts() == before


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [
        (lambda rows, ctx: rows[1].update(email=rows[0]["email"].upper()), [1, "email"]),
        (lambda rows, ctx: rows[2].update(supervisor_email="ghost@x.example"),
         [2, "supervisor_email"]),
        (lambda rows, ctx: rows[2].update(supervisor_email=ctx["outsider"]),
         [2, "supervisor_email"]),
        (lambda rows, ctx: rows[0].update(supervisor_email=rows[0]["email"]),
         [0, "supervisor_email"]),
        (lambda rows, ctx: rows[1].update(department_id=ctx["foreign_department"]),
         [1, "department_id"]),
        (lambda rows, ctx: (rows[0].update(supervisor_email=rows[1]["email"]),
                            rows[1].update(supervisor_email=rows[0]["email"])),
         [0, "supervisor_email"]),
        (lambda rows, ctx: rows[1].update(role="owner"), [1, "role"]),
        (lambda rows, ctx: rows[1].update(email="not-an-email"), [1, "email"]),
        (lambda rows, ctx: rows[1].update(org_id=1), [1, "org_id"]),
    ],
)  # fmt: skip
def test_invalid_rows_are_422_with_their_loc_and_nothing_is_written(
    api, admin, outsider, other_org, mutate, loc
):
    ctx = {
        "outsider": outsider.user.email,
        "foreign_department": DepartmentFactory(org=other_org).pk,
    }
    rows = _rows(3)
    mutate(rows, ctx)
    before = _counts()

    response = api.post(admin, "/members/bulk", {"members": rows})

    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["body", "members", *loc]
    assert _counts() == before


def test_a_deactivated_supervisor_is_a_422_row_and_nothing_is_written(api, org, admin):
    gone = MembershipFactory(org=org, is_active=False)
    before = _counts()
    rows = _rows(2)
    rows[1]["supervisor_email"] = gone.user.email.upper()
    response = api.post(admin, "/members/bulk", {"members": rows})
    assert response.status_code == 422
    assert response.json()["details"] == [
        {
            "loc": ["body", "members", 1, "supervisor_email"],
            "msg": "This member is deactivated and cannot supervise.",
        }
    ]
    assert _counts() == before


def test_more_than_1000_rows_is_422(api, admin):
    response = api.post(admin, "/members/bulk", {"members": _rows(1001)})

    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["body", "members"]


def test_only_admins_bulk_create(api, manager, employee):
    for actor in (manager, employee):
        response = api.post(actor, "/members/bulk", {"members": _rows(1)})
        assert response.status_code == 403
    assert not User.objects.filter(email__endswith="@bulk.example").exists()


def test_new_members_can_use_the_org_at_once(api, admin, django_capture_on_commit_callbacks):
    user = UserFactory(email="late@bulk.example")
    member_stub = MembershipFactory.build(org=admin.org, user=user)
    # a request before joining caches "not a member"
    assert api.get(member_stub, "/me").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            admin,
            "/members/bulk",
            {"members": [{"email": user.email, "full_name": "Late", "role": "employee"}]},
        )

    assert response.status_code == 201
    assert api.get(member_stub, "/me").status_code == 200


def test_bulk_create_costs_the_same_for_5_and_50_rows(
    api, admin, department, django_assert_num_queries
):
    # One token for every call: a token minted in a later second is a new cache key.
    token = api.token_for(admin.user)
    api.get(admin, "/me", token=token)  # warm the auth caches

    def batch(prefix, n):
        rows = _rows(n, prefix=prefix, department_id=department.pk)
        rows[0]["supervisor_email"] = admin.user.email
        rows[-1]["supervisor_email"] = rows[0]["email"]
        rows[1]["email"] = UserFactory().email  # an existing user joins
        return {"members": rows}

    # savepoint; departments in the org; org members among the emails and supervisors;
    # existing users; INSERT users; INSERT memberships; UPDATE in-batch supervisors;
    # INSERT audit events; release savepoint
    small_batch, large_batch = batch("small", 5), batch("large", 50)
    with django_assert_num_queries(9):
        small = api.post(admin, "/members/bulk", small_batch, token=token)
    # the same nine queries for ten times the rows
    with django_assert_num_queries(9):
        large = api.post(admin, "/members/bulk", large_batch, token=token)
    assert small.status_code == large.status_code == 201
    assert len(large.json()["items"]) == 50


def test_a_full_batch_of_1000_rows_is_created(api, admin, department):
    rows = _rows(1000, prefix="full", department_id=department.pk, password="pass-word-123")
    for row in rows[1:]:
        row["supervisor_email"] = rows[0]["email"]

    response = api.post(admin, "/members/bulk", {"members": rows})

    assert response.status_code == 201
    items = response.json()["items"]
    assert len(items) == 1000
    assert {i["supervisor_id"] for i in items[1:]} == {items[0]["id"]}
    assert AuditEvent.objects.filter(action="member.create").count() == 1000


def test_bulk_passwords_are_cheap_to_set_and_full_strength_after_the_first_login(
    api, admin, settings
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    rows = _rows(2)
    rows[0]["password"] = "first-pass-1234"
    assert api.post(admin, "/members/bulk", {"members": rows}).status_code == 201
    user = User.objects.get(email="new0@bulk.example")
    assert user.password.startswith("pbkdf2_sha256$20000$")
    version = user.token_version

    login = api.post(
        None, "/api/auth/login", {"email": "new0@bulk.example", "password": "first-pass-1234"}
    )
    assert login.status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$1000000$")
    assert user.token_version == version  # a re-hash is not a new password
    token = login.json()["access_token"]
    assert api.get(None, "/api/auth/me", token=token).status_code == 200
    again = {"email": "new0@bulk.example", "password": "first-pass-1234"}
    assert api.post(None, "/api/auth/login", again).status_code == 200


@pytest.mark.parametrize("space", ["\u0085", "\ufeff", "\u00a0", "\u2003"])
def test_an_email_with_a_unicode_space_is_a_422_row(api, admin, space):
    # The published pattern and the server's used to read `\s` differently (U+0085, U+FEFF).
    rows = _rows(1)
    rows[0]["email"] = f"a{space}b@bulk.example"

    response = api.post(admin, "/members/bulk", {"members": rows})

    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == ["body", "members", 0, "email"]
    assert not User.objects.filter(email__startswith="a").exists()


def test_an_email_with_non_ascii_letters_is_accepted(api, admin):
    rows = _rows(1)
    rows[0]["email"] = "zoë@bücher.example"

    assert api.post(admin, "/members/bulk", {"members": rows}).status_code == 201
