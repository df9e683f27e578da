"""Strict inputs: the one base of every input schema, and field types for JSON request bodies
that accept exactly what the OpenAPI document promises.

`StrictIn` refuses unknown fields (422), so nothing unexpected is ever bound.

Pydantic's lax mode coerces: `"5"` and `true` pass as the integer 5 and 1, `0` as the boolean
false, `0` or `"0"` as the date 1970-01-01. The document says `integer`, `boolean` and
`string` with `format: date`, so a client generated from it never sends those, and a server
that takes them hides client bugs. Strict mode goes too far the other way: it refuses `5.0`,
which JSON Schema counts as an integer, and (for Python input, which is what Ninja validates)
every date given as a string. These types sit in between. Query parameters are strings on the
wire and keep Ninja's parsing.

`not_null` is for PATCH fields that may be omitted but not sent as null: the field stays
`X | None` in Python (None means "not sent"), and its published schema drops the null branch.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Annotated, Any

from annotated_types import Interval
from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Strict

NOT_AN_INTEGER = "Input should be a valid integer"
NOT_A_NUMBER = "Input should be a valid number"
NOT_A_DATE = "Input should be a date string in the format YYYY-MM-DD"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class StrictIn(Schema):
    """The base of every input schema (and of the shapes inside one): unknown fields are 422."""

    model_config = ConfigDict(extra="forbid")


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError(NOT_AN_INTEGER)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # int; anything else fails pydantic's own integer check


def _json_number(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError(NOT_A_NUMBER)
    return value  # int or float; anything else fails pydantic's own number check


def _json_date(value: Any) -> Any:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(NOT_A_DATE)
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


def json_int(*, ge: int | None = None, le: int | None = None) -> Any:
    """JsonInt with bounds. The bounds go inside, next to `int`: put on the outside (a
    `Field(ge=…)` around JsonInt) pydantic still checks them but publishes `ge`/`le`, which
    are not JSON Schema, instead of `minimum`/`maximum`."""
    return Annotated[int, Interval(ge=ge, le=le), BeforeValidator(_json_integer)]


JsonNumber = Annotated[float, BeforeValidator(_json_number)]
JsonBool = Annotated[bool, Strict()]
JsonDate = Annotated[datetime.date, BeforeValidator(_json_date)]


def not_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of an optional field that must not be null: no null branch, no
    `default: null` in the published schema."""
    branches = schema.pop("anyOf", None)
    if branches is not None:
        rest = [branch for branch in branches if branch.get("type") != "null"]
        if len(rest) == 1:
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest
    schema.pop("default", None)


# An email as every input takes it (bulk create, imports): something@something.tld.
# No `\s`: it means other characters in pydantic's regex engine (Unicode White_Space, with
# U+0085, without U+FEFF) than in the ECMA dialect of the OpenAPI document, so clients and the
# server would disagree. Spelled out: no "@", no ASCII control or space, no Unicode space.
_EMAIL_CHAR = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+$"


# --- Hostile input: one boundary for every request -------------------------------------------
# PostgreSQL text and jsonb cannot hold NUL, and jsonb cannot hold NaN or ±Infinity: such input
# would fail in the database (a 500). It is refused before any view runs, at its loc, by
# `core.middleware.HostileInputMiddleware`, so no endpoint can forget it.

NUL_CHARACTER = "The value must not contain a NUL character."
NOT_FINITE = "The number must be finite."


def json_body_problems(value: Any, loc: list[str | int]) -> list[dict[str, Any]]:
    """Details for every string (key or value) holding NUL and every non-finite number in a
    parsed JSON document; `loc` is where `value` sits (["body"] for the whole body)."""
    problems: list[dict[str, Any]] = []
    stack: list[tuple[Any, list[str | int]]] = [(value, loc)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, str):
            if "\x00" in current:
                problems.append({"loc": where, "msg": NUL_CHARACTER})
        elif isinstance(current, float):
            if not math.isfinite(current):
                problems.append({"loc": where, "msg": NOT_FINITE})
        elif isinstance(current, dict):
            for key, item in current.items():
                if "\x00" in key:
                    problems.append({"loc": [*where, key], "msg": NUL_CHARACTER})
                else:
                    stack.append((item, [*where, key]))
        elif isinstance(current, list):
            stack.extend((item, [*where, index]) for index, item in enumerate(current))
    problems.sort(key=lambda problem: [str(part) for part in problem["loc"]])
    return problems


# --- Path ids ----------------------------------------------------------------------------------


class PathIdConverter:
    """`{id:goal_id}` in a route: canonical decimal digits, no sign, no leading zero, no
    fraction or padding, at most 18 digits (always inside PostgreSQL's bigint). Anything else
    does not route, so `/goals/12.0`, `/goals/+12` and `/goals/%2012` are 404 before any SQL."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
