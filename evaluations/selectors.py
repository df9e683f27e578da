"""Reads of evaluations: the page-shaped reads (goal-list-page, input-page, team-page) and the
weighted score that they and the dashboards show.

Which feedback a member may read is `evaluations.permissions.feedback_visible_q`; who may open
each page is checked here, before any cache: the `*_cached` functions answer what
`core.pagecache.cached_page` needs, so a cached body or a 304 never reaches a member the rule
refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Count, F, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from core.errors import NotFound
from core.pagination import keyset_page
from evaluations.permissions import feedback_published_q, feedback_visible_flag
from goals.models import Competency, CoreValue, Goal
from goals.permissions import can_see_member, is_editor, is_reviewer
from goals.selectors import (
    CATALOG_FIELDS,
    GOAL_ITEM_FIELDS,
    GOAL_STATUSES,
    PERIOD_BRIEF_FIELDS,
    PERIOD_NOT_FOUND,
    goal_status_counts,
    periods_given_or_active,
)
from orgs.models import Membership, Organization
from orgs.permissions import ensure_admin_or_manager, team_q
from orgs.selectors import MEMBER_ITEM_FIELDS, MEMBER_USER_FIELDS, page_cache_args

SELF_ASSESSMENT_FIELDS = (
    "id",
    "goal_id",
    "rating",
    "comment",
    "status",
    "submitted_at",
    "created_at",
    "updated_at",
)
FEEDBACK_FIELDS = (
    "id",
    "goal_id",
    "author_id",
    "rating",
    "comment",
    "status",
    "published_at",
    "created_at",
    "updated_at",
)


# --- The weighted score (DESIGN.md §3) ----------------------------------------------------


def weighted_score_sums() -> dict[str, Sum]:
    """The two sums of the weighted score over goals, for `.aggregate()` or a grouped
    `.annotate()`: Σ weight × published feedback rating, Σ weight of goals with published
    feedback. `weighted_score` turns a row holding them into the score."""
    published = feedback_published_q("feedback")
    return {
        "score_points": Sum(F("weight") * F("feedback__rating"), filter=published),
        "score_weight": Sum("weight", filter=published),
    }


def weighted_score(sums: Mapping[str, Any]) -> float | None:
    """Σ weight × rating / Σ weight over published feedback, rounded to 2; None without any
    (also for a row that has no goals at all)."""
    weight = sums.get("score_weight")
    return round(sums["score_points"] / weight, 2) if weight else None


# --- Page-shaped reads (DESIGN.md §4) ---------------------------------------------------

MEMBER_NOT_FOUND = "Member not found."


def goal_list_page(
    *,
    org: Organization,
    actor: Membership,
    member_id: int | None,
    period_id: int | None,
    reviewers_only: bool = False,
) -> dict[str, Any]:
    """The goal list of one member in one period, in three queries whatever the number of
    goals: (1) owner and period, (2) goals LEFT JOINed to self-assessment and feedback,
    (3) totals aggregate. A member the actor cannot see is a 404; the owner never sees
    draft feedback, and the weighted score counts published feedback only."""
    member_id = member_id or actor.pk
    periods = periods_given_or_active(org=org, period_id=period_id)
    owner = (
        Membership.objects.filter(org=org, pk=member_id)
        .annotate(
            **MEMBER_USER_FIELDS,
            **{f"period_{n}": Subquery(periods.values(n)[:1]) for n in PERIOD_BRIEF_FIELDS},
        )
        .values(*MEMBER_ITEM_FIELDS, *(f"period_{n}" for n in PERIOD_BRIEF_FIELDS))
        .first()
    )
    if owner is None or not can_see_member(
        actor, member_id=owner["id"], supervisor_id=owner["supervisor_id"]
    ):
        raise NotFound(MEMBER_NOT_FOUND)
    if reviewers_only and not is_reviewer(
        actor, owner_id=owner["id"], owner_supervisor_id=owner["supervisor_id"]
    ):
        raise NotFound(MEMBER_NOT_FOUND)
    if period_id and owner["period_id"] is None:
        raise NotFound(PERIOD_NOT_FOUND)
    period = (
        {n: owner.pop(f"period_{n}") for n in PERIOD_BRIEF_FIELDS}
        if owner["period_id"] is not None
        else None
    )
    for n in PERIOD_BRIEF_FIELDS:
        owner.pop(f"period_{n}", None)

    goals = Goal.objects.filter(org=org, owner_id=owner["id"], period_id=period and period["id"])
    rows = (
        goals.annotate(feedback_visible=feedback_visible_flag(actor))
        .values(
            *GOAL_ITEM_FIELDS,
            *(f"self_assessments__{n}" for n in SELF_ASSESSMENT_FIELDS),
            *(f"feedback__{n}" for n in FEEDBACK_FIELDS),
            "feedback_visible",
        )
        .order_by("created_at", "id")
    )
    items = []
    for row in rows:
        item = {n: row[n] for n in GOAL_ITEM_FIELDS}
        sa = {n: row[f"self_assessments__{n}"] for n in SELF_ASSESSMENT_FIELDS}
        fb = {n: row[f"feedback__{n}"] for n in FEEDBACK_FIELDS}
        item["self_assessment"] = sa if sa["id"] is not None else None
        item["feedback"] = fb if fb["id"] is not None and row["feedback_visible"] else None
        items.append(item)

    counts = goals.aggregate(
        weight_sum=Coalesce(Sum("weight"), 0), **goal_status_counts(), **weighted_score_sums()
    )
    reviewer = is_reviewer(actor, owner_id=owner["id"], owner_supervisor_id=owner["supervisor_id"])
    editor = is_editor(actor, owner_id=owner["id"])
    return {
        "period": period,
        "owner": owner,
        "goals": items,
        "totals": {
            "weight_sum": counts["weight_sum"],
            "by_status": {s: counts[f"status_{s}"] for s in GOAL_STATUSES},
            "weighted_score": weighted_score(counts),
        },
        "permissions": {
            "can_edit": editor,
            "can_submit": editor,
            "can_approve": reviewer,
            "can_give_feedback": reviewer,
        },
    }


def goal_list_page_cached(
    *, org: Organization, actor: Membership, member_id: int | None, period_id: int | None
) -> dict[str, Any]:
    """`goal_list_page` for `cached_page`: one entry per caller and member, since what the
    caller may see of the member (drafts of feedback, permissions) depends on both. Who may
    see the member is checked by the build (a query); an entry exists only once it passed."""
    owner_id = member_id or actor.pk
    audience, params = f"{actor.pk}:{owner_id}", {"period_id": period_id, "member_id": owner_id}
    return page_cache_args(goal_list_page, org=org, actor=actor, audience=audience, params=params)


def input_page(
    *, org: Organization, actor: Membership, member_id: int, period_id: int | None
) -> dict[str, Any]:
    """The reviewer's view of one report: the goal list (three queries, drafts of feedback
    included) plus the active competencies and the core values in one UNION ALL (four).
    An employee is 403; a member the actor does not review is 404."""
    ensure_admin_or_manager(actor)
    page = goal_list_page(
        org=org, actor=actor, member_id=member_id, period_id=period_id, reviewers_only=True
    )
    competencies = (
        Competency.objects.filter(org=org, is_active=True)
        .annotate(kind=Value("competency"))
        .values("kind", *CATALOG_FIELDS)
    )
    core_values = (
        CoreValue.objects.filter(org=org).annotate(kind=Value("core_value"))
        .values("kind", *CATALOG_FIELDS)
    )  # fmt: skip
    catalogs: dict[str, list[dict[str, Any]]] = {"competency": [], "core_value": []}
    for row in competencies.union(core_values, all=True).order_by("kind", "name", "id"):
        catalogs[row.pop("kind")].append(row)
    return {**page, "competencies": catalogs["competency"], "core_values": catalogs["core_value"]}


def input_page_cached(
    *, org: Organization, actor: Membership, member_id: int, period_id: int | None
) -> dict[str, Any]:
    """`input_page` for `cached_page`, its role check first (an employee is 403 before any
    cache lookup)."""
    ensure_admin_or_manager(actor)
    audience, params = f"{actor.pk}:{member_id}", {"period_id": period_id, "member_id": member_id}
    return page_cache_args(input_page, org=org, actor=actor, audience=audience, params=params)


def team_page(
    *,
    org: Organization,
    actor: Membership,
    period_id: int | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """The actor's direct reports (every member for an admin), one page, in two queries: the
    page of members; one GROUP BY over their goals in the period with FILTER counts.
    Managers and admins only (403)."""
    ensure_admin_or_manager(actor)
    periods = periods_given_or_active(org=org, period_id=period_id)
    members = Membership.objects.filter(team_q(actor), org=org)
    # The period rides along as a scalar subquery on each member row (no extra query).
    members = members.annotate(
        **MEMBER_USER_FIELDS, page_period_id=Subquery(periods.values("id")[:1])
    ).values(*MEMBER_ITEM_FIELDS, "page_period_id")
    rows, next_cursor = keyset_page(
        members, ordering=("-created_at", "-id"), limit=limit, cursor=cursor
    )
    the_period_id = rows[0]["page_period_id"] if rows else None
    for row in rows:
        row.pop("page_period_id")
    if rows and period_id and the_period_id is None:
        raise NotFound(PERIOD_NOT_FOUND)
    per_owner = {}
    if rows and the_period_id is not None:
        per_owner = {
            row["owner_id"]: row
            for row in Goal.objects.filter(
                org=org, owner_id__in=[r["id"] for r in rows], period_id=the_period_id
            )
            .values("owner_id")
            .annotate(
                total=Count("id"),
                **goal_status_counts(),
                self_assessed=Count("id", filter=Q(self_assessments__status="submitted")),
                feedback_published=Count("id", filter=feedback_published_q("feedback")),
                **weighted_score_sums(),
            )
            .order_by()
        }
    items = []
    for member in rows:
        counts = per_owner.get(member["id"], {})
        items.append(
            {
                "member": member,
                "goals": {
                    "total": counts.get("total", 0),
                    "by_status": {s: counts.get(f"status_{s}", 0) for s in GOAL_STATUSES},
                },
                "self_assessments_submitted": counts.get("self_assessed", 0),
                "feedback_published": counts.get("feedback_published", 0),
                "weighted_score": weighted_score(counts),
            }
        )
    return {"items": items, "next_cursor": next_cursor}


def team_page_cached(
    *, org: Organization, actor: Membership, period_id: int | None, cursor: str | None, limit: int
) -> dict[str, Any]:
    """`team_page` for `cached_page`, its role check first (an employee is 403 before any
    cache lookup); one entry per caller (whose reports they are)."""
    ensure_admin_or_manager(actor)
    params = {"period_id": period_id, "cursor": cursor, "limit": limit}
    return page_cache_args(team_page, org=org, actor=actor, audience=f"{actor.pk}", params=params)
