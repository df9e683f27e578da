"""Field types for JSON request bodies that accept exactly what the OpenAPI document promises.

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
import re
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import BeforeValidator, Strict

NOT_AN_INTEGER = "Input should be a valid integer"
NOT_A_NUMBER = "Input should be a valid number"
NOT_A_DATE = "Input should be a date string in the format YYYY-MM-DD"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
