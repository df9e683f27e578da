import pytest

from goals.models import Period
from goals.tests.factories import PeriodFactory
from orgs.models import AuditEvent

BODY = {"name": "2027", "starts_on": "2027-01-01", "ends_on": "2027-12-31"}


def test_admin_creates_a_planned_period_and_it_is_audited(api, admin):
    response = api.post(admin, "/periods", BODY)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "starts_on", "ends_on", "status", "created_at"}
    assert body["status"] == "planned"
    assert AuditEvent.objects.filter(action="period.create", entity_id=body["id"]).exists()


@pytest.mark.parametrize("role", ["manager", "employee"])
def test_non_admins_cannot_write_periods(api, request, role, period):
    member = request.getfixturevalue(role)
    assert api.post(member, "/periods", BODY).status_code == 403
    assert api.patch(member, f"/periods/{period.pk}", {"name": "x"}).status_code == 403


def test_period_validation(api, admin):
    bad_dates = api.post(admin, "/periods", {**BODY, "ends_on": "2026-01-01"})
    extra = api.post(admin, "/periods", {**BODY, "org_id": 1})

    assert bad_dates.status_code == 422
    assert bad_dates.json()["details"][0]["loc"] == ["body", "ends_on"]
    assert extra.status_code == 422
    assert extra.json()["details"][0]["loc"] == ["body", "org_id"]


def test_duplicate_period_name_is_409(api, admin, period):
    assert api.post(admin, "/periods", {**BODY, "name": period.name}).status_code == 409


def test_only_one_active_period_per_org(api, admin, period):
    planned = PeriodFactory(org=admin.org, status=Period.Status.PLANNED)

    assert api.post(admin, "/periods", {**BODY, "status": "active"}).status_code == 409
    assert api.patch(admin, f"/periods/{planned.pk}", {"status": "active"}).status_code == 409


@pytest.mark.parametrize(
    ("start", "target", "expected"),
    [
        ("planned", "active", 200),
        ("planned", "closed", 200),
        ("active", "closed", 200),
        ("closed", "active", 200),
        ("active", "planned", 409),
        ("closed", "planned", 409),
    ],
)
def test_period_status_transitions(api, admin, start, target, expected):
    period = PeriodFactory(org=admin.org, status=start)

    response = api.patch(admin, f"/periods/{period.pk}", {"status": target})

    assert response.status_code == expected
    period.refresh_from_db()
    assert period.status == (target if expected == 200 else start)


def test_a_closed_period_is_read_only(api, admin):
    period = PeriodFactory(org=admin.org, status=Period.Status.CLOSED)

    assert api.patch(admin, f"/periods/{period.pk}", {"name": "Renamed"}).status_code == 409
    # Its reopening is the one write it takes, and not together with an edit.
    both = api.patch(admin, f"/periods/{period.pk}", {"name": "Renamed", "status": "active"})
    assert both.status_code == 409
    period.refresh_from_db()
    assert (period.name, period.status) != ("Renamed", "active")
    assert period.status == Period.Status.CLOSED


def test_reopening_a_closed_period_is_audited(api, admin):
    period = PeriodFactory(org=admin.org, status=Period.Status.CLOSED)

    response = api.patch(admin, f"/periods/{period.pk}", {"status": "active"})

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    event = AuditEvent.objects.get(entity_type="period", entity_id=period.pk)
    assert event.action == "period.reopen"
    assert event.changes == {"status": ["closed", "active"]}
    audit = api.get(admin, "/audit", params={"entity_type": "period", "entity_id": period.pk})
    assert [item["action"] for item in audit.json()["items"]] == ["period.reopen"]


def test_reopening_while_another_period_is_active_is_409_and_changes_nothing(api, admin, period):
    closed = PeriodFactory(org=admin.org, status=Period.Status.CLOSED)

    response = api.patch(admin, f"/periods/{closed.pk}", {"status": "active"})

    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    closed.refresh_from_db()
    assert closed.status == Period.Status.CLOSED
    assert not AuditEvent.objects.filter(entity_type="period", entity_id=closed.pk).exists()


@pytest.mark.parametrize("role", ["manager", "employee"])
def test_only_an_admin_reopens_a_period(api, request, role):
    member = request.getfixturevalue(role)
    closed = PeriodFactory(org=member.org, status=Period.Status.CLOSED)

    assert api.patch(member, f"/periods/{closed.pk}", {"status": "active"}).status_code == 403
    closed.refresh_from_db()
    assert closed.status == Period.Status.CLOSED


def test_all_members_read_periods_sorted_by_start_desc_with_cursor(api, employee):
    for year in (2024, 2026, 2025):
        PeriodFactory(
            org=employee.org,
            name=str(year),
            starts_on=f"{year}-01-01",
            ends_on=f"{year}-12-31",
            status="planned",
        )

    first = api.get(employee, "/periods", params={"limit": 2}).json()
    second = api.get(employee, "/periods", params={"limit": 2, "cursor": first["next_cursor"]})

    assert [p["name"] for p in first["items"]] == ["2026", "2025"]
    assert [p["name"] for p in second.json()["items"]] == ["2024"]
    assert second.json()["next_cursor"] is None
    assert api.get(employee, "/periods", params={"cursor": "!!"}).status_code == 422
    assert api.get(employee, "/periods", params={"limit": 201}).json()["details"][0]["loc"] == [
        "query",
        "limit",
    ]


def test_outsider_gets_404_on_every_period_endpoint(api, outsider, org, period):
    outsider.org = org  # call this org's URLs as a non-member
    assert api.get(outsider, "/periods").status_code == 404
    assert api.post(outsider, "/periods", BODY).status_code == 404
    assert api.patch(outsider, f"/periods/{period.pk}", {"name": "x"}).status_code == 404


def test_a_period_of_another_org_is_404(api, admin, other_org):
    foreign = PeriodFactory(org=other_org)
    assert api.patch(admin, f"/periods/{foreign.pk}", {"name": "x"}).status_code == 404


def _sizes(n, org):
    for i in range(n):
        PeriodFactory(
            org=org,
            name=f"P{n}-{i}",
            starts_on="2020-01-01",
            ends_on="2020-12-31",
            status="planned",
        )


def test_period_endpoints_cost_the_same_for_3_and_30_periods(api, admin, django_assert_num_queries):
    api.get(admin, "/me")  # warm the auth cache: auth costs 0 queries below
    counts = []
    for n in (3, 27):
        _sizes(n, admin.org)
        # 1 keyset SELECT of periods
        with django_assert_num_queries(1):
            assert api.get(admin, "/periods").status_code == 200
        # SAVEPOINT (service atomic), SAVEPOINT (constraint guard), INSERT period,
        # RELEASE, INSERT audit event, RELEASE
        with django_assert_num_queries(6) as ctx:
            created = api.post(admin, "/periods", {**BODY, "name": f"new{n}"})
        assert created.status_code == 201
        # SAVEPOINT, SELECT … FOR UPDATE period, SAVEPOINT, UPDATE period, RELEASE,
        # INSERT audit event, RELEASE
        with django_assert_num_queries(7):
            api.patch(admin, f"/periods/{created.json()['id']}", {"name": f"renamed{n}"})
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("starts_on", [0, "0", 1767225600, "2027-01-01T00:00:00"])
def test_period_dates_are_only_yyyy_mm_dd_strings(api, admin, period, starts_on):
    # The document says `string, format: date`; pydantic alone read 0 and "0" as 1970-01-01.
    created = api.post(admin, "/periods", {**BODY, "starts_on": starts_on})
    patched = api.patch(admin, f"/periods/{period.pk}", {"starts_on": starts_on})

    assert (created.status_code, patched.status_code) == (422, 422)
    assert created.json()["details"][0]["loc"] == ["body", "starts_on"]
    assert patched.json()["details"][0]["loc"] == ["body", "starts_on"]
    assert not Period.objects.filter(name=BODY["name"]).exists()
