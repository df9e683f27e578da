"""The OpenAPI document promises what the server does: found by fuzzing it (scripts/fuzz.sh)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from core.api import COMMON_ERRORS


@pytest.fixture
def document(api) -> dict[str, Any]:
    response = api.get(None, "/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _properties(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]["properties"]


@pytest.mark.parametrize(
    ("schema", "fields"),
    [
        ("GoalPatch", ["title", "weight", "target_data"]),
        ("MemberPatchIn", ["role", "title", "is_active"]),
    ],
)
def test_patch_fields_that_refuse_null_are_not_nullable(document, schema, fields):
    properties = _properties(document, schema)
    for field in fields:
        assert "anyOf" not in properties[field], field
        assert "null" not in str(properties[field].get("type")), field
        assert "default" not in properties[field], field


def test_patch_fields_that_take_null_stay_nullable(document):
    properties = _properties(document, "MemberPatchIn")
    for field in ("department_id", "supervisor_id"):
        assert {"type": "null"} in properties[field]["anyOf"]


def test_bulk_status_goal_ids_are_declared_unique(document):
    assert _properties(document, "BulkStatusIn")["goal_ids"]["uniqueItems"] is True


def test_bounds_are_json_schema_minimum_and_maximum(document):
    for node in _walk(document["components"]["schemas"]):
        assert not {"ge", "le", "gt", "lt"} & set(node), node
    assert _properties(document, "GoalPatch")["weight"] | {"title": ""} == {
        "type": "integer", "minimum": 1, "maximum": 100, "title": "",
    }  # fmt: skip
    assert _properties(document, "FeedbackIn")["rating"]["maximum"] == 10


def test_patterns_mean_the_same_in_every_regex_dialect(document):
    # `\s`, `\w`, `\d`, `\b` differ between ECMA (the document's dialect) and the server's.
    shorthand = re.compile(r"(?<!\\)\\[sSwWdDbB]")
    patterns = [node["pattern"] for node in _walk(document) if isinstance(node.get("pattern"), str)]
    assert patterns
    assert [p for p in patterns if shorthand.search(p)] == []


def test_every_cursor_declares_its_alphabet_and_length(document):
    cursors = [
        parameter["schema"]["anyOf"][0]
        for operations in document["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "cursor"
    ]
    assert len(cursors) >= 8
    for cursor in cursors:
        assert (cursor["pattern"], cursor["maxLength"]) == ("^[A-Za-z0-9_-]*$", 512)


def test_every_operation_documents_414(document):
    assert 414 in COMMON_ERRORS
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "414" in operation["responses"]


def test_414_documents_the_envelope_and_the_http_servers_html(document):
    # Found by fuzzing: a request line over 8190 bytes is refused by gunicorn, in HTML.
    for operations in document["paths"].values():
        for operation in operations.values():
            content = operation["responses"]["414"]["content"]
            assert set(content) == {"application/json", "text/html"}
            assert content["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
