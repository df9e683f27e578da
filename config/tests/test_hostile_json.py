"""Hostile JSON bodies on every write operation (DESIGN.md §4, "Hostile input, fixed").

For each operation of /api/openapi.json that takes a JSON body, hypothesis draws a body that
matches the operation's published schema (real ids of the org wherever an id goes, so without
the hostile part most bodies would be written), then breaks it the way clients do:

- a NUL character in a string value, or in a key;
- a number (any: an id, a weight, a rating, a target) written as a non-finite literal, raw in
  the body text: `NaN`, `Infinity`, `-Infinity`, `1e309`, `-1e309`, `1e999999999`;
- both at once;
- an unescaped NUL byte inside a string, which is not JSON at all.

The answer is a 422 in the error envelope with a detail at each broken loc (a 400 for the body
that is not JSON), never a 5xx, and no row of any table changed. schemathesis cannot send the
non-finite literals (it generates valid JSON only); scripts/fuzz_hooks.py makes `make fuzz` send
them too. This module also checks that the fuzzer's config does not switch NUL generation off.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import DatabaseError, transaction
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.api import api as ninja_api
from core.inputs import NOT_FINITE, NUL_CHARACTER
from evaluations.models import SelfAssessment
from goals.models import Goal
from goals.tests.factories import CompetencyFactory, CoreValueFactory, GoalFactory
from users.tests.factories import TEST_PASSWORD

NON_FINITE_LITERALS = ("NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1e999999999")
WRITE_METHODS = ("post", "put", "patch", "delete")
# Every table a write could touch.
APP_LABELS = ("users", "orgs", "goals", "evaluations")
# Bodies stay small: the subject is one broken value, not the size limits.
MAX_ITEMS = 3
MAX_TEXT = 24


def json_body_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in WRITE_METHODS
        and "application/json" in operation.get("requestBody", {}).get("content", {})
    )


# Parametrized from the document the app builds; test_the_operations_are_those_of_the_served_
# document checks that /api/openapi.json lists the same ones.
OPERATIONS = json_body_operations(ninja_api.get_openapi_schema())


# --- The org the bodies refer to --------------------------------------------------------------


@dataclass
class World:
    slug: str
    actors: dict[str, Any]
    path_ids: dict[str, int]
    goal_ids: dict[str, int]
    body_ids: dict[str, list[int]]
    strings: dict[str, str] = field(default_factory=dict)

    def actor(self, method: str, path: str):
        if path.startswith("/api/auth/"):
            return None  # login and refresh are anonymous
        if path.endswith("/self-assessment"):
            return self.actors["employee"]  # the goal's owner
        if path.endswith("/feedback"):
            return self.actors["manager"]  # the owner's supervisor
        return self.actors["admin"]

    def url(self, path: str) -> str:
        """The operation's path with real ids: the goal in the state its action needs."""
        goal = "draft"
        if path.endswith("/reject"):
            goal = "submitted"
        elif path.endswith(("/self-assessment", "/feedback")):
            goal = "approved"
        values = {"org_slug": self.slug, **self.path_ids, "goal_id": self.goal_ids[goal]}
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        unknown = [name for name in names if name not in values]
        assert not unknown, f"{path}: give the test a real value for {unknown}"
        return path.format(**{name: values[name] for name in names})


@pytest.fixture
def world(admin, manager, employee, department, period) -> World:
    org = admin.org
    draft = GoalFactory(owner=employee, period=period)
    submitted = GoalFactory(owner=employee, period=period, status=Goal.Status.SUBMITTED)
    approved = GoalFactory(owner=employee, period=period, status=Goal.Status.APPROVED)
    competency = CompetencyFactory(org=org)
    core_value = CoreValueFactory(org=org)
    return World(
        slug=org.slug,
        actors={"admin": admin, "manager": manager, "employee": employee},
        path_ids={
            "member_id": employee.pk,
            "department_id": department.pk,
            "period_id": period.pk,
        },
        goal_ids={"draft": draft.pk, "submitted": submitted.pk, "approved": approved.pk},
        body_ids={
            "period_id": [period.pk],
            "owner_id": [employee.pk, admin.pk],
            "department_id": [department.pk],
            "supervisor_id": [manager.pk],
            "competency_id": [competency.pk],
            "core_value_id": [core_value.pk],
            "goal_ids": [submitted.pk],
        },
        strings={
            "LoginIn.email": admin.user.email,  # a real account
            "LoginIn.password": TEST_PASSWORD,
            "MemberBulkRow.supervisor_email": manager.user.email,
            "WebhookIn.url": "http://127.0.0.1:9/hook",  # loopback: refused here, never called
        },
    )


# --- Bodies that match the published schema ---------------------------------------------------

# Keywords that only describe; every other keyword must be understood below, so a schema that
# grows a new constraint fails here instead of silently generating invalid bodies.
_ANNOTATIONS = {"title", "description", "default", "examples"}
_TEXT = st.characters(categories=["L", "N", "P", "Zs"], exclude_characters="\x00")


def body_strategy(schema: dict[str, Any], world: World, components: dict[str, Any]):
    def build(node: dict[str, Any], name: str | None, within: str = "") -> st.SearchStrategy:
        """`name`: the property `node` is the schema of; `within`: the component it is in."""
        if "$ref" in node:
            within = node["$ref"].rsplit("/", 1)[-1]
            return build(components[within], name, within)
        for key in ("anyOf", "oneOf"):
            if key in node:
                return st.one_of([build(branch, name, within) for branch in node[key]])
        if "const" in node:
            return st.just(node["const"])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        known = _ANNOTATIONS | {"type"}
        if kind == "object":
            known |= {"properties", "required", "additionalProperties"}
            assert node.get("additionalProperties", False) is False, node
            required = set(node.get("required", []))
            fields = {
                key: build(sub, key, within)
                if key in required
                else st.none() | build(sub, key, within)
                for key, sub in node.get("properties", {}).items()
            }
            strategy = st.fixed_dictionaries(fields).map(
                lambda drawn: {k: v for k, v in drawn.items() if k in required or v is not None}
            )
        elif kind == "array":
            known |= {"items", "minItems", "maxItems", "uniqueItems"}
            if name in world.body_ids:
                items = st.sampled_from(world.body_ids[name])
            else:
                items = build(node["items"], None, within)
            low = node.get("minItems", 0)
            high = min(node.get("maxItems", MAX_ITEMS), MAX_ITEMS, max(low, MAX_ITEMS))
            if node.get("uniqueItems") and name in world.body_ids:
                high = min(high, len(world.body_ids[name]))
            strategy = st.lists(
                items, min_size=low, max_size=high, unique=bool(node.get("uniqueItems"))
            )
        elif kind == "string":
            known |= {"minLength", "maxLength", "format", "pattern"}
            if f"{within}.{name}" in world.strings:
                strategy = st.just(world.strings[f"{within}.{name}"])
            elif node.get("format") == "date":
                strategy = st.dates(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)).map(
                    datetime.date.isoformat
                )
            elif "pattern" in node:  # emails: new, readable ones, which the pattern accepts
                assert name == "email", node
                strategy = st.from_regex(r"[a-z]{1,12}@[a-z]{1,8}\.example", fullmatch=True)
            else:
                low = node.get("minLength", 0)
                high = min(node.get("maxLength", MAX_TEXT), MAX_TEXT)
                strategy = st.text(_TEXT, min_size=low, max_size=max(low, high))
        elif kind == "integer":
            known |= {"minimum", "maximum"}
            if name in world.body_ids:
                strategy = st.sampled_from(world.body_ids[name])
            else:
                assert not (name or "").endswith("_id"), f"give the test real ids for {name}"
                strategy = st.integers(node.get("minimum", -1000), node.get("maximum", 1000))
        elif kind == "number":
            known |= {"minimum", "maximum"}
            strategy = st.floats(
                node.get("minimum", -1e6),
                node.get("maximum", 1e6),
                allow_nan=False,
                allow_infinity=False,
            )
        elif kind == "boolean":
            strategy = st.booleans()
        elif kind == "null":
            strategy = st.none()
        else:
            raise AssertionError(f"unsupported schema {node}")
        unknown = set(node) - known
        assert not unknown, f"the test does not understand {sorted(unknown)} in {node}"
        return strategy

    return build(schema, None)


# --- Breaking a body --------------------------------------------------------------------------


def sites(value: Any, path: tuple = ()) -> list[tuple[str, tuple]]:
    """(kind, path) of every string, number and key of a parsed JSON document."""
    found: list[tuple[str, tuple]] = []
    if isinstance(value, str):
        found.append(("string", path))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found.append(("number", path))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.append(("key", (*path, key)))
            found += sites(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += sites(item, (*path, index))
    return found


def dumps(value: Any, raw: dict[tuple, str], keys: dict[tuple, str]) -> str:
    """JSON text of `value`, with the texts in `raw` written as is at their paths and the keys
    at the paths in `keys` renamed."""

    def dump(item: Any, here: tuple) -> str:
        if here in raw:
            return raw[here]
        if isinstance(item, dict):
            return (
                "{"
                + ", ".join(
                    f"{json.dumps(keys.get((*here, k), k))}: {dump(v, (*here, k))}"
                    for k, v in item.items()
                )
                + "}"
            )
        if isinstance(item, list):
            return "[" + ", ".join(dump(v, (*here, i)) for i, v in enumerate(item)) + "]"
        return json.dumps(item, ensure_ascii=False)

    return dump(value, ())


@dataclass
class Hostile:
    text: str  # the body as sent
    expected: list[dict[str, Any]]  # the details the 422 must hold; empty: not JSON, a 400

    def __repr__(self) -> str:
        return f"Hostile(text={self.text!r}, expected={self.expected!r})"


@st.composite
def hostile(draw, body: dict[str, Any]) -> Hostile:
    found = sites(body)
    strings = [path for kind, path in found if kind == "string"]
    numbers = [path for kind, path in found if kind == "number"]
    keys = [path for kind, path in found if kind == "key"]
    plans = [
        plan
        for plan, possible in [
            ("nul", strings),
            ("nul-key", keys),
            ("non-finite", numbers),
            ("nul+non-finite", strings and numbers),
            ("raw-nul", strings),
        ]
        if possible
    ]
    assert plans, f"nothing to break in {body}"
    plan = draw(st.sampled_from(plans))

    raw: dict[tuple, str] = {}
    renamed: dict[tuple, str] = {}
    expected: list[dict[str, Any]] = []
    if plan in ("nul", "nul+non-finite", "raw-nul"):
        path = draw(st.sampled_from(strings))
        text = _value_at(body, path)
        at = draw(st.integers(0, len(text)))
        broken = text[:at] + "\x00" + text[at:]
        if plan == "raw-nul":  # the byte itself inside the string: not JSON
            raw[path] = json.dumps(broken, ensure_ascii=False).replace("\\u0000", "\x00")
        else:
            raw[path] = json.dumps(broken, ensure_ascii=False)
            expected.append({"loc": ["body", *path], "msg": NUL_CHARACTER})
    if plan == "nul-key":
        path = draw(st.sampled_from(keys))
        at = draw(st.integers(0, len(path[-1])))
        key = path[-1][:at] + "\x00" + path[-1][at:]
        renamed[path] = key
        expected.append({"loc": ["body", *path[:-1], key], "msg": NUL_CHARACTER})
    if plan in ("non-finite", "nul+non-finite"):
        path = draw(st.sampled_from([p for p in numbers if p not in raw]))
        raw[path] = draw(st.sampled_from(NON_FINITE_LITERALS))
        expected.append({"loc": ["body", *path], "msg": NOT_FINITE})
    return Hostile(text=dumps(body, raw, renamed), expected=expected)


def _value_at(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


# --- Checks -----------------------------------------------------------------------------------


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the app."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.app_label in APP_LABELS
    }


class _Undo(Exception):
    """Rolls back whatever one example wrote, so the next one starts from the same rows."""


def send_and_undo(api, method: str, actor, url: str, text: str):
    """The response, and the rows after it (or the database error reading them raised)."""
    result: list[Any] = []
    try:
        with transaction.atomic():
            user = getattr(actor, "user", actor)  # the url is absolute: call as the user
            result.append(api.request(method.upper(), user, url, text))
            try:
                result.append(snapshot())
            except DatabaseError as exc:  # the request left the transaction aborted
                result.append(exc)
            raise _Undo
    except _Undo:
        pass
    return result


def assert_envelope(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error", "message", "details", "request_id"}, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    assert body["request_id"] == response["X-Request-ID"]
    return body


@pytest.fixture
def document(api) -> dict[str, Any]:
    response = api.client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


# 12 bodies per operation: the whole module runs in about ten seconds.
EXAMPLES = hypothesis_settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same bodies on every run, as `make fuzz` runs with a fixed seed
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the rows are read-only across examples
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


# --- Tests ------------------------------------------------------------------------------------


def test_the_operations_are_those_of_the_served_document(document):
    assert json_body_operations(document) == OPERATIONS
    assert len(OPERATIONS) >= 16  # login, refresh, and the org's writes


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_a_nul_or_non_finite_value_in_a_json_body_is_refused_and_writes_nothing(
    api, world, document, settings, method, path
):
    # The anonymous limit (login, refresh) is tested elsewhere; a 429 would hide the answer.
    settings.RATE_LIMITS_ENABLED = False
    operation = document["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    components = document["components"]["schemas"]
    bodies = body_strategy(schema, world, components).filter(lambda body: sites(body))
    actor = world.actor(method, path)
    url = world.url(path)

    @EXAMPLES
    @given(case=bodies.flatmap(hostile))
    def check(case: Hostile) -> None:
        note(f"{method.upper()} {url} {case.text!r}")
        before = snapshot()
        response, after = send_and_undo(api, method, actor, url, case.text)
        if case.expected:
            body = assert_envelope(response, 422)
            assert body["error"] == "validation_error"
            for detail in case.expected:
                assert detail in body["details"], (detail, body["details"])
        else:
            assert_envelope(response, 400)
        assert not isinstance(after, DatabaseError), f"the request broke the transaction: {after}"
        changed = sorted(label for label, rows in before.items() if after[label] != rows)
        assert not changed, f"the request changed rows of {changed}"

    check()


def test_a_body_the_strategy_draws_is_written_when_nothing_is_broken(api, world, document):
    """The control: an intact body of the kind the test breaks reaches the database, so "no row
    changed" above is the hostile value being refused, not a body refused anyway."""
    period_id = world.body_ids["period_id"][0]
    core_value_id = world.body_ids["core_value_id"][0]
    body = {
        "period_id": period_id,
        "category": "core_value",
        "title": "Listen first",
        "weight": 5,
        "target_data": {"type": "core_value", "core_value_id": core_value_id, "behaviors": ["a"]},
    }
    response = api.post(world.actors["employee"], "/goals", body)
    assert response.status_code == 201, response.content
    comment = api.put(
        world.actors["employee"],
        f"/goals/{world.goal_ids['approved']}/self-assessment",
        {"rating": 3, "comment": "ok", "status": "draft"},
    )
    assert comment.status_code == 200, comment.content
    assert SelfAssessment.objects.filter(goal_id=world.goal_ids["approved"]).exists()


def _disables_nul(config: Any) -> list[str]:
    """Where a parsed schemathesis config turns NUL generation off, at any level."""
    found: list[str] = []
    if isinstance(config, dict):
        for key, value in config.items():
            if key == "allow-x00" and value is False:
                found.append(key)
            found += [f"{key}.{where}" for where in _disables_nul(value)]
    elif isinstance(config, list):
        for index, item in enumerate(config):
            found += [f"[{index}].{where}" for where in _disables_nul(item)]
    return found


def test_the_fuzzer_config_does_not_switch_nul_generation_off():
    """`generation.allow-x00 = false` hid the NUL 500s from the fuzzer: clients send NUL, so the
    fuzzer must too (a check must never be configured around the behaviour it verifies)."""
    base = Path(django_settings.BASE_DIR)
    config = tomllib.loads((base / "schemathesis.toml").read_text())
    assert _disables_nul(config) == []
    assert config["hooks"] == "scripts/fuzz_hooks.py"
    script = (base / "scripts" / "fuzz.sh").read_text()
    assert "allow-x00" not in script and "x00" not in script


def test_the_nul_check_reads_every_level_of_the_config():
    nested = tomllib.loads(
        "[generation]\nallow-x00 = false\n"
        "[[operations]]\ninclude-path = '/x'\ngeneration.allow-x00 = false\n"
    )
    assert _disables_nul(nested) == ["generation.allow-x00", "operations.[0].generation.allow-x00"]
    assert _disables_nul(tomllib.loads("generation.allow-x00 = true")) == []
