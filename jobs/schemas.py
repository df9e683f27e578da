from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from core.inputs import StrictIn
from core.pagination import Cursor, Limit
from jobs.models import ALL_EVENTS, EVENT_TYPES

JobStatus = Literal["queued", "running", "succeeded", "failed"]
JobKind = Literal["members.import"]
EventType = Literal[(ALL_EVENTS, *EVENT_TYPES)]  # type: ignore[valid-type]


class ProgressOut(Schema):
    done: int
    total: int


class RowErrorOut(Schema):
    line: int
    field: str | None
    msg: str


class JobErrorOut(Schema):
    message: str
    rows: list[RowErrorOut]


class JobOut(Schema):
    id: int
    kind: JobKind
    status: JobStatus
    progress: ProgressOut
    result: dict[str, Any] | None
    error: JobErrorOut | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobFilter(Schema):
    status: JobStatus | None = None
    kind: JobKind | None = None
    limit: Limit
    cursor: Cursor | None = None


class JobPageOut(Schema):
    items: list[JobOut]
    next_cursor: str | None


class WebhookIn(StrictIn):
    url: str = Field(min_length=1, max_length=2000, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES) + 1)


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="The signing secret: shown here, once, and never again.")


class WebhookPageOut(Schema):
    items: list[WebhookOut]
    next_cursor: str | None


class PageFilter(Schema):
    limit: Limit
    cursor: Cursor | None = None


class DeliveryOut(Schema):
    id: int
    seq: int
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    next_attempt_at: datetime | None
    created_at: datetime


class DeliveryPageOut(Schema):
    items: list[DeliveryOut]
    next_cursor: str | None
