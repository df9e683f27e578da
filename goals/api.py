"""The goals router: periods, catalogs, goals and their workflow. Handlers only delegate."""

from ninja import Path, Query, Router
from ninja.responses import Status

from core.fields import fields_parse
from goals import selectors, services
from goals.schemas import (
    BulkStatusIn,
    CatalogIn,
    CatalogOut,
    CatalogPage,
    GoalFilter,
    GoalIn,
    GoalItems,
    GoalOut,
    GoalPage,
    GoalPatch,
    PageFilter,
    PeriodIn,
    PeriodOut,
    PeriodPage,
    PeriodPatch,
    RejectIn,
)
from orgs.tenancy import OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["goals"])


def _page(rows_cursor):
    rows, next_cursor = rows_cursor
    return {"items": rows, "next_cursor": next_cursor}


@router.get("/periods", response=PeriodPage, tags=["periods"])
def list_periods(request, org_slug: Path[str], filters: Query[PageFilter]):
    m = request.auth
    return _page(selectors.period_list(org=m.org, cursor=filters.cursor, limit=filters.limit))


@router.post("/periods", response={201: PeriodOut}, tags=["periods"])
def create_period(request, org_slug: Path[str], payload: PeriodIn):
    m = request.auth
    return Status(201, services.period_create(org=m.org, actor=m, **payload.model_dump()))


@router.patch("/periods/{id:period_id}", response=PeriodOut, tags=["periods"])
def update_period(request, org_slug: Path[str], period_id: int, payload: PeriodPatch):
    m = request.auth
    data = payload.model_dump(exclude_unset=True)
    return services.period_update(org=m.org, actor=m, period_id=period_id, data=data)


@router.get("/competencies", response=CatalogPage, tags=["catalogs"])
def list_competencies(request, org_slug: Path[str], filters: Query[PageFilter]):
    m = request.auth
    return _page(selectors.competency_list(org=m.org, cursor=filters.cursor, limit=filters.limit))


@router.post("/competencies", response={201: CatalogOut}, tags=["catalogs"])
def create_competency(request, org_slug: Path[str], payload: CatalogIn):
    m = request.auth
    return Status(201, services.competency_create(org=m.org, actor=m, **payload.model_dump()))


@router.get("/core-values", response=CatalogPage, tags=["catalogs"])
def list_core_values(request, org_slug: Path[str], filters: Query[PageFilter]):
    m = request.auth
    return _page(selectors.core_value_list(org=m.org, cursor=filters.cursor, limit=filters.limit))


@router.post("/core-values", response={201: CatalogOut}, tags=["catalogs"])
def create_core_value(request, org_slug: Path[str], payload: CatalogIn):
    m = request.auth
    return Status(201, services.core_value_create(org=m.org, actor=m, **payload.model_dump()))


@router.get("/goals", response=GoalPage, exclude_unset=True)
def list_goals(request, org_slug: Path[str], filters: Query[GoalFilter]):
    m = request.auth
    query = filters.model_dump()
    query["fields"] = fields_parse(query["fields"], known=selectors.GOAL_ITEM_FIELDS)
    return _page(selectors.goal_list(org=m.org, actor=m, **query))


@router.post("/goals", response={201: GoalOut})
def create_goal(request, org_slug: Path[str], payload: GoalIn):
    m = request.auth
    return Status(201, services.goal_create(org=m.org, actor=m, **payload.model_dump()))


@router.post("/goals/bulk-status", response=GoalItems)
def bulk_status(request, org_slug: Path[str], payload: BulkStatusIn):
    m = request.auth
    goals = services.goal_bulk_review(org=m.org, actor=m, **payload.model_dump())
    return {"items": goals}


@router.get("/goals/{id:goal_id}", response=GoalOut)
def get_goal(request, org_slug: Path[str], goal_id: int):
    return selectors.goal_get(org=request.auth.org, actor=request.auth, goal_id=goal_id)


@router.patch("/goals/{id:goal_id}", response=GoalOut)
def update_goal(request, org_slug: Path[str], goal_id: int, payload: GoalPatch):
    m = request.auth
    data = payload.model_dump(exclude_unset=True)
    return services.goal_update(org=m.org, actor=m, goal_id=goal_id, data=data)


@router.delete("/goals/{id:goal_id}", response={204: None})
def delete_goal(request, org_slug: Path[str], goal_id: int):
    services.goal_delete(org=request.auth.org, actor=request.auth, goal_id=goal_id)
    return Status(204, None)


@router.post("/goals/{id:goal_id}/submit", response=GoalOut)
def submit_goal(request, org_slug: Path[str], goal_id: int):
    return services.goal_submit(org=request.auth.org, actor=request.auth, goal_id=goal_id)


@router.post("/goals/{id:goal_id}/approve", response=GoalOut)
def approve_goal(request, org_slug: Path[str], goal_id: int):
    m = request.auth
    return services.goal_review(org=m.org, actor=m, goal_id=goal_id, approve=True)


@router.post("/goals/{id:goal_id}/reject", response=GoalOut)
def reject_goal(request, org_slug: Path[str], goal_id: int, payload: RejectIn):
    m = request.auth
    return services.goal_review(
        org=m.org, actor=m, goal_id=goal_id, approve=False, comment=payload.comment
    )
