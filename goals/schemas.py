"""Input and output shapes of the goals API. Inputs forbid unknown fields (422)."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field, field_validator

from core.fields import fields_query, selectable
from core.inputs import JsonBool, JsonDate, JsonInt, StrictIn, json_int, not_null
from core.pagination import Cursor, Limit
from goals.selectors import GOAL_ITEM_FIELDS
from goals.target_data import target_data_json_schema

GoalStatus = Literal["draft", "submitted", "approved", "rejected"]
GoalCategory = Literal["performance", "competency", "core_value"]
Weight = json_int(ge=1, le=100)


class PeriodIn(StrictIn):
    name: str = Field(min_length=1, max_length=100)
    starts_on: JsonDate
    ends_on: JsonDate
    status: Literal["planned", "active"] = "planned"


class PeriodPatch(StrictIn):
    name: str | None = Field(None, min_length=1, max_length=100)
    starts_on: JsonDate | None = None
    ends_on: JsonDate | None = None
    status: Literal["planned", "active", "closed"] | None = None


class PeriodOut(Schema):
    id: int
    name: str
    starts_on: datetime.date
    ends_on: datetime.date
    status: str
    created_at: datetime.datetime


# The period as page-shaped reads and dashboards show it (goals.selectors.PERIOD_BRIEF_FIELDS).
class PeriodBrief(Schema):
    id: int
    name: str
    status: str
    starts_on: datetime.date
    ends_on: datetime.date


class PeriodPage(Schema):
    items: list[PeriodOut]
    next_cursor: str | None


class CatalogIn(StrictIn):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    is_active: JsonBool = True


class CatalogOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool
    created_at: datetime.datetime


class CatalogPage(Schema):
    items: list[CatalogOut]
    next_cursor: str | None


class PageFilter(StrictIn):
    cursor: Cursor | None = None
    limit: Limit = 50


class GoalFilter(PageFilter):
    period_id: int | None = None
    owner_id: int | None = None
    status: GoalStatus | None = None
    category: GoalCategory | None = None
    fields: fields_query(GOAL_ITEM_FIELDS) = None


class GoalIn(StrictIn):
    period_id: JsonInt
    category: GoalCategory
    title: str = Field(min_length=1, max_length=200)
    weight: Weight
    # Shape checked by the service with `target_data_errors` (union + type == category), so
    # locs are ["body", "target_data", field] without pydantic's union tag segment.
    target_data: dict[str, Any] = Field(json_schema_extra=target_data_json_schema)
    owner_id: JsonInt | None = None


class GoalPatch(StrictIn):
    # Any of these; none may be null (`not_null`: the published schema says so too).
    title: str | None = Field(None, min_length=1, max_length=200, json_schema_extra=not_null)
    weight: Weight | None = Field(None, json_schema_extra=not_null)
    target_data: dict[str, Any] | None = Field(None, json_schema_extra=target_data_json_schema)

    @field_validator("title", "weight", "target_data")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class GoalOut(Schema):
    id: int
    period_id: int
    owner_id: int
    category: str
    title: str
    weight: int
    target_data: dict[str, Any]
    status: str
    review_comment: str
    reviewed_by_id: int | None
    reviewed_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


GoalListItem = selectable(GoalOut, "GoalListItem")


class GoalPage(Schema):
    items: list[GoalListItem]
    next_cursor: str | None


class GoalItems(Schema):
    items: list[GoalOut]


class RejectIn(StrictIn):
    comment: str = Field(min_length=1, max_length=5000)


class BulkStatusIn(StrictIn):
    goal_ids: list[JsonInt] = Field(
        min_length=1, max_length=500, json_schema_extra={"uniqueItems": True}
    )
    action: Literal["approve", "reject"]
    comment: str = Field("", max_length=5000)

    @field_validator("goal_ids")
    @classmethod
    def _unique(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("goal ids must be unique")
        return value
