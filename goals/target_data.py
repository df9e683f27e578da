"""`Goal.target_data`: a discriminated union on `type`, one shape per goal category.

Used at the API boundary (GoalIn / GoalPatch) and again by `Goal.save()`, so neither the
admin nor a service can store an invalid structure. Catalog ids are checked against the org
by the goal services (a database question, not a shape question).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from core.inputs import JsonNumber, StrictIn, json_int

ShortText = Annotated[str, Field(min_length=1, max_length=500)]


class PerformanceTarget(StrictIn):
    type: Literal["performance"]
    metric: str = Field(min_length=1, max_length=200)
    target: JsonNumber
    unit: str = Field(min_length=1, max_length=50)
    baseline: JsonNumber | None = None
    direction: Literal["increase", "decrease", "maintain"]


class CompetencyTarget(StrictIn):
    type: Literal["competency"]
    competency_id: json_int(ge=1)
    expected_level: json_int(ge=1, le=5)
    action_plan: list[ShortText] = Field(default_factory=list, max_length=10)


class CoreValueTarget(StrictIn):
    type: Literal["core_value"]
    core_value_id: json_int(ge=1)
    behaviors: list[ShortText] = Field(min_length=1, max_length=10)


TargetData = Annotated[
    PerformanceTarget | CompetencyTarget | CoreValueTarget, Field(discriminator="type")
]
target_data_adapter: TypeAdapter[TargetData] = TypeAdapter(TargetData)


def target_data_json_schema(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of the `target_data` input fields: they are validated by the
    services (so locs carry no union tag), but the document still shows the three shapes."""
    shapes = target_data_adapter.json_schema()
    schema.clear()
    schema["oneOf"] = [shapes["$defs"][ref["$ref"].rsplit("/", 1)[1]] for ref in shapes["oneOf"]]


def target_data_errors(category: str, data: object) -> list[tuple[tuple, str]]:
    """[(loc within target_data, message)]; empty when `data` is valid for `category`.

    The union's tag segment that pydantic inserts in locs is dropped: `("expected_level",)`,
    not `("competency", "expected_level")`.
    """
    try:
        parsed = target_data_adapter.validate_python(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            if loc and loc[0] in ("performance", "competency", "core_value"):
                loc = loc[1:]
            errors.append((loc, error["msg"]))
        return errors
    if parsed.type != category:
        return [(("type",), f"must equal the goal's category ({category!r})")]
    return []
