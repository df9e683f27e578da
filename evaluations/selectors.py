"""Reads of evaluations, for the page-shaped reads (goal-list-page, input-page, team-page).

The rule: the owner of a goal never sees a draft of its feedback, anywhere in the API;
the reviewers (the owner's supervisor, admins) do. Every read of feedback goes through
`feedback_visible_q`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from core.errors import NotFound
from core.pagination import keyset_page
from evaluations.models import SelfAssessment, SupervisorFeedback
from goals.models import Competency, CoreValue, Goal
from goals.permissions import can_see_member, goal_visibility_q, is_reviewer
from goals.selectors import PERIOD_BRIEF_FIELDS, PERIOD_NOT_FOUND, periods_given_or_active
from orgs.models import Membership, Organization

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


def feedback_visible_q(actor: Membership, goal_field: str = "goal") -> Q:
    """Feedback rows the actor may read: published ones, or drafts on goals it does not own.

    Combine with goal visibility (`goal_visibility_q(actor, f"{goal_field}__owner")`); this Q
    only hides drafts from the owner. `goal_field` is the path from the queried model to Goal.
    """
    published = Q(status=SupervisorFeedback.Status.PUBLISHED)
    return published | ~Q(**{f"{goal_field}__owner_id": actor.pk})


def evaluations_for_goals(
    *, org: Organization, actor: Membership, goal_ids: Iterable[int]
) -> dict[int, dict[str, dict[str, Any] | None]]:
    """{goal_id: {"self_assessment": item | None, "feedback": item | None}} for each id, in
    the given order. Two queries (one per table); goals the actor cannot see answer None."""
    goal_ids = list(dict.fromkeys(goal_ids))
    result: dict[int, dict[str, dict[str, Any] | None]] = {
        goal_id: {"self_assessment": None, "feedback": None} for goal_id in goal_ids
    }
    if not goal_ids:
        return result
    visible = goal_visibility_q(actor, "goal__owner")
    assessments = SelfAssessment.objects.filter(visible, org=org, goal_id__in=goal_ids).values(
        *SELF_ASSESSMENT_FIELDS
    )
    for row in assessments:
        result[row["goal_id"]]["self_assessment"] = row
    feedback = (
        SupervisorFeedback.objects.filter(visible, org=org, goal_id__in=goal_ids)
        .filter(feedback_visible_q(actor))
        .values(*FEEDBACK_FIELDS)
    )
    for row in feedback:
        result[row["goal_id"]]["feedback"] = row
    return result


# --- Page-shaped reads (DESIGN.md §4) ---------------------------------------------------

GOAL_ITEM_FIELDS = (
    "id", "period_id", "owner_id", "category", "title", "weight", "target_data", "status",
    "review_comment", "reviewed_by_id", "reviewed_at", "created_at", "updated_at",
)  # fmt: skip
MEMBER_ITEM_FIELDS = (
    "id", "user_id", "department_id", "supervisor_id", "title", "role", "is_active",
    "created_at",
)  # fmt: skip


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
            email=F("user__email"),
            full_name=F("user__full_name"),
            **{f"period_{n}": Subquery(periods.values(n)[:1]) for n in PERIOD_BRIEF_FIELDS},
        )
        .values(*MEMBER_ITEM_FIELDS, "email", "full_name",
                *(f"period_{n}" for n in PERIOD_BRIEF_FIELDS))
        .first()
    )  # fmt: skip
    if owner is None or not can_see_member(
        actor, member_id=owner["id"], supervisor_id=owner["supervisor_id"]
    ):
        raise NotFound("Member not found.")
    if reviewers_only and not is_reviewer(
        actor, owner_id=owner["id"], owner_supervisor_id=owner["supervisor_id"]
    ):
        raise NotFound("Member not found.")
    if period_id and owner["period_id"] is None:
        raise NotFound(PERIOD_NOT_FOUND)
    period = (
        {n: owner.pop(f"period_{n}") for n in PERIOD_BRIEF_FIELDS}
        if owner["period_id"] is not None
        else None
    )
    for n in PERIOD_BRIEF_FIELDS:
        owner.pop(f"period_{n}", None)

    is_owner = owner["id"] == actor.pk
    goals = Goal.objects.filter(org=org, owner_id=owner["id"], period_id=period and period["id"])
    rows = goals.values(
        *GOAL_ITEM_FIELDS,
        *(f"self_assessments__{n}" for n in SELF_ASSESSMENT_FIELDS),
        *(f"feedback__{n}" for n in FEEDBACK_FIELDS),
    ).order_by("created_at", "id")
    items = []
    for row in rows:
        item = {n: row[n] for n in GOAL_ITEM_FIELDS}
        sa = {n: row[f"self_assessments__{n}"] for n in SELF_ASSESSMENT_FIELDS}
        fb = {n: row[f"feedback__{n}"] for n in FEEDBACK_FIELDS}
        item["self_assessment"] = sa if sa["id"] is not None else None
        visible = fb["id"] is not None and (
            not is_owner or fb["status"] == SupervisorFeedback.Status.PUBLISHED
        )
        item["feedback"] = fb if visible else None
        items.append(item)

    published = Q(feedback__status="published")
    statuses = [s for s, _ in Goal.Status.choices]
    counts = goals.aggregate(
        weight_sum=Coalesce(Sum("weight"), 0),
        **{f"status_{s}": Count("id", filter=Q(status=s)) for s in statuses},
        points=Sum(F("weight") * F("feedback__rating"), filter=published),
        weighted=Sum("weight", filter=published),
    )
    score = round(counts["points"] / counts["weighted"], 2) if counts["weighted"] else None
    reviewer = is_reviewer(actor, owner_id=owner["id"], owner_supervisor_id=owner["supervisor_id"])
    editor = is_owner or actor.role == Membership.Role.ADMIN
    return {
        "period": period,
        "owner": owner,
        "goals": items,
        "totals": {
            "weight_sum": counts["weight_sum"],
            "by_status": {s: counts[f"status_{s}"] for s in statuses},
            "weighted_score": score,
        },
        "permissions": {
            "can_edit": editor,
            "can_submit": editor,
            "can_approve": reviewer,
            "can_give_feedback": reviewer,
        },
    }


CATALOG_ITEM_FIELDS = ("id", "name", "description", "is_active", "created_at")


def input_page(
    *, org: Organization, actor: Membership, member_id: int, period_id: int | None
) -> dict[str, Any]:
    """The reviewer's view of one report: the goal list (three queries, drafts of feedback
    included) plus the active competencies and the core values in one UNION ALL (four)."""
    page = goal_list_page(
        org=org, actor=actor, member_id=member_id, period_id=period_id, reviewers_only=True
    )
    competencies = (
        Competency.objects.filter(org=org, is_active=True)
        .annotate(kind=Value("competency"))
        .values("kind", *CATALOG_ITEM_FIELDS)
    )
    core_values = (
        CoreValue.objects.filter(org=org).annotate(kind=Value("core_value"))
        .values("kind", *CATALOG_ITEM_FIELDS)
    )  # fmt: skip
    catalogs: dict[str, list[dict[str, Any]]] = {"competency": [], "core_value": []}
    for row in competencies.union(core_values, all=True).order_by("kind", "name", "id"):
        catalogs[row.pop("kind")].append(row)
    return {**page, "competencies": catalogs["competency"], "core_values": catalogs["core_value"]}


def team_page(
    *,
    org: Organization,
    actor: Membership,
    period_id: int | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """The actor's direct reports (every member for an admin), one page, in two queries: the
    page of members; one GROUP BY over their goals in the period with FILTER counts."""
    periods = periods_given_or_active(org=org, period_id=period_id)
    members = Membership.objects.filter(org=org)
    if actor.role != Membership.Role.ADMIN:
        members = members.filter(supervisor_id=actor.pk)
    # The period rides along as a scalar subquery on each member row (no extra query).
    members = members.annotate(
        email=F("user__email"),
        full_name=F("user__full_name"),
        page_period_id=Subquery(periods.values("id")[:1]),
    ).values(*MEMBER_ITEM_FIELDS, "email", "full_name", "page_period_id")
    rows, next_cursor = keyset_page(
        members, ordering=("-created_at", "-id"), limit=limit, cursor=cursor
    )
    the_period_id = rows[0]["page_period_id"] if rows else None
    for row in rows:
        row.pop("page_period_id")
    if rows and period_id and the_period_id is None:
        raise NotFound(PERIOD_NOT_FOUND)
    statuses = [s for s, _ in Goal.Status.choices]
    published = Q(feedback__status="published")
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
                **{f"status_{s}": Count("id", filter=Q(status=s)) for s in statuses},
                self_assessed=Count("id", filter=Q(self_assessments__status="submitted")),
                feedback_published=Count("id", filter=published),
                points=Sum(F("weight") * F("feedback__rating"), filter=published),
                weighted=Sum("weight", filter=published),
            )
            .order_by()
        }
    items = []
    for member in rows:
        counts = per_owner.get(member["id"], {})
        weighted = counts.get("weighted")
        items.append(
            {
                "member": member,
                "goals": {
                    "total": counts.get("total", 0),
                    "by_status": {s: counts.get(f"status_{s}", 0) for s in statuses},
                },
                "self_assessments_submitted": counts.get("self_assessed", 0),
                "feedback_published": counts.get("feedback_published", 0),
                "weighted_score": round(counts["points"] / weighted, 2) if weighted else None,
            }
        )
    return {"items": items, "next_cursor": next_cursor}
