from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import Field

from core.inputs import StrictIn


class ChangeOut(Schema):
    seq: int
    type: str
    entity_type: str
    entity_id: int
    actor_id: int | None
    fields: list[str]
    at: datetime


class ChangeFeedOut(Schema):
    items: list[ChangeOut]
    last_seq: int


class ChangeFilter(StrictIn):
    after: Annotated[int, Field(ge=0)] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100
