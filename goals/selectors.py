"""Reads of the goals app. Every lookup is inside the org; invisible rows are 404."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from core.errors import NotFound
from core.fields import rows_project
from core.pagination import keyset_page
from goals.models import Competency, CoreValue, Goal, Period
from goals.permissions import goal_visibility_q
from orgs.models import Membership, Organization

GOAL_NOT_FOUND = "Goal not found."
PERIOD_NOT_FOUND = "Period not found."
# The period as page-shaped reads and dashboards show it.
PERIOD_BRIEF_FIELDS = ("id", "name", "status", "starts_on", "ends_on")

GOAL_STATUSES = [status for status, _ in Goal.Status.choices]

PERIOD_FIELDS = ("id", "name", "starts_on", "ends_on", "status", "created_at")
CATALOG_FIELDS = ("id", "name", "description", "is_active", "created_at")


def period_list(
    *, org: Organization, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    queryset = Period.objects.filter(org=org).values(*PERIOD_FIELDS)
    return keyset_page(queryset, ordering=["-starts_on", "-id"], limit=limit, cursor=cursor)


def _catalog_list(model, *, org: Organization, cursor: str | None, limit: int):
    queryset = model.objects.filter(org=org).values(*CATALOG_FIELDS)
    return keyset_page(queryset, ordering=["-created_at", "-id"], limit=limit, cursor=cursor)


def competency_list(*, org: Organization, cursor: str | None, limit: int):
    return _catalog_list(Competency, org=org, cursor=cursor, limit=limit)


def core_value_list(*, org: Organization, cursor: str | None, limit: int):
    return _catalog_list(CoreValue, org=org, cursor=cursor, limit=limit)


GOAL_ITEM_FIELDS = (
    "id", "period_id", "owner_id", "category", "title", "weight", "target_data", "status",
    "review_comment", "reviewed_by_id", "reviewed_at", "created_at", "updated_at",
)  # fmt: skip


def goal_list(
    *,
    org: Organization,
    actor: Membership,
    cursor: str | None,
    limit: int,
    period_id: int | None = None,
    owner_id: int | None = None,
    status: str | None = None,
    category: str | None = None,
    fields: list[str] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One query, of the item's columns (`fields` of them, plus the sort keys the cursor
    needs). A foreign or invisible `owner_id`/`period_id` simply matches nothing."""
    filters: dict[str, Any] = {}
    if period_id is not None:
        filters["period_id"] = period_id
    if owner_id is not None:
        filters["owner_id"] = owner_id
    if status is not None:
        filters["status"] = status
    if category is not None:
        filters["category"] = category
    columns = dict.fromkeys([*(fields or GOAL_ITEM_FIELDS), "created_at", "id"])
    queryset = Goal.objects.filter(goal_visibility_q(actor), org=org, **filters).values(*columns)
    rows, next_cursor = keyset_page(
        queryset, ordering=["-created_at", "-id"], limit=limit, cursor=cursor
    )
    return rows_project(rows, fields), next_cursor


def goal_status_counts() -> dict[str, Count]:
    """`status_<s>`: the number of goals in each status, for `.aggregate()` or `.annotate()`."""
    return {f"status_{s}": Count("id", filter=Q(status=s)) for s in GOAL_STATUSES}


def goal_get(*, org: Organization, actor: Membership, goal_id: int) -> Goal:
    goal = Goal.objects.filter(goal_visibility_q(actor), org=org, pk=goal_id).first()
    if goal is None:
        raise NotFound(GOAL_NOT_FOUND)
    return goal


def goal_get_for_update(
    *, org: Organization, actor: Membership, goal_id: int, lock_owner: bool = False
) -> Goal:
    """The goal (with owner and period) locked, for a write in the caller's transaction; 404
    when it is not in the org or not visible to the actor. `lock_owner` also locks the owner's
    membership row, which serializes that owner's submits so two can't both pass the weight
    check.

    With the owner, FOR NO KEY UPDATE (the goal and membership keys do not change): it still
    excludes another submit's lock and the last-admin check's, but not the KEY SHARE that
    inserts referencing the owner (an audit event of theirs) take, so those need not wait."""
    goal = (
        Goal.objects.select_related("owner", "period")
        .select_for_update(of=("self", "owner") if lock_owner else ("self",), no_key=lock_owner)
        .filter(goal_visibility_q(actor), org=org, pk=goal_id)
        .first()
    )
    if goal is None:
        raise NotFound(GOAL_NOT_FOUND)
    return goal


def periods_given_or_active(*, org: Organization, period_id: int | None) -> QuerySet[Period]:
    """The period a page or dashboard is about: the one asked for, else the org's active one
    (at most one row; unevaluated, so callers can embed it as a subquery)."""
    periods = Period.objects.filter(org=org)
    return periods.filter(pk=period_id) if period_id else periods.filter(status="active")
