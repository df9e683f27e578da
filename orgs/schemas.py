from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from core.fields import fields_query, selectable
from core.inputs import EMAIL_PATTERN, JsonBool, JsonInt, StrictIn, not_null
from core.pagination import Cursor, Limit
from orgs.selectors import AUDIT_ITEM_FIELDS, MEMBER_ITEM_FIELDS


class OrgBrief(Schema):
    slug: str
    name: str


class MemberOut(Schema):
    id: int
    user_id: int
    email: str
    full_name: str
    role: str
    department_id: int | None
    supervisor_id: int | None
    title: str
    is_active: bool
    created_at: datetime


class OrgMeOut(MemberOut):
    org: OrgBrief


class MembershipBrief(Schema):
    member_id: int
    org_slug: str
    org_name: str
    role: str


class AccountOut(Schema):
    id: int
    email: str
    full_name: str
    is_superuser: bool
    memberships: list[MembershipBrief]


# --- members, departments, audit (inputs reject unknown fields) -----------------------------

Role = Literal["admin", "manager", "employee"]
MAX_BULK_ROWS = 1000


class MemberFilter(Schema):
    """Query parameters of GET /members (bound as `filters`, so locs read ["query", field])."""

    is_active: bool | None = None
    role: Role | None = None
    department_id: int | None = None
    search: str | None = Field(None, max_length=200)
    sort_by: Literal["created_at", "full_name", "email"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    limit: Limit
    offset: int = Field(0, ge=0, le=1_000_000)
    cursor: Cursor | None = None
    fields: fields_query(MEMBER_ITEM_FIELDS) = None


MemberListItem = selectable(MemberOut, "MemberListItem")


class MemberPageOut(Schema):
    items: list[MemberListItem]
    count: int
    next_cursor: str | None


class MemberBulkRow(StrictIn):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    department_id: JsonInt | None = None
    supervisor_email: str | None = Field(None, max_length=254)
    title: str = Field("", max_length=200)
    password: str | None = Field(None, min_length=8, max_length=256)


class MemberBulkIn(StrictIn):
    members: list[MemberBulkRow] = Field(min_length=1, max_length=MAX_BULK_ROWS)


class MemberListOut(Schema):
    items: list[MemberOut]


class MemberPatchIn(StrictIn):
    """Any of these; an explicit null clears department_id or supervisor_id, and is refused
    for the others (`not_null`: the published schema says so too)."""

    role: Role | None = Field(None, json_schema_extra=not_null)
    department_id: JsonInt | None = None
    supervisor_id: JsonInt | None = None
    title: str | None = Field(None, max_length=200, json_schema_extra=not_null)
    is_active: JsonBool | None = Field(None, json_schema_extra=not_null)


class DepartmentIn(StrictIn):
    name: str = Field(min_length=1, max_length=200)


class DepartmentOut(Schema):
    id: int
    name: str
    created_at: datetime


class DepartmentFilter(Schema):
    limit: Limit
    cursor: Cursor | None = None


class DepartmentPageOut(Schema):
    items: list[DepartmentOut]
    next_cursor: str | None


class AuditFilter(Schema):
    entity_type: str | None = Field(None, max_length=32)
    entity_id: int | None = None
    actor_id: int | None = None
    limit: Limit
    cursor: Cursor | None = None
    fields: fields_query(AUDIT_ITEM_FIELDS) = None


class StaffActorOut(Schema):
    """The platform user who ran a support action (DESIGN.md §13)."""

    id: int
    email: str


class AuditEventOut(Schema):
    id: int
    actor_id: int | None = Field(
        description="The acting membership; null for platform staff (then `staff_actor`) and jobs"
    )
    staff_actor: StaffActorOut | None = Field(
        description="The platform user of a support action; null for members' own actions"
    )
    action: str
    entity_type: str
    entity_id: int
    changes: dict[str, Any]
    request_id: str
    created_at: datetime


AuditListItem = selectable(AuditEventOut, "AuditListItem")


class AuditPageOut(Schema):
    items: list[AuditListItem]
    next_cursor: str | None
