"""schemathesis hooks for scripts/fuzz.sh (loaded through `hooks` in schemathesis.toml).

The `positive_data_acceptance` check sends requests that match the OpenAPI document and
expects them not to be refused as invalid. Some rules of the contract (DESIGN.md §4) cannot be
written in JSON Schema, and the contract answers them with 422:

- a cursor is opaque: only one the server handed out is valid ("an invalid cursor is 422");
- a referenced id must exist in the org ("an id of another org (or an invisible one) inside
  a request body is 422 with its loc"; unknown `supervisor_email` in bulk create: "a 422 row");
- one email twice in a bulk batch is "a 422 row"; supervisors must not form a cycle;
- a period's `ends_on` must not be before its `starts_on`;
- `target_data` is checked against the goal's category by the service;
- a rating must be within the org's own scale (the schema states only the widest scale);
- a rejection comment must not be blank.

A 422 whose every detail is one of these (exact loc and message) is the contract working, so
that failure is dropped. Any other 422 for schema-valid input still fails the run: it means the
document promises more than the server accepts. The messages are the app's constants;
config/tests/test_fuzz_hooks.py keeps them in step.
"""

from __future__ import annotations

import json
import re
from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

ANY = None  # any message at that loc

# loc pattern (with "#" for a list index) → the messages of the rules above at that loc.
CONTRACT_422: dict[tuple[str, ...], frozenset[str] | None] = {
    ("query", "cursor"): frozenset({"The cursor is not valid."}),
    ("body", "ends_on"): frozenset({"ends_on must not be before starts_on."}),
    ("body", "period_id"): frozenset({"Unknown id."}),
    ("body", "owner_id"): frozenset({"Unknown id."}),
    ("body", "target_data"): ANY,  # and every loc under it
    ("body", "rating"): frozenset({"The rating must be between 1 and {scale}."}),
    ("body", "comment"): frozenset({"A rejection needs a comment."}),
    ("body", "department_id"): frozenset({"No department with this id in the organization."}),
    ("body", "supervisor_id"): frozenset(
        {
            "A member cannot supervise themselves.",
            "No member with this id in the organization.",
            "This member is deactivated and cannot supervise.",
            "This member already supervises that one, directly or not.",
        }
    ),
    ("body", "members", "#", "email"): frozenset(
        {"This email appears more than once in the batch."}
    ),
    ("body", "members", "#", "department_id"): frozenset(
        {"No department with this id in the organization."}
    ),
    ("body", "members", "#", "supervisor_email"): frozenset(
        {
            "A member cannot supervise themselves.",
            "No member or batch row has this email.",
            "This member is deactivated and cannot supervise.",
            "This member already supervises that one, directly or not.",
        }
    ),
}


def _message_matches(message: str, allowed: frozenset[str] | None) -> bool:
    if allowed is None:
        return True
    for template in allowed:
        pattern = re.escape(template).replace(re.escape("{scale}"), r"\d+")
        if re.fullmatch(pattern, message):
            return True
    return False


def is_contract_422(details: list[dict[str, Any]]) -> bool:
    """True when every detail is a rule of the contract that JSON Schema cannot express."""
    if not details:
        return False
    for item in details:
        loc = tuple("#" if isinstance(part, int) else str(part) for part in item.get("loc", []))
        if loc[:2] == ("body", "target_data"):
            loc = loc[:2]
        if loc not in CONTRACT_422 or not _message_matches(item.get("msg", ""), CONTRACT_422[loc]):
            return False
    return True


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure except a schema-valid request refused by a contract rule above."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return True
    try:
        details = json.loads(response.content).get("details", [])
    except (ValueError, AttributeError):
        return True
    return not is_contract_422(details)
