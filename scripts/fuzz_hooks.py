"""schemathesis hooks for scripts/fuzz.sh (loaded through `hooks` in schemathesis.toml).

Two jobs:

1. Generate what clients send. schemathesis only generates valid JSON, so it never sends a
   number that is not finite; clients do (`NaN`, `Infinity`, or a literal such as `1e309` that
   overflows to it). `flatmap_case` turns a quarter of the generated JSON bodies that hold a
   number into raw text with one number replaced by such a literal (DESIGN.md §4, "Hostile
   input": a 422, never a 500). The raw body is the case's body, so reports and reproductions
   show exactly what was sent, and schemathesis counts the case as negative (invalid input that
   must be refused): no failure is dropped for it.

2. Drop the `positive_data_acceptance` failures that are the contract working. That check sends
   requests that match the OpenAPI document and expects them not to be refused as invalid.
   Some rules of the contract (DESIGN.md §4) cannot be written in JSON Schema, and the contract
   answers them with 422:

   - a cursor is opaque: only one the server handed out is valid ("an invalid cursor is 422");
   - a referenced id must exist in the org ("an id of another org (or an invisible one) inside
     a request body is 422 with its loc"; unknown `supervisor_email` in bulk create: "a 422 row");
   - one email twice in a bulk batch is "a 422 row"; supervisors must not form a cycle;
   - a period's `ends_on` must not be before its `starts_on`;
   - `target_data` is checked against the goal's category by the service;
   - a rating must be within the org's own scale (the schema states only the widest scale);
   - a rejection comment must not be blank;
   - a NUL character in a string ("a NUL character anywhere in a string (body, query, path) is
     422 at its loc"): JSON Schema strings may hold it, PostgreSQL text cannot.
   - a webhook URL must be https and resolve to public addresses only (DESIGN.md §11, SSRF:
     "a refused URL is 422 at ["body", "url"]"); no generated host name resolves here.

   A 422 whose every detail is one of these (exact loc and message; for NUL, only where the
   request really sent a NUL at that loc) is the contract working, so that failure is dropped.
   Any other 422 for schema-valid input still fails the run: it means the document promises
   more than the server accepts. No other failure is ever dropped (a 5xx always fails the run).
   The messages are the app's constants; config/tests/test_fuzz_hooks.py keeps them in step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import schemathesis
from hypothesis import strategies as st
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
    # jobs.outbound.URL_REFUSALS
    ("body", "url"): frozenset(
        {
            "The URL must start with https://.",
            "The URL must name a host.",
            "The URL must not carry a user name or password.",
            "The URL's port is not valid.",
            "The URL's host name does not resolve.",
            "The URL's host resolves to a private, loopback or link-local address.",
        }
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

# core.inputs.NUL_CHARACTER: the detail of a NUL character at any loc (body, query, path).
NUL_CHARACTER = "The value must not contain a NUL character."

# Numbers a JSON body may carry that are not finite: Python's json (the server's parser) reads
# the first three as NaN and ±inf, the others overflow to ±inf.
NON_FINITE_LITERALS = ("NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1e999999999")


def _message_matches(message: str, allowed: frozenset[str] | None) -> bool:
    if allowed is None:
        return True
    for template in allowed:
        pattern = re.escape(template).replace(re.escape("{scale}"), r"\d+")
        if re.fullmatch(pattern, message):
            return True
    return False


def sent_nul_at(request: Mapping[str, Any], loc: list[Any]) -> bool:
    """True when the request sent a NUL character at `loc` (`["body", …]`, `["query", name]`,
    `["path", name]` or `["path"]`): in the string there, or in the key that ends the loc.

    `request` maps "body", "query" and "path" to what was sent (a raw body as bytes)."""
    if not loc:
        return False
    source, *path = loc
    current: Any = request.get(source)
    if source == "body" and isinstance(current, bytes | str):
        try:
            current = json.loads(current)
        except ValueError:
            return False
    if source == "path" and not path:  # a path that did not resolve: any segment
        return any("\x00" in str(value) for value in (current or {}).values())
    for part in path:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            return False
    if path and isinstance(path[-1], str) and "\x00" in path[-1]:
        return True
    values = current if source == "query" and isinstance(current, list) else [current]
    return any(isinstance(value, str) and "\x00" in value for value in values)


def is_contract_422(
    details: list[dict[str, Any]], request: Mapping[str, Any] | None = None
) -> bool:
    """True when every detail is a rule of the contract that JSON Schema cannot express.

    A NUL detail counts only with the `request` it answers, and only where that request sent
    a NUL (see `sent_nul_at`)."""
    if not details:
        return False
    for item in details:
        raw_loc = list(item.get("loc", []))
        message = item.get("msg", "")
        if message == NUL_CHARACTER:
            if request is None or not sent_nul_at(request, raw_loc):
                return False
            continue
        loc = tuple("#" if isinstance(part, int) else str(part) for part in raw_loc)
        if loc[:2] == ("body", "target_data"):
            loc = loc[:2]
        if loc not in CONTRACT_422 or not _message_matches(message, CONTRACT_422[loc]):
            return False
    return True


def is_contract_resync(response_status: int, body: Any, query: dict[str, Any] | None) -> bool:
    """GET /changes with an `after` the org never reached (or pruned): 410 `resync_required`
    (DESIGN.md §10). Which integers are positions of this org no schema can say."""
    return (
        response_status == 410
        and isinstance(body, dict)
        and body.get("error") == "resync_required"
        and "after" in (query or {})
    )


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure except a schema-valid request refused by a contract rule above."""
    if isinstance(failure, RejectedPositiveData) and response.status_code == 410:
        try:
            body = json.loads(response.content)
        except (ValueError, AttributeError):
            return True
        return not is_contract_resync(410, body, case.query)
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return True
    try:
        details = json.loads(response.content).get("details", [])
    except (ValueError, AttributeError):
        return True
    request = {"body": case.body, "query": case.query, "path": case.path_parameters}
    return not is_contract_422(details, request)


# --- Non-finite numbers ----------------------------------------------------------------------


def number_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where `value` (a parsed JSON document) holds a number (booleans are not numbers)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [path]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    return [found for key, item in items for found in number_paths(item, (*path, key))]


def dumps_with_literal(value: Any, target: tuple[str | int, ...], literal: str) -> str:
    """`value` as JSON text (as schemathesis would send it) with the value at `target` written
    as the raw `literal`, which json.dumps cannot produce for `1e309` and refuses for NaN."""

    def dump(item: Any, here: tuple[str | int, ...]) -> str:
        if here == target:
            return literal
        if isinstance(item, dict):
            fields = (f"{json.dumps(key)}: {dump(val, (*here, key))}" for key, val in item.items())
            return "{" + ", ".join(fields) + "}"
        if isinstance(item, list):
            return "[" + ", ".join(dump(val, (*here, i)) for i, val in enumerate(item)) + "]"
        return json.dumps(item)

    return dump(value, ())


def _is_json(media_type: str | None) -> bool:
    return bool(media_type) and media_type.split(";")[0].strip().lower() == "application/json"


def _with_non_finite(case, choice: tuple[int, tuple[str | int, ...], str]):
    mutate, target, literal = choice
    if mutate:
        # Setting the body marks the case modified: schemathesis validates it again, finds raw
        # text where the schema wants an object, and counts the case as negative.
        case.body = dumps_with_literal(case.body, target, literal).encode()
    return case


@schemathesis.hook
def flatmap_case(context, case):
    """One case in four with a JSON body holding a number: one number (any) sent as a
    non-finite literal. Hypothesis draws which case, which number and which literal, so a run
    replays with its seed."""
    if not _is_json(case.media_type) or not isinstance(case.body, dict | list):
        return st.just(case)
    paths = number_paths(case.body)
    if not paths:
        return st.just(case)
    choice = st.tuples(
        st.integers(0, 3).map(lambda n: n == 3),  # hypothesis favours 0: keep it intact
        st.sampled_from(paths),
        st.sampled_from(NON_FINITE_LITERALS),
    )
    return choice.map(lambda drawn: _with_non_finite(case, drawn))
