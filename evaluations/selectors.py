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

from django.db.models import F, Subquery, Sum, Value, Window

from core.errors import NotFound
from core.pagination import _after as keyset_after
from core.pagination import cursor_encode
from core.sql import CompiledQuery, Params, cursor_values
from evaluations.models import OWNER_GOAL_COUNTS, OwnerGoalRollup
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


def _page_owner_query(p: Params, period_given: bool):
    """The owner's member item, with the page's period riding along as scalar subqueries."""
    periods = periods_given_or_active(org=p.org_id, period_id=p.period_id if period_given else None)
    return (
        Membership.objects.filter(org_id=p.org_id, pk=p.member_id)
        .annotate(
            **MEMBER_USER_FIELDS,
            **{f"period_{n}": Subquery(periods.values(n)[:1]) for n in PERIOD_BRIEF_FIELDS},
        )
        .values(*MEMBER_ITEM_FIELDS, *(f"period_{n}" for n in PERIOD_BRIEF_FIELDS))[:1]
    )


def _page_goals_query(p: Params):
    """The owner's goals in the period, LEFT JOINed to self-assessment and feedback, with the
    page's totals on every row as window aggregates (so no separate aggregate query)."""
    goals = Goal.objects.filter(org_id=p.org_id, owner_id=p.owner_id, period_id=p.period_id)
    totals = {
        "total_weight": Sum("weight"),
        **{f"total_{name}": count for name, count in goal_status_counts().items()},
        **{f"total_{name}": sums for name, sums in weighted_score_sums().items()},
    }
    return (
        goals.annotate(
            feedback_visible=feedback_visible_flag(Membership(pk=p.actor_id)),
            **{name: Window(aggregate) for name, aggregate in totals.items()},
        )
        .values(
            *GOAL_ITEM_FIELDS,
            *(f"self_assessments__{n}" for n in SELF_ASSESSMENT_FIELDS),
            *(f"feedback__{n}" for n in FEEDBACK_FIELDS),
            "feedback_visible",
            *totals,
        )
        .order_by("created_at", "id")
    )


_PAGE_OWNER = CompiledQuery(_page_owner_query)
_PAGE_GOALS = CompiledQuery(_page_goals_query)
_GOAL_COLUMNS = len(GOAL_ITEM_FIELDS)
_SA_COLUMNS = slice(_GOAL_COLUMNS, _GOAL_COLUMNS + len(SELF_ASSESSMENT_FIELDS))
_FB_COLUMNS = slice(_SA_COLUMNS.stop, _SA_COLUMNS.stop + len(FEEDBACK_FIELDS))
_FEEDBACK_VISIBLE = _FB_COLUMNS.stop
_TOTALS_START = _FEEDBACK_VISIBLE + 1
_TOTAL_NAMES = ("total_weight", *(f"total_status_{s}" for s in GOAL_STATUSES),
                "total_score_points", "total_score_weight")  # fmt: skip


def goal_list_page(
    *,
    org: Organization,
    actor: Membership,
    member_id: int | None,
    period_id: int | None,
    reviewers_only: bool = False,
) -> dict[str, Any]:
    """The goal list of one member in one period, in two queries whatever the number of
    goals: (1) owner and period, (2) goals LEFT JOINed to self-assessment and feedback, the
    totals as window aggregates on each row. A member the actor cannot see is a 404; the
    owner never sees draft feedback, and the weighted score counts published feedback only.

    Both queries are compiled once per process (core.sql); rows are read as tuples."""
    member_id = member_id or actor.pk
    found = _PAGE_OWNER.dicts(
        (bool(period_id),), org_id=org.pk, member_id=member_id, period_id=period_id
    )
    owner = found[0] if found else None
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

    rows = (
        _PAGE_GOALS.rows(
            org_id=org.pk, owner_id=owner["id"], period_id=period["id"], actor_id=actor.pk
        )
        if period
        else []
    )
    items = []
    for row in rows:
        item = dict(zip(GOAL_ITEM_FIELDS, row, strict=False))
        sa, fb = row[_SA_COLUMNS], row[_FB_COLUMNS]
        feedback_visible = row[_FEEDBACK_VISIBLE]
        item["self_assessment"] = (
            dict(zip(SELF_ASSESSMENT_FIELDS, sa, strict=True)) if sa[0] is not None else None
        )
        item["feedback"] = (
            dict(zip(FEEDBACK_FIELDS, fb, strict=True))
            if fb[0] is not None and feedback_visible
            else None
        )
        items.append(item)
    totals = dict(zip(_TOTAL_NAMES, rows[0][_TOTALS_START:], strict=True)) if rows else {}
    reviewer = is_reviewer(actor, owner_id=owner["id"], owner_supervisor_id=owner["supervisor_id"])
    editor = is_editor(actor, owner_id=owner["id"])
    return {
        "period": period,
        "owner": owner,
        "goals": items,
        "totals": {
            "weight_sum": totals.get("total_weight") or 0,
            "by_status": {s: totals.get(f"total_status_{s}", 0) for s in GOAL_STATUSES},
            "weighted_score": weighted_score(
                {
                    "score_points": totals.get("total_score_points"),
                    "score_weight": totals.get("total_score_weight"),
                }
            ),
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


def _catalogs_query(p: Params):
    """The active competencies and the core values, in one UNION ALL."""
    competencies = (
        Competency.objects.filter(org_id=p.org_id, is_active=True)
        .annotate(kind=Value("competency"))
        .values("kind", *CATALOG_FIELDS)
    )
    core_values = (
        CoreValue.objects.filter(org_id=p.org_id).annotate(kind=Value("core_value"))
        .values("kind", *CATALOG_FIELDS)
    )  # fmt: skip
    return competencies.union(core_values, all=True).order_by("kind", "name", "id")


_CATALOGS = CompiledQuery(_catalogs_query)


def input_page(
    *, org: Organization, actor: Membership, member_id: int, period_id: int | None
) -> dict[str, Any]:
    """The reviewer's view of one report: the goal list (two queries, drafts of feedback
    included) plus the active competencies and the core values in one UNION ALL (three).
    An employee is 403; a member the actor does not review is 404."""
    ensure_admin_or_manager(actor)
    page = goal_list_page(
        org=org, actor=actor, member_id=member_id, period_id=period_id, reviewers_only=True
    )
    catalogs: dict[str, list[dict[str, Any]]] = {"competency": [], "core_value": []}
    for row in _CATALOGS.dicts(org_id=org.pk):
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


_TEAM_ORDERING = ("-created_at", "-id")


def _team_members_query(p: Params, role: str, period_given: bool, after: bool, limit: int):
    """One page of the actor's team (`team_q` of its role), newest first, with the page's
    period id riding along as a scalar subquery (no extra query)."""
    periods = periods_given_or_active(org=p.org_id, period_id=p.period_id if period_given else None)
    members = Membership.objects.filter(
        team_q(Membership(pk=p.actor_id, role=role)), org_id=p.org_id
    )
    if after:
        members = members.filter(
            keyset_after(_TEAM_ORDERING, [p.at("after_created_at"), p.after_id])
        )
    return (
        members.annotate(**MEMBER_USER_FIELDS, page_period_id=Subquery(periods.values("id")[:1]))
        .values(*MEMBER_ITEM_FIELDS, "page_period_id")
        .order_by(*_TEAM_ORDERING)[: limit + 1]
    )


def _team_goal_counts_query(p: Params):
    """The rollup rows (OwnerGoalRollup) of the page's members in the period: one primary-key
    lookup per member, the page's member ids as one array parameter."""
    return (
        OwnerGoalRollup.objects.filter(
            org_id=p.org_id, period_id=p.period_id, owner_id__any=p.owner_ids
        )
        .values("owner_id", *OWNER_GOAL_COUNTS)
        .order_by()
    )


_TEAM_MEMBERS = CompiledQuery(_team_members_query)
_TEAM_GOAL_COUNTS = CompiledQuery(_team_goal_counts_query)
_TEAM_CURSOR_FIELDS = (Membership._meta.get_field("created_at"), Membership._meta.pk)


def team_page(
    *,
    org: Organization,
    actor: Membership,
    period_id: int | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """The actor's direct reports (every member for an admin), one page, in two queries: the
    page of members; their goal counts in the period, read from the rollup kept by triggers
    (OwnerGoalRollup; a member without a row has no goals there). Managers and admins only
    (403). Both queries are compiled once per shape (core.sql)."""
    ensure_admin_or_manager(actor)
    after = cursor_values(cursor, _TEAM_CURSOR_FIELDS) if cursor else [None, None]
    rows = _TEAM_MEMBERS.dicts(
        (actor.role, bool(period_id), bool(cursor), limit),
        org_id=org.pk,
        actor_id=actor.pk,
        period_id=period_id,
        after_created_at=after[0],
        after_id=after[1],
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor_encode([rows[-1]["created_at"], rows[-1]["id"]])
    the_period_id = rows[0]["page_period_id"] if rows else None
    for row in rows:
        row.pop("page_period_id")
    if rows and period_id and the_period_id is None:
        raise NotFound(PERIOD_NOT_FOUND)
    per_owner = {}
    if rows and the_period_id is not None:
        per_owner = {
            row["owner_id"]: row
            for row in _TEAM_GOAL_COUNTS.dicts(
                org_id=org.pk, owner_ids=[r["id"] for r in rows], period_id=the_period_id
            )
        }
    items = []
    for member in rows:
        counts = per_owner.get(member["id"], {})
        items.append(
            {
                "member": member,
                "goals": {
                    "total": counts.get("goals", 0),
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
