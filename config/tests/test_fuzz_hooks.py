"""scripts/fuzz_hooks.py drops only the 422s the contract prescribes, with the app's messages,
and makes the fuzzer send non-finite numbers as raw JSON literals in otherwise valid bodies."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import schemathesis
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.checks import RejectedPositiveData

from core.inputs import NUL_CHARACTER
from core.pagination import INVALID_CURSOR
from evaluations.services import RATING_OUT_OF_SCALE
from goals.services import _common as goal_messages
from jobs.outbound import URL_REFUSALS
from orgs.services import members as org_messages


@pytest.fixture(scope="module")
def hooks():
    path = Path(settings.BASE_DIR) / "scripts" / "fuzz_hooks.py"
    spec = importlib.util.spec_from_file_location("fuzz_hooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_message_of_the_hooks_is_one_the_app_sends(hooks):
    app_messages = {
        INVALID_CURSOR,
        RATING_OUT_OF_SCALE,
        *(v for k, v in vars(goal_messages).items() if k.isupper() and isinstance(v, str)),
        *(v for k, v in vars(org_messages).items() if k.isupper() and isinstance(v, str)),
        *URL_REFUSALS,
    }
    for loc, messages in hooks.CONTRACT_422.items():
        assert messages is None or messages <= app_messages, loc
    assert hooks.NUL_CHARACTER == NUL_CHARACTER


@pytest.mark.parametrize(
    ("details", "dropped"),
    [
        ([{"loc": ["query", "cursor"], "msg": INVALID_CURSOR}], True),
        (
            [
                {
                    "loc": ["body", "members", 3, "supervisor_email"],
                    "msg": org_messages.UNKNOWN_SUPERVISOR,
                }
            ],
            True,
        ),
        ([{"loc": ["body", "target_data", "metric"], "msg": "Field required"}], True),
        ([{"loc": ["body", "rating"], "msg": RATING_OUT_OF_SCALE.format(scale=5)}], True),
        # Schema-level refusals of schema-valid input: the document is wrong, keep the failure.
        ([{"loc": ["body", "rating"], "msg": "Input should be a valid integer"}], False),
        ([{"loc": ["query", "cursor"], "msg": "String should match pattern"}], False),
        (
            [
                {"loc": ["query", "cursor"], "msg": INVALID_CURSOR},
                {"loc": ["body", "x"], "msg": "?"},
            ],
            False,
        ),
        ([], False),
        # A NUL detail is judged against the request only.
        ([{"loc": ["body", "title"], "msg": NUL_CHARACTER}], False),
    ],
)
def test_only_contract_rules_are_dropped(hooks, details, dropped):
    assert hooks.is_contract_422(details) is dropped


SENT = {
    "body": {"title": "a\x00b", "weight": 5, "na\x00me": "x", "rows": [{"full_name": "\x00"}]},
    "query": {"search": "ab\x00", "tags": ["x", "y\x00"], "sea\x00rch": "x", "limit": 5},
    "path": {"org_slug": "acme", "goal_id": 7},
}


@pytest.mark.parametrize(
    ("loc", "dropped"),
    [
        (["body", "title"], True),
        (["body", "rows", 0, "full_name"], True),
        (["body", "na\x00me"], True),  # a NUL in a key: the loc ends with the key
        (["query", "search"], True),
        (["query", "tags"], True),  # one value of a repeated parameter
        (["query", "sea\x00rch"], True),
        # The server names a NUL where none was sent: keep the failure.
        (["body", "weight"], False),
        (["body", "rows", 1, "full_name"], False),
        (["body", "missing"], False),
        (["query", "limit"], False),
        (["path", "org_slug"], False),
        (["path"], False),
        (["header", "x"], False),
        ([], False),
    ],
)
def test_a_nul_refusal_is_dropped_only_where_the_request_sent_a_nul(hooks, loc, dropped):
    details = [{"loc": loc, "msg": NUL_CHARACTER}]
    assert hooks.is_contract_422(details, SENT) is dropped
    # Beside another contract rule, the same verdict; beside anything else, never dropped.
    cursor = {"loc": ["query", "cursor"], "msg": INVALID_CURSOR}
    assert hooks.is_contract_422([*details, cursor], SENT) is dropped
    assert hooks.is_contract_422([*details, {"loc": ["body", "x"], "msg": "?"}], SENT) is False


def test_a_nul_in_a_path_or_a_raw_body_is_found(hooks):
    sent = {"body": b'{"name": "x\\u0000", "weight": NaN}', "query": {}, "path": {"slug": "a\x00"}}
    assert hooks.sent_nul_at(sent, ["body", "name"])
    assert not hooks.sent_nul_at(sent, ["body", "weight"])
    assert hooks.sent_nul_at(sent, ["path", "slug"])
    assert hooks.sent_nul_at(sent, ["path"])  # a path that did not resolve: any segment
    assert not hooks.sent_nul_at({**sent, "body": b"{not json"}, ["body", "name"])


def _response(status: int, details: list) -> SimpleNamespace:
    return SimpleNamespace(status_code=status, content=json.dumps({"details": details}).encode())


def test_filter_failure_drops_only_a_rejected_valid_request_the_contract_explains(hooks):
    case = SimpleNamespace(body={"title": "a\x00"}, query={}, path_parameters={})
    rejected = RejectedPositiveData(
        operation="POST /x", message="", status_code=422, allowed_statuses=["2xx"]
    )
    nul = [{"loc": ["body", "title"], "msg": NUL_CHARACTER}]
    assert hooks.filter_failure(None, rejected, case, _response(422, nul)) is False
    # Not the same value, not a 422, not that check: the failure stays.
    clean = SimpleNamespace(body={"title": "a"}, query={}, path_parameters={})
    assert hooks.filter_failure(None, rejected, clean, _response(422, nul)) is True
    assert hooks.filter_failure(None, rejected, case, _response(500, nul)) is True
    other = AssertionError("Server error")
    assert hooks.filter_failure(None, other, case, _response(422, nul)) is True


# --- Non-finite numbers ------------------------------------------------------------------------


def test_number_paths_are_every_number_and_no_boolean(hooks):
    body = {"a": 1, "b": [2.5, True, {"c": -3}], "d": "4", "e": None, "f": False}
    assert hooks.number_paths(body) == [("a",), ("b", 0), ("b", 2, "c")]


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1e999999999"]
)
def test_one_number_becomes_the_raw_literal_and_the_rest_is_unchanged(hooks, literal):
    body = {"title": 'a\x00"é', "target_data": {"target": 5, "list": [1, 2]}, "weight": 10}

    text = hooks.dumps_with_literal(body, ("target_data", "list", 1), literal)

    assert f"[1, {literal}]" in text
    parsed = json.loads(text)  # as the server's parser reads it
    value = parsed["target_data"]["list"].pop()
    assert not math.isfinite(value)
    body["target_data"]["list"].pop()
    assert parsed == body


def test_the_fuzzer_sends_non_finite_numbers_in_a_quarter_of_the_json_bodies_as_invalid_input(
    hooks, api
):
    """Through schemathesis itself, as `make fuzz` runs it: the hook's raw body is what the
    transport sends, and schemathesis counts the case as negative, so `positive_data_acceptance`
    never sees it and `negative_data_rejection` wants it refused."""
    document = api.client.get("/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig())
    operation = schema["/api/org/{org_slug}/goals"]["POST"]
    mutated: list[bytes] = []
    intact = 0

    @hypothesis_settings(
        max_examples=60, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def draw(case):
        nonlocal intact
        if not isinstance(case.body, bytes):
            assert isinstance(case.body, dict)
            intact += 1
            return
        assert case.meta.generation.mode is GenerationMode.NEGATIVE
        sent = case.as_transport_kwargs(base_url="http://127.0.0.1")
        assert sent["data"] == case.body and "json" not in sent
        assert sent["headers"]["Content-Type"] == "application/json"
        mutated.append(case.body)

    draw()

    assert mutated and intact
    for body in mutated:
        parsed = json.loads(body)
        numbers = [hooks.number_paths(parsed)]
        non_finite = [path for path in numbers[0] if not math.isfinite(_value_at(parsed, path))]
        assert len(non_finite) == 1, body
        assert any(literal.encode() in body for literal in hooks.NON_FINITE_LITERALS)


def _value_at(value, path):
    for part in path:
        value = value[part]
    return value


def test_a_resync_410_for_an_after_of_the_org_is_the_contract_and_nothing_else_is(hooks):
    is_contract_resync = hooks.is_contract_resync
    resync = {"error": "resync_required", "message": "…", "details": []}
    assert is_contract_resync(410, resync, {"after": 5025})
    assert not is_contract_resync(410, resync, {})  # no cursor sent: not this rule
    assert not is_contract_resync(410, {"error": "gone"}, {"after": 1})
    assert not is_contract_resync(500, resync, {"after": 1})
