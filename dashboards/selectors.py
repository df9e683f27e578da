"""Reads of the dashboards: the org's member counts and the admin dashboard (admins only, checked
here before any cache, since every admin shares their cached entries), and each member's own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import NotFound
from evaluations.models import SelfAssessment, SupervisorFeedback
from evaluations.permissions import feedback_published_q
from evaluations.selectors import weighted_score, weighted_score_sums
from goals.models import Goal
from goals.selectors import (
    GOAL_STATUSES,
    PERIOD_BRIEF_FIELDS,
    PERIOD_NOT_FOUND,
    goal_status_counts,
    periods_given_or_active,
)
from orgs.models import Department, Membership, Organization
from orgs.permissions import ensure_admin
from orgs.selectors import page_cache_args


def dashboard_stats(*, org: Organization, actor: Membership) -> dict[str, Any]:
    """Member counts of the org in one aggregate query (an index scan on org_id). Admin only."""
    ensure_admin(actor)
    now = timezone.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    counts = Membership.objects.filter(org=org).aggregate(
        total_users=Count("id"),
        active_users=Count("id", filter=Q(is_active=True)),
        inactive_users=Count("id", filter=Q(is_active=False)),
        admins=Count("id", filter=Q(role=Membership.Role.ADMIN, is_active=True)),
        new_users_today=Count("id", filter=Q(created_at__gte=start_of_day)),
        new_users_week=Count("id", filter=Q(created_at__gte=now - timedelta(days=7))),
    )
    return {**counts, "timestamp": now}


def dashboard_stats_cached(*, org: Organization, actor: Membership) -> dict[str, Any]:
    """`dashboard_stats` for `cached_page`: one entry that every admin shares, so the role
    check runs here, before any cache lookup."""
    ensure_admin(actor)
    return page_cache_args(dashboard_stats, org=org, actor=actor, audience="admin", params={})


def _period_or_404(*, org: Organization, period_id: int | None) -> dict[str, Any] | None:
    period = (
        periods_given_or_active(org=org, period_id=period_id).values(*PERIOD_BRIEF_FIELDS).first()
    )
    if period is None and period_id:
        raise NotFound(PERIOD_NOT_FOUND)
    return period


def _count(queryset) -> Subquery:
    """A correlated COUNT(*) as a scalar subquery; 0, not NULL, when no row matches (the
    grouped subquery then returns no row at all)."""
    return Coalesce(
        Subquery(
            queryset.order_by().values("org_id").annotate(n=Count("*")).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def dashboard_admin(
    *, org: Organization, actor: Membership, period_id: int | None
) -> dict[str, Any]:
    """The admin dashboard in four aggregate queries, whatever the size of the org:
    period and members summary; goals by status and category; completion per department;
    rating distribution. Members without a department are counted in the summary only.
    Admin only."""
    ensure_admin(actor)
    active_members = Membership.objects.filter(org_id=OuterRef("pk"), is_active=True)
    period = periods_given_or_active(org=org, period_id=period_id)
    period_row = (
        Organization.objects.filter(pk=org.pk)
        .annotate(
            members_total=_count(Membership.objects.filter(org_id=OuterRef("pk"))),
            members_active=_count(active_members),
            members_admins=_count(active_members.filter(role="admin")),
            members_managers=_count(active_members.filter(role="manager")),
            members_employees=_count(active_members.filter(role="employee")),
            **{
                f"period_{name}": Subquery(period.values(name)[:1])
                for name in PERIOD_BRIEF_FIELDS
            },
        )
        .values(
            *(f"period_{name}" for name in PERIOD_BRIEF_FIELDS), "members_total", "members_active",
            "members_admins", "members_managers", "members_employees",
        )
        .first()
    )  # fmt: skip
    if period_row["period_id"] is None and period_id:
        raise NotFound(PERIOD_NOT_FOUND)
    the_period_id = period_row["period_id"]
    goals = Goal.objects.filter(org=org, period_id=the_period_id)

    # Per department, one GROUP BY over the period's goals; a goal has at most one
    # self-assessment and one feedback row, so the joins do not multiply rows.
    categories = [choice for choice, _ in Goal.Category.choices]
    per_department = list(
        goals.values("owner__department_id")
        .annotate(
            goal_count=Count("id"),
            weight_sum=Coalesce(Sum("weight"), 0),
            self_assessed=Count("self_assessments", filter=Q(self_assessments__status="submitted")),
            feedback_published=Count("feedback", filter=feedback_published_q("feedback")),
            **goal_status_counts(),
            **{f"category_{c}": Count("id", filter=Q(category=c)) for c in categories},
        )
        .order_by()
    )
    departments = (
        Department.objects.filter(org=org)
        .annotate(member_count=Count("members", filter=Q(members__is_active=True)))
        .order_by("name")
        .values("id", "name", "member_count")
    )
    by_department = {row["owner__department_id"]: row for row in per_department}

    def total(key: str) -> int:
        # Sums one aggregated row per department (not goal rows).
        return sum(row[key] for row in per_department)

    self_ratings = (
        SelfAssessment.objects.filter(org=org, goal__period_id=the_period_id, status="submitted")
        .values("rating")
        .annotate(kind=Value("self_assessment"), count=Count("id"))
        .values("kind", "rating", "count")
    )
    feedback_ratings = (
        SupervisorFeedback.objects.filter(
            feedback_published_q(), org=org, goal__period_id=the_period_id
        )
        .values("rating")
        .annotate(kind=Value("feedback"), count=Count("id"))
        .values("kind", "rating", "count")
    )
    distribution: dict[str, list[dict[str, int]]] = {"self_assessment": [], "feedback": []}
    for row in self_ratings.union(feedback_ratings, all=True).order_by("kind", "rating"):
        distribution[row["kind"]].append({"rating": row["rating"], "count": row["count"]})

    return {
        "period": {name: period_row[f"period_{name}"] for name in PERIOD_BRIEF_FIELDS}
        if the_period_id is not None
        else None,
        "members": {
            "total": period_row["members_total"],
            "active": period_row["members_active"],
            "by_role": {
                "admin": period_row["members_admins"],
                "manager": period_row["members_managers"],
                "employee": period_row["members_employees"],
            },
        },
        "goals": {
            "total": total("goal_count"),
            "weight_sum": total("weight_sum"),
            "by_status": {st: total(f"status_{st}") for st in GOAL_STATUSES},
            "by_category": {c: total(f"category_{c}") for c in categories},
        },
        "departments": [
            _department_item(row, by_department.get(row["id"], {})) for row in departments
        ],
        "rating_distribution": distribution,
    }


def dashboard_admin_cached(
    *, org: Organization, actor: Membership, period_id: int | None
) -> dict[str, Any]:
    """`dashboard_admin` for `cached_page`: one entry that every admin shares, so the role
    check runs here, before any cache lookup."""
    ensure_admin(actor)
    params = {"period_id": period_id}
    return page_cache_args(dashboard_admin, org=org, actor=actor, audience="admin", params=params)


def dashboard_me(*, org: Organization, member: Membership, period_id: int | None) -> dict:
    """The caller's own progress in a period, in two queries: the period, then one aggregate
    over their goals (feedback counts only once published: the owner never sees a draft)."""
    period = _period_or_404(org=org, period_id=period_id)
    goals = Goal.objects.filter(org=org, owner=member, period_id=period["id"] if period else None)
    counts = goals.aggregate(
        total=Count("id"),
        weight_sum=Coalesce(Sum("weight"), 0),
        **goal_status_counts(),
        self_assessed=Count("id", filter=Q(self_assessments__status="submitted")),
        feedback_published=Count("id", filter=feedback_published_q("feedback")),
        **weighted_score_sums(),
    )
    return {
        "period": period,
        "member_id": member.pk,
        "goals": {
            "total": counts["total"],
            "weight_sum": counts["weight_sum"],
            "by_status": {s: counts[f"status_{s}"] for s in GOAL_STATUSES},
        },
        "self_assessments_submitted": counts["self_assessed"],
        "feedback_published": counts["feedback_published"],
        "weighted_score": weighted_score(counts),
    }


def dashboard_me_cached(
    *, org: Organization, member: Membership, period_id: int | None
) -> dict[str, Any]:
    """`dashboard_me` for `cached_page`: every member may read their own; one entry each."""
    audience = f"member:{member.pk}"
    params = {"period_id": period_id}
    return page_cache_args(dashboard_me, org=org, member=member, audience=audience, params=params)


def _department_item(department: dict[str, Any], goals: dict[str, Any]) -> dict[str, Any]:
    approved = goals.get("status_approved", 0)
    published = goals.get("feedback_published", 0)
    return {
        "department_id": department["id"],
        "name": department["name"],
        "members": department["member_count"],
        "goals": goals.get("goal_count", 0),
        "approved_goals": approved,
        "self_assessments_submitted": goals.get("self_assessed", 0),
        "feedback_published": published,
        "completion_rate": round(published / approved, 4) if approved else 0.0,
    }
