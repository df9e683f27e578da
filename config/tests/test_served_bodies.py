"""Bodies served without the response schema's validation match the OpenAPI document exactly.

The page-shaped reads (built from compiled queries and cached as JSON) and the members page
(rows selected for its item) skip pydantic on the way out (core.api.json_response,
core.pagecache), so nothing but this test holds them to the document: each body is validated
against the operation's 200 schema from /api/openapi.json, with every object closed (no key
the document does not declare) and formats checked (`date-time` included).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest
from django.core.serializers.json import DjangoJSONEncoder

from core.api import json_bytes
from evaluations.tests.factories import rated_goal
from goals.tests.factories import CompetencyFactory, CoreValueFactory, GoalFactory
from orgs.cache import org_versions_bump
from orgs.tests.factories import DepartmentFactory, MembershipFactory

PAGES = "/api/org/{org_slug}/evaluation/"


@pytest.fixture
def document(api) -> dict[str, Any]:
    return api.get(None, "/api/openapi.json").json()


def _closed(node: Any) -> Any:
    """`node` with `additionalProperties: false` on every object schema that lists properties,
    so an undeclared key fails validation as a missing one does."""
    if isinstance(node, dict):
        closed = {key: _closed(value) for key, value in node.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_closed(value) for value in node]
    return node


def _assert_matches(document: dict[str, Any], path: str, body: Any) -> None:
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    root = {"components": _closed(copy.deepcopy(document["components"])), **schema["schema"]}
    validator = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, errors


@pytest.fixture
def rated(employee, manager, period, org):
    rated_goal(employee, period, weight=30, rating=5, feedback_status="published")
    rated_goal(employee, period, weight=20, rating=2, feedback_status="draft")
    GoalFactory(owner=employee, period=period, status="draft", weight=10)  # no evaluations
    CompetencyFactory(org=org)
    CoreValueFactory(org=org)
    employee.department = DepartmentFactory(org=org)
    employee.save()
    org_versions_bump({org.id})
    return employee


def test_the_goal_list_page_matches_the_document(api, document, rated, manager):
    for actor, params in ((rated, None), (manager, {"member_id": rated.pk})):
        response = api.get(actor, "/evaluation/goal-list-page", params)
        assert response.status_code == 200
        body = response.json()
        assert len(body["goals"]) == 3
        assert any(goal["feedback"] is None for goal in body["goals"])
        assert any(goal["self_assessment"] for goal in body["goals"])
        _assert_matches(document, PAGES + "goal-list-page", body)


def test_the_input_page_matches_the_document(api, document, rated, manager):
    response = api.get(manager, "/evaluation/input-page", {"member_id": rated.pk})
    assert response.status_code == 200
    body = response.json()
    assert body["competencies"] and body["core_values"]
    _assert_matches(document, PAGES + "input-page", body)


def test_the_team_page_matches_the_document(api, document, rated, manager, admin, org):
    MembershipFactory(org=org, supervisor=manager)  # a second report: a second page
    org_versions_bump({org.id})
    for actor in (manager, admin):
        first = api.get(actor, "/evaluation/team-page", {"limit": 1})
        assert first.status_code == 200
        _assert_matches(document, PAGES + "team-page", first.json())
        rest = api.get(actor, "/evaluation/team-page", {"cursor": first.json()["next_cursor"]})
        assert rest.status_code == 200
        _assert_matches(document, PAGES + "team-page", rest.json())


def test_the_page_without_a_period_matches_the_document(api, document, employee):
    body = api.get(employee, "/evaluation/goal-list-page").json()
    assert body["period"] is None and body["goals"] == []
    _assert_matches(document, PAGES + "goal-list-page", body)


def test_the_members_page_matches_the_document(api, document, rated, admin, org):
    MembershipFactory(org=org, supervisor=admin, title="Lead")
    path = "/api/org/{org_slug}/members"
    for params in (
        None,
        {"limit": 2},
        {"fields": "email,created_at", "sort_by": "email"},
        {"search": "e", "role": "employee", "is_active": "true"},
        {"offset": 1000},
    ):
        response = api.get(admin, "/members", params)
        assert response.status_code == 200, params
        _assert_matches(document, path, response.json())
    selected = api.get(admin, "/members", {"fields": "email"}).json()
    assert all(set(item) == {"email"} for item in selected["items"])


def test_me_and_auth_me_match_the_document(api, document, employee, admin):
    for actor in (employee, admin):
        for _ in range(2):  # cold, then from the cache
            body = api.get(actor, "/me").json()
            _assert_matches(document, "/api/org/{org_slug}/me", body)
            account = api.get(actor.user, "/api/auth/me").json()
            assert account["memberships"]
            _assert_matches(document, "/api/auth/me", account)


def test_a_body_with_an_undeclared_key_fails_the_check(api, document, rated):
    """The check can fail: one extra key in a goal is caught."""
    body = api.get(rated, "/evaluation/goal-list-page").json()
    body["goals"][0]["secret"] = 1
    with pytest.raises(AssertionError):
        _assert_matches(document, PAGES + "goal-list-page", body)


def test_json_bytes_writes_what_djangos_encoder_writes():
    """Datetimes keep Django's format (milliseconds, `Z`): the same body from either path."""
    value = {
        "at": dt.datetime(2026, 11, 30, 12, 1, 2, 345678, tzinfo=dt.UTC),
        "whole": dt.datetime(2026, 11, 30, 12, 1, 2, tzinfo=dt.UTC),
        "day": dt.date(2026, 11, 30),
        "amount": Decimal("1.50"),
        "nested": [{"score": 4.25, "none": None, "text": "é"}],
    }
    assert json.loads(json_bytes(value)) == json.loads(json.dumps(value, cls=DjangoJSONEncoder))
