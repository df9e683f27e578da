"""Keyset (cursor) pagination shared by every list endpoint (DESIGN.md §4).

The cursor is an opaque, URL-safe token holding the sort-key values of the last row served;
the next page is everything strictly after it in the list's order, so a page costs the same
at row 20 and at row 20,000 (no OFFSET scan). An undecodable cursor is a 422 on
`["query", "cursor"]`. `limit` defaults to 50; above 200 is a 422 (`Limit` below).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from pydantic import Field

from core.errors import Unprocessable, detail

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
Limit = Annotated[int, Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)]
# What `cursor_encode` makes: unpadded base64url, a few dozen characters for any ordering here.
# Declared so a client (and the fuzzer) knows the alphabet, and so a URL stays short.
MAX_CURSOR_LENGTH = 512
Cursor = Annotated[str, Field(max_length=MAX_CURSOR_LENGTH, pattern=r"^[A-Za-z0-9_-]*$")]
INVALID_CURSOR = "The cursor is not valid."


def _field(order: str) -> str:
    return order.lstrip("-")


def cursor_encode(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(details=[detail(["query", "cursor"], INVALID_CURSOR)]) from exc
    if not isinstance(values, list) or len(values) != size:
        raise Unprocessable(details=[detail(["query", "cursor"], INVALID_CURSOR)])
    return values


def _after(ordering: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after `values` in `ordering`: (a, b) > (x, y) spelled out as ORs."""
    condition = Q()
    for index, order in enumerate(ordering):
        lookup = "lt" if order.startswith("-") else "gt"
        step = Q(**{f"{_field(order)}__{lookup}": values[index]})
        for prev in range(index):
            step &= Q(**{_field(ordering[prev]): values[prev]})
        condition |= step
    return condition


def keyset_page(
    queryset: QuerySet,
    *,
    ordering: Sequence[str],
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Any], str | None]:
    """One page of `queryset` (model instances or `.values()` dicts) and the next cursor.

    `ordering` must end with a unique field (`-id`) so the order is total. One query.
    """
    queryset = queryset.order_by(*ordering)
    if cursor:
        try:
            queryset = queryset.filter(_after(ordering, cursor_decode(cursor, len(ordering))))
        except (ValueError, TypeError, ValidationError) as exc:  # a value of the wrong type
            raise Unprocessable(details=[detail(["query", "cursor"], INVALID_CURSOR)]) from exc
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    get = last.get if isinstance(last, dict) else lambda name: getattr(last, name)
    return rows, cursor_encode([get(_field(order)) for order in ordering])
