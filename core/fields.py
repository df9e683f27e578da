"""Field selection for list endpoints (DESIGN.md §4): `?fields=a,b,c` returns only those keys
of each item, selected in SQL (the selectors pass them to `.values()`), not trimmed after.

A list's item schema declares every field optional (`selectable`), and its route serializes
with `exclude_unset`, so a full item and a selected one both match the published document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from core.errors import Unprocessable, detail

UNKNOWN_FIELDS = "Unknown field(s): {unknown}. An item has: {known}."
NO_FIELDS = "Name at least one field, or leave `fields` out for all of them."


def fields_query(names: Sequence[str]) -> Any:
    """The `fields` query parameter of a list whose items have `names`. Its pattern admits
    exactly the lists of known names, so the document says what the server accepts."""
    name = "(" + "|".join(sorted(names, key=len, reverse=True)) + ")"
    return Annotated[
        str | None,
        Field(
            None,
            max_length=1000,
            pattern=rf"^{name}(,{name})*$",
            description="Comma-separated item fields to return (all when omitted): "
            + ", ".join(names),
        ),
    ]


def fields_parse(raw: str | None, *, known: Sequence[str]) -> list[str] | None:
    """The selected names in the item's own order; None for all. 422 at ["query", "fields"]."""
    if raw is None:
        return None
    asked = [name.strip() for name in raw.split(",") if name.strip()]
    if not asked:
        raise Unprocessable(details=[detail(["query", "fields"], NO_FIELDS)])
    unknown = sorted(set(asked) - set(known))
    if unknown:
        message = UNKNOWN_FIELDS.format(unknown=", ".join(unknown), known=", ".join(known))
        raise Unprocessable(details=[detail(["query", "fields"], message)])
    return [name for name in known if name in asked]


def rows_project(rows: list[dict[str, Any]], fields: Sequence[str] | None) -> list[dict]:
    """Drops the keys a page needed for its cursor but the caller did not ask for."""
    if fields is None:
        return rows
    return [{name: row[name] for name in fields} for row in rows]


def selectable(model: type, name: str) -> type:
    """`model` with every field optional and no null in the document: the item of a list that
    takes `?fields` (its route serializes with `exclude_unset`, so left-out keys are absent)."""
    from ninja import Schema
    from pydantic import create_model

    from core.inputs import not_null

    def no_default(schema: dict[str, Any]) -> None:
        schema.pop("default", None)

    fields = {
        field_name: (
            info.annotation,
            Field(
                None,
                description=info.description,
                # Nullable fields keep their null; the others must not gain one.
                json_schema_extra=no_default if _nullable(info.annotation) else not_null,
            ),
        )
        for field_name, info in model.model_fields.items()
    }
    return create_model(name, __base__=Schema, **fields)


def _nullable(annotation: Any) -> bool:
    import types
    import typing

    return (
        type(None) in typing.get_args(annotation)
        or annotation is type(None)
        or (isinstance(annotation, types.UnionType) and type(None) in annotation.__args__)
    )
