"""The validation matrix of `target_data` through POST /goals: status and details[].loc."""

import pytest

from goals.tests.factories import CompetencyFactory, CoreValueFactory

PERF = {
    "type": "performance",
    "metric": "NPS",
    "target": 50,
    "unit": "pts",
    "direction": "increase",
}


def _comp(competency):
    return {"type": "competency", "competency_id": competency.pk, "expected_level": 3}


def _core(core_value):
    return {"type": "core_value", "core_value_id": core_value.pk, "behaviors": ["Helps others"]}


def _post(api, member, period, category, target_data):
    return api.post(
        member,
        "/goals",
        {
            "period_id": period.pk,
            "category": category,
            "title": "T",
            "weight": 10,
            "target_data": target_data,
        },
    )


def _locs(response):
    return [d["loc"] for d in response.json()["details"]]


def test_each_union_member_is_accepted(api, employee, period, competency, core_value):
    perf = _post(api, employee, period, "performance", {**PERF, "baseline": 10})
    comp = _post(api, employee, period, "competency", {**_comp(competency), "action_plan": ["a"]})
    core = _post(api, employee, period, "core_value", _core(core_value))

    assert (perf.status_code, comp.status_code, core.status_code) == (201, 201, 201)
    assert comp.json()["target_data"]["expected_level"] == 3


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"direction": "sideways"}, ["body", "target_data", "direction"]),
        ({"metric": ""}, ["body", "target_data", "metric"]),
        ({"metric": "m" * 201}, ["body", "target_data", "metric"]),
        ({"unit": "u" * 51}, ["body", "target_data", "unit"]),
        ({"target": "lots"}, ["body", "target_data", "target"]),
        ({"surprise": 1}, ["body", "target_data", "surprise"]),
    ],
)
def test_performance_target_errors(api, employee, period, patch, loc):
    response = _post(api, employee, period, "performance", {**PERF, **patch})
    assert response.status_code == 422
    assert loc in _locs(response)


def test_a_missing_field_is_named(api, employee, period):
    data = {k: v for k, v in PERF.items() if k != "unit"}
    response = _post(api, employee, period, "performance", data)
    assert response.status_code == 422
    assert _locs(response) == [["body", "target_data", "unit"]]


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"expected_level": 0}, ["body", "target_data", "expected_level"]),
        ({"expected_level": 6}, ["body", "target_data", "expected_level"]),
        ({"action_plan": ["x"] * 11}, ["body", "target_data", "action_plan"]),
        ({"action_plan": ["x" * 501]}, ["body", "target_data", "action_plan", 0]),
        ({"competency_id": 0}, ["body", "target_data", "competency_id"]),
        ({"extra": True}, ["body", "target_data", "extra"]),
    ],
)
def test_competency_target_errors(api, employee, period, competency, patch, loc):
    response = _post(api, employee, period, "competency", {**_comp(competency), **patch})
    assert response.status_code == 422
    assert loc in _locs(response)


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"behaviors": []}, ["body", "target_data", "behaviors"]),
        ({"behaviors": ["b"] * 11}, ["body", "target_data", "behaviors"]),
        ({"behaviors": ["b" * 501]}, ["body", "target_data", "behaviors", 0]),
        ({"behaviors": [""]}, ["body", "target_data", "behaviors", 0]),
        ({"extra": 1}, ["body", "target_data", "extra"]),
    ],
)
def test_core_value_target_errors(api, employee, period, core_value, patch, loc):
    response = _post(api, employee, period, "core_value", {**_core(core_value), **patch})
    assert response.status_code == 422
    assert loc in _locs(response)


def test_type_must_equal_category(api, employee, period):
    response = _post(api, employee, period, "competency", PERF)
    assert response.status_code == 422
    assert _locs(response) == [["body", "target_data", "type"]]


def test_unknown_type_is_named(api, employee, period):
    response = _post(api, employee, period, "performance", {**PERF, "type": "vibes"})
    assert response.status_code == 422
    assert _locs(response)[0][:2] == ["body", "target_data"]


def test_catalog_ids_of_another_org_are_422(api, employee, period, other_org):
    foreign_comp = CompetencyFactory(org=other_org)
    foreign_core = CoreValueFactory(org=other_org)

    comp = _post(api, employee, period, "competency", _comp(foreign_comp))
    core = _post(api, employee, period, "core_value", _core(foreign_core))

    assert comp.status_code == core.status_code == 422
    assert _locs(comp) == [["body", "target_data", "competency_id"]]
    assert _locs(core) == [["body", "target_data", "core_value_id"]]


def test_inactive_catalog_entries_are_422(api, employee, period, org):
    inactive = CompetencyFactory(org=org, is_active=False)
    response = _post(api, employee, period, "competency", _comp(inactive))
    assert response.status_code == 422
    assert _locs(response) == [["body", "target_data", "competency_id"]]


def test_patch_validates_target_data_against_the_goal_category(api, employee, make_goal):
    goal = make_goal(employee)
    response = api.patch(employee, f"/goals/{goal.pk}", {"target_data": {**PERF, "unit": ""}})
    assert response.status_code == 422
    assert _locs(response) == [["body", "target_data", "unit"]]


@pytest.mark.parametrize(
    ("category", "patch", "field"),
    [
        ("performance", {"target": "50"}, "target"),
        ("performance", {"baseline": True}, "baseline"),
        ("competency", {"expected_level": "3"}, "expected_level"),
        ("competency", {"competency_id": True}, "competency_id"),
    ],
)
def test_numbers_in_target_data_are_json_numbers(
    api, employee, period, competency, category, patch, field
):
    # Stored as sent: lax validation used to keep "50" (a string) in a goal's target.
    data = {**(PERF if category == "performance" else _comp(competency)), **patch}

    response = _post(api, employee, period, category, data)

    assert response.status_code == 422
    assert ["body", "target_data", field] in _locs(response)


def test_the_document_shows_the_three_target_shapes(api):
    schema = api.get(None, "/api/openapi.json").json()["components"]["schemas"]
    for name in ("GoalIn", "GoalPatch"):
        shapes = schema[name]["properties"]["target_data"]["oneOf"]
        assert [s["properties"]["type"]["const"] for s in shapes] == [
            "performance", "competency", "core_value",
        ]  # fmt: skip
