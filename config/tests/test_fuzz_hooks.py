"""scripts/fuzz_hooks.py drops only the 422s the contract prescribes; its messages are the app's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from django.conf import settings

from core.pagination import INVALID_CURSOR
from evaluations.services import RATING_OUT_OF_SCALE
from goals.services import _common as goal_messages
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
    }
    for loc, messages in hooks.CONTRACT_422.items():
        assert messages is None or messages <= app_messages, loc


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
    ],
)
def test_only_contract_rules_are_dropped(hooks, details, dropped):
    assert hooks.is_contract_422(details) is dropped
