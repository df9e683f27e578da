"""Org-scoped endpoints of the orgs app: /me, members, departments, audit log.

Handlers parse, call one selector or service (which applies the role rules of
orgs.permissions) and return; no ORM here.
"""

from ninja import Path, Query, Router, Status

from core.api import json_response
from core.fields import fields_parse
from orgs.schemas import (
    AccountOut,
    AuditFilter,
    AuditPageOut,
    DepartmentFilter,
    DepartmentIn,
    DepartmentOut,
    DepartmentPageOut,
    MemberBulkIn,
    MemberFilter,
    MemberListOut,
    MemberOut,
    MemberPageOut,
    MemberPatchIn,
    OrgMeOut,
)
from orgs.selectors import (
    AUDIT_ITEM_FIELDS,
    MEMBER_ITEM_FIELDS,
    account_get,
    audit_list,
    department_list,
    member_list,
)
from orgs.services import (
    MemberRow,
    department_create,
    department_update,
    member_bulk_create,
    member_update,
)
from orgs.tenancy import AccountAuth, OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["members"])
account_router = Router(auth=AccountAuth(), tags=["auth"])


@account_router.get("/me", response=AccountOut)
def account_me(request):
    # Built from the user's row and memberships for AccountOut: served as it is.
    return json_response(account_get(user_id=request.auth.user_id, cached=request.account_entry))


@router.get("/me", response=OrgMeOut)
def org_me(request, org_slug: Path[str]):
    member = request.auth
    # The cached member item (MemberOut's fields) and the org: served as they are.
    return json_response({**member.item, "org": {"slug": member.org.slug, "name": member.org.name}})


@router.get("/members", response=MemberPageOut, exclude_unset=True)
def members_list(request, org_slug: Path[str], filters: Query[MemberFilter]):
    """The org's member directory. Admins and managers read all of it (managers read-only:
    the directory is how they find people, e.g. to name a supervisor); employees get 403."""
    query = filters.model_dump()
    query["fields"] = fields_parse(query["fields"], known=MEMBER_ITEM_FIELDS)
    # Rows are selected for MemberPageOut: served as they are, not validated one by one.
    return json_response(member_list(org=request.auth.org, actor=request.auth, **query))


@router.post("/members/bulk", response={201: MemberListOut})
def members_bulk_create(request, org_slug: Path[str], payload: MemberBulkIn):
    rows = [MemberRow(**row.model_dump()) for row in payload.members]
    items = member_bulk_create(org=request.auth.org, actor=request.auth, rows=rows)
    return Status(201, {"items": items})


@router.patch("/members/{id:member_id}", response=MemberOut)
def members_update(request, org_slug: Path[str], member_id: Path[int], payload: MemberPatchIn):
    return member_update(
        org=request.auth.org,
        actor=request.auth,
        member_id=member_id,
        data=payload.model_dump(exclude_unset=True),
    )


@router.get("/departments", response=DepartmentPageOut, tags=["departments"])
def departments_list(request, org_slug: Path[str], filters: Query[DepartmentFilter]):
    """Every member of the org may read the departments."""
    return department_list(org=request.auth.org, **filters.model_dump())


@router.post("/departments", response={201: DepartmentOut}, tags=["departments"])
def departments_create(request, org_slug: Path[str], payload: DepartmentIn):
    return Status(
        201, department_create(org=request.auth.org, actor=request.auth, name=payload.name)
    )


@router.patch("/departments/{id:department_id}", response=DepartmentOut, tags=["departments"])
def departments_update(
    request, org_slug: Path[str], department_id: Path[int], payload: DepartmentIn
):
    return department_update(
        org=request.auth.org, actor=request.auth, department_id=department_id, name=payload.name
    )


@router.get("/audit", response=AuditPageOut, tags=["audit"], exclude_unset=True)
def audit_events_list(request, org_slug: Path[str], filters: Query[AuditFilter]):
    query = filters.model_dump()
    query["fields"] = fields_parse(query["fields"], known=AUDIT_ITEM_FIELDS)
    return audit_list(org=request.auth.org, actor=request.auth, **query)
