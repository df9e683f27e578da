"""Hostile input is a clear 4xx that changes nothing (DESIGN.md §4, "Hostile input, fixed").

Every case here answered 500 (NUL, non-finite numbers) or reached a row through a
non-canonical id before the boundary in core.middleware.HostileInputMiddleware and the
`id` path converter existed.
"""

from __future__ import annotations

import json

import pytest

from core.inputs import NOT_FINITE, NUL_CHARACTER
from evaluations.models import SelfAssessment
from goals.models import Goal, Period
from goals.tests.factories import GoalFactory, PeriodFactory
from orgs.models import AuditEvent, Department
from users.models import User

PERFORMANCE = {
    "type": "performance",
    "metric": "NPS",
    "target": 50,
    "unit": "points",
    "direction": "increase",
}


def assert_envelope(response, status: int, loc: list | None = None, msg: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "message", "details", "request_id"}
    assert body["request_id"] == response["X-Request-ID"]
    if loc is not None:
        assert {"loc": loc, "msg": msg} in body["details"], body["details"]
    return body


@pytest.fixture
def audit_count():
    return lambda: AuditEvent.objects.count()


# --- NUL ---------------------------------------------------------------------------------------


def test_nul_in_a_query_value_is_422_at_its_loc(api, admin):
    for path, name in [
        ("/members?search=ab%00cd", "search"),
        ("/audit?entity_type=goal%00", "entity_type"),
    ]:
        response = api.get(admin, path)
        assert_envelope(response, 422, ["query", name], NUL_CHARACTER)


def test_nul_in_a_query_key_is_422(api, admin):
    assert_envelope(
        api.get(admin, "/members?sea%00rch=x"), 422, ["query", "sea\x00rch"], NUL_CHARACTER
    )


def test_nul_in_a_path_segment_is_422_before_anything_runs(api, admin, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get(None, f"/api/org/{admin.org.slug}%00/me")
    assert_envelope(response, 422, ["path", "org_slug"], NUL_CHARACTER)
    assert_envelope(api.get(admin, "/goals/1%00"), 422, ["path"], NUL_CHARACTER)


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("post", "/goals", "goal", ["body", "title"]),
        ("post", "/departments", {"name": "Sales\x00"}, ["body", "name"]),
        (
            "post",
            "/periods",
            {"name": "2027\x00", "starts_on": "2027-01-01", "ends_on": "2027-12-31"},
            ["body", "name"],
        ),
        (
            "post",
            "/members/bulk",
            {"members": [{"email": "new@x.example", "full_name": "Ann\x00", "role": "employee"}]},
            ["body", "members", 0, "full_name"],
        ),
    ],
)
def test_nul_in_a_body_string_is_422_at_its_loc_and_writes_nothing(
    api, admin, period, audit_count, method, path, body, loc
):
    if body == "goal":
        body = {
            "period_id": period.pk,
            "category": "performance",
            "title": "Grow\x00",
            "weight": 10,
            "target_data": PERFORMANCE,
        }
    before = (audit_count(), Goal.objects.count(), Department.objects.count(), User.objects.count())

    response = getattr(api, method)(admin, path, body)

    assert_envelope(response, 422, loc, NUL_CHARACTER)
    after = (audit_count(), Goal.objects.count(), Department.objects.count(), User.objects.count())
    assert after == before
    assert not Period.objects.filter(name__startswith="2027").exists()


def test_nul_in_a_reject_comment_and_a_self_assessment_comment_is_422(
    api, admin, employee, period, audit_count
):
    submitted = GoalFactory(owner=employee, status=Goal.Status.SUBMITTED)
    approved = GoalFactory(owner=employee, status=Goal.Status.APPROVED)
    before = audit_count()

    reject = api.post(admin, f"/goals/{submitted.pk}/reject", {"comment": "no\x00"})
    assess = api.put(
        employee, f"/goals/{approved.pk}/self-assessment", {"rating": 3, "comment": "ok\x00"}
    )

    assert_envelope(reject, 422, ["body", "comment"], NUL_CHARACTER)
    assert_envelope(assess, 422, ["body", "comment"], NUL_CHARACTER)
    submitted.refresh_from_db()
    assert submitted.status == Goal.Status.SUBMITTED
    assert not SelfAssessment.objects.filter(goal=approved).exists()
    assert audit_count() == before


def test_nul_in_a_body_key_is_422(api, admin, period):
    body = {"name": "Sales", "na\x00me": "x"}
    assert_envelope(api.post(admin, "/departments", body), 422, ["body", "na\x00me"], NUL_CHARACTER)
    assert not Department.objects.filter(name="Sales").exists()


# --- Non-finite numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal", ["1e309", "-1e309", "1e999999999", "NaN", "Infinity", "-Infinity"]
)
def test_a_non_finite_number_in_target_data_is_422_and_creates_nothing(
    api, admin, period, audit_count, literal
):
    body = json.dumps(
        {
            "period_id": period.pk,
            "category": "performance",
            "title": "Grow",
            "weight": 10,
            "target_data": {**PERFORMANCE, "target": "TARGET"},
        }
    ).replace('"TARGET"', literal)
    before = audit_count()

    response = api.post(admin, "/goals", body)

    assert_envelope(response, 422, ["body", "target_data", "target"], NOT_FINITE)
    assert not Goal.objects.filter(title="Grow").exists()
    assert audit_count() == before


@pytest.mark.parametrize("literal", ["1e309", "NaN"])
def test_a_non_finite_number_anywhere_in_a_body_is_422(api, admin, period, literal):
    weight = api.post(
        admin,
        "/goals",
        json.dumps(
            {
                "period_id": period.pk,
                "category": "performance",
                "title": "Grow",
                "weight": "W",
                "target_data": PERFORMANCE,
            }
        ).replace('"W"', literal),
    )
    rating = api.put(admin, "/goals/1/feedback", f'{{"rating": {literal}}}')

    assert_envelope(weight, 422, ["body", "weight"], NOT_FINITE)
    assert_envelope(rating, 422, ["body", "rating"], NOT_FINITE)


def test_malformed_json_is_still_400(api, admin):
    assert_envelope(api.post(admin, "/departments", '{"name": '), 400)


# --- Canonical path ids ------------------------------------------------------------------------


NON_CANONICAL = ["{id}.0", "%2B{id}", "+{id}", "{id}%20", "%20{id}", "0{id}", "{id}e0", "-{id}"]


@pytest.mark.parametrize("shape", NON_CANONICAL)
def test_a_non_canonical_goal_id_is_404_and_touches_nothing(api, admin, employee, shape):
    draft = GoalFactory(owner=employee)
    submitted = GoalFactory(owner=employee, status=Goal.Status.SUBMITTED)
    approved = GoalFactory(owner=employee, status=Goal.Status.APPROVED)
    unknown = api.get(admin, "/goals/999999999").json()

    def path(goal, suffix=""):
        return f"/goals/{shape.format(id=goal.pk)}{suffix}"

    responses = [
        api.get(admin, path(draft)),
        api.delete(admin, path(draft)),
        api.patch(admin, path(draft), {"title": "Hacked"}),
        api.post(employee, path(draft, "/submit")),
        api.post(admin, path(submitted, "/approve")),
        api.put(employee, path(approved, "/self-assessment"), {"rating": 3}),
    ]

    for response in responses:
        body = assert_envelope(response, 404)
        assert body["error"] == unknown["error"] == "not_found"
    draft.refresh_from_db()
    submitted.refresh_from_db()
    assert (draft.title, draft.status) != ("Hacked", Goal.Status.SUBMITTED)
    assert submitted.status == Goal.Status.SUBMITTED
    assert not SelfAssessment.objects.filter(goal=approved).exists()


@pytest.mark.parametrize("shape", NON_CANONICAL)
def test_non_canonical_member_department_and_period_ids_are_404(
    api, admin, employee, department, shape
):
    period = PeriodFactory(org=admin.org, status=Period.Status.PLANNED)

    member = api.patch(admin, f"/members/{shape.format(id=employee.pk)}", {"title": "Boss"})
    dept = api.patch(admin, f"/departments/{shape.format(id=department.pk)}", {"name": "Ops"})
    per = api.patch(admin, f"/periods/{shape.format(id=period.pk)}", {"name": "Renamed"})

    for response in (member, dept, per):
        assert_envelope(response, 404)
    employee.refresh_from_db()
    department.refresh_from_db()
    period.refresh_from_db()
    assert employee.title != "Boss"
    assert department.name != "Ops"
    assert period.name != "Renamed"


def test_a_canonical_id_still_works(api, admin, employee):
    goal = GoalFactory(owner=employee)
    assert api.get(admin, f"/goals/{goal.pk}").status_code == 200


def test_an_id_too_large_for_postgres_is_404_in_the_path_and_an_empty_filter(api, admin):
    assert_envelope(api.get(admin, "/goals/99999999999999999999"), 404)
    response = api.get(admin, "/goals?period_id=99999999999999999999")
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_every_id_path_parameter_uses_the_canonical_converter():
    from django.urls import URLPattern, URLResolver, get_resolver

    from core.inputs import PathIdConverter

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                yield pattern

    (api_urls,) = [p for p in get_resolver().url_patterns if str(p.pattern) == "api/"]
    checked = 0
    for pattern in walk(api_urls.url_patterns):
        converters = getattr(pattern.pattern, "converters", {})
        for name in pattern.pattern.regex.groupindex:
            if name.endswith("_id"):
                assert isinstance(converters.get(name), PathIdConverter), pattern.pattern
                checked += 1
    assert checked >= 10


# --- Authorization header ----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer ", "Bearer  ", "bearer ", "BEARER   ", "BeArEr "])
def test_the_bearer_scheme_is_case_insensitive_with_one_or_more_spaces(api, admin, scheme):
    token = api.token_for(admin.user)
    org_scoped = api.client.get(
        f"/api/org/{admin.org.slug}/me", HTTP_AUTHORIZATION=f"{scheme}{token}"
    )
    account = api.client.get("/api/auth/me", HTTP_AUTHORIZATION=f"{scheme}{token}")
    assert (org_scoped.status_code, account.status_code) == (200, 200)


@pytest.mark.parametrize("value", ["Bearer", "Bearer{token}", "Token {token}", "Bearer {token} x"])
def test_a_malformed_authorization_header_is_401(api, admin, value):
    token = api.token_for(admin.user)
    response = api.client.get("/api/auth/me", HTTP_AUTHORIZATION=value.format(token=token))
    assert_envelope(response, 401)


# --- HEAD --------------------------------------------------------------------------------------


def test_head_answers_like_get_without_a_body(api, admin):
    token = api.token_for(admin.user)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for path in [
        f"/api/org/{admin.org.slug}/me",
        f"/api/org/{admin.org.slug}/members",
        "/api/auth/me",
        "/health",
    ]:
        got = api.client.get(path, **auth)
        head = api.client.head(path, **auth)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head["Content-Type"] == got["Content-Type"]
        if path != "/health":  # its latencies change the length from call to call
            assert int(head["Content-Length"]) == len(got.content)


def test_head_on_a_post_only_path_is_405_and_allow_lists_head_beside_get(api, admin):
    token = api.token_for(admin.user)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    head = api.client.head(f"/api/org/{admin.org.slug}/members/bulk", **auth)
    put = api.client.put(f"/api/org/{admin.org.slug}/goals", **auth)

    assert head.status_code == 405
    allow = [method.strip() for method in put["Allow"].split(",")]
    assert "GET" in allow and "HEAD" in allow
    assert put.json()["error"] == "method_not_allowed"
