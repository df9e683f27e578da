from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import Field

from core.fields import fields_query, selectable
from core.inputs import StrictIn
from live.selectors import CHANGE_ITEM_FIELDS


class ChangeFull(Schema):
    seq: int
    type: str
    entity_type: str
    entity_id: int
    actor_id: int | None
    fields: list[str]
    at: datetime


ChangeOut = selectable(ChangeFull, "ChangeOut")


class ChangeFeedOut(Schema):
    items: list[ChangeOut]
    last_seq: int


class ChangeFilter(StrictIn):
    after: Annotated[int, Field(ge=0)] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    fields: fields_query(CHANGE_ITEM_FIELDS) = None
