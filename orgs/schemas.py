from __future__ import annotations

from datetime import datetime

from ninja import Schema


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
