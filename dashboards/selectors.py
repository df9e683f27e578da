"""Reads of the dashboards: the org's member counts and the admin dashboard (admins only, checked
here before any cache, since every admin shares their cached entries), and each member's own.

The two admin reads come from the rollups (dashboards.models, kept by triggers in the writing
transaction): O(departments) rows instead of a GROUP BY over the period's goals. Their SQL is
written out once, not built by the ORM per request: at ~0.3 ms of PostgreSQL, Django's query
compilation would be most of a cold read (README "Known costs").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import NotFound
from dashboards.models import (
    GOAL_CATEGORIES,
    GOAL_COUNTS,
    GOAL_STATUSES,
    RATINGS,
    GoalRollup,
    MemberRollup,
)
from evaluations.permissions import feedback_published_q
from evaluations.selectors import weighted_score, weighted_score_sums
from goals.models import Goal
from goals.selectors import (
    PERIOD_BRIEF_FIELDS,
    PERIOD_NOT_FOUND,
    goal_status_counts,
    periods_given_or_active,
)
from orgs.models import Membership, Organization
from orgs.permissions import ensure_admin
from orgs.selectors import page_cache_args

# One statement: the member counts summed over the org's department rows of the rollup, and
# the members who joined since the day / the week began, counted on the (org_id, created_at)
# index: those windows slide with the clock, so no stored count can answer them, and the range
# holds the week's newcomers only, not the org.
_STATS_SQL = f"""
SELECT COALESCE(SUM(r.members), 0)::bigint, COALESCE(SUM(r.active_members), 0)::bigint,
       COALESCE(SUM(r.active_admins), 0)::bigint, new.today, new.week
FROM (
    SELECT count(*) FILTER (WHERE created_at >= %(day)s) AS today,
           count(*) FILTER (WHERE created_at >= %(week)s) AS week
    FROM orgs_membership WHERE org_id = %(org)s AND created_at >= LEAST(%(day)s, %(week)s)
) AS new
LEFT JOIN {MemberRollup._meta.db_table} r ON r.org_id = %(org)s
GROUP BY new.today, new.week
"""  # noqa: S608 - a table name, no input


def _read_connection(model: type) -> Any:
    """The connection the router picks for reads of `model` (the replica inside a page build,
    core.replica), as the ORM would."""
    return connections[router.db_for_read(model) or DEFAULT_DB_ALIAS]


def dashboard_stats(*, org: Organization, actor: Membership) -> dict[str, Any]:
    """Member counts of the org in one query: the rollup's department rows (dashboards.models)
    and the newcomers of the day and the week from an index range. Admin only."""
    ensure_admin(actor)
    now = timezone.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    params = {"org": org.pk, "day": start_of_day, "week": now - timedelta(days=7)}
    with _read_connection(MemberRollup).cursor() as cursor:
        cursor.execute(_STATS_SQL, params)
        total, active, admins, today, week = cursor.fetchone()
    return {
        "total_users": total,
        "active_users": active,
        "inactive_users": total - active,
        "admins": admins,
        "new_users_today": today,
        "new_users_week": week,
        "timestamp": now,
    }


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


_PERIOD_COLUMNS = ", ".join(f"p.{name}" for name in PERIOD_BRIEF_FIELDS)
_MEMBER_SUMS = ", ".join(
    f"COALESCE(SUM({name}), 0)::bigint"
    for name in ("members", "active_members", "active_admins", "active_managers",
                 "active_employees")
)  # fmt: skip
_GOAL_SUMS = ", ".join(f"COALESCE(SUM(r.{name}), 0)::bigint" for name in GOAL_COUNTS)

# The period (the one asked for, else the active one), the members summary and the period's
# goal counts summed over its department rows: one row, whatever the size of the org.
_ADMIN_SUMMARY_SQL = f"""
SELECT {_PERIOD_COLUMNS}, members.*, goals.*
FROM (SELECT {_MEMBER_SUMS} FROM {MemberRollup._meta.db_table} WHERE org_id = %(org)s) AS members
LEFT JOIN (
    SELECT {", ".join(PERIOD_BRIEF_FIELDS)} FROM goals_period
    WHERE org_id = %(org)s
      AND CASE WHEN %(period)s::bigint IS NULL THEN status = 'active' ELSE id = %(period)s END
    LIMIT 1
) AS p ON true
LEFT JOIN LATERAL (
    SELECT {_GOAL_SUMS} FROM {GoalRollup._meta.db_table} r
    WHERE r.org_id = %(org)s AND r.period_id = p.id
) AS goals ON true
"""  # noqa: S608 - names, no input

# Every department of the org, by name, with its active members and its row of the period.
_ADMIN_DEPARTMENTS_SQL = f"""
SELECT d.id, d.name, COALESCE(m.active_members, 0)::bigint, COALESCE(g.goals, 0)::bigint,
       COALESCE(g.status_approved, 0)::bigint, COALESCE(g.self_assessed, 0)::bigint,
       COALESCE(g.feedback_published, 0)::bigint
FROM orgs_department d
LEFT JOIN {MemberRollup._meta.db_table} m ON m.org_id = d.org_id AND m.department_key = d.id
LEFT JOIN {GoalRollup._meta.db_table} g
       ON g.org_id = d.org_id AND g.period_id = %(period)s AND g.department_key = d.id
WHERE d.org_id = %(org)s
ORDER BY d.name
"""  # noqa: S608 - names, no input


def dashboard_admin(
    *, org: Organization, actor: Membership, period_id: int | None
) -> dict[str, Any]:
    """The admin dashboard in two queries over the rollups (dashboards.models), whatever the
    size of the org: the period with the members summary and the period's totals (goals by
    status and category, rating distribution); the departments with their completion.
    Members without a department are counted in the summary only. Admin only."""
    ensure_admin(actor)
    connection = _read_connection(GoalRollup)
    with connection.cursor() as cursor:
        cursor.execute(_ADMIN_SUMMARY_SQL, {"org": org.pk, "period": period_id or None})
        row = cursor.fetchone()
        period = dict(zip(PERIOD_BRIEF_FIELDS, row, strict=False))
        if period["id"] is None and period_id:
            raise NotFound(PERIOD_NOT_FOUND)
        members = row[len(PERIOD_BRIEF_FIELDS) : len(PERIOD_BRIEF_FIELDS) + 5]
        goals = dict(zip(GOAL_COUNTS, row[len(PERIOD_BRIEF_FIELDS) + 5 :], strict=True))
        cursor.execute(_ADMIN_DEPARTMENTS_SQL, {"org": org.pk, "period": period["id"]})
        departments = cursor.fetchall()

    distribution: dict[str, list[dict[str, int]]] = {
        kind: [
            {"rating": rating, "count": goals[f"{kind}_rating_{rating}"]}
            for rating in RATINGS
            if goals[f"{kind}_rating_{rating}"]
        ]
        for kind in ("self", "feedback")
    }
    total, active, admins, managers, employees = members
    return {
        "period": period if period["id"] is not None else None,
        "members": {
            "total": total,
            "active": active,
            "by_role": {"admin": admins, "manager": managers, "employee": employees},
        },
        "goals": {
            "total": goals["goals"],
            "weight_sum": goals["weight_sum"],
            "by_status": {status: goals[f"status_{status}"] for status in GOAL_STATUSES},
            "by_category": {c: goals[f"category_{c}"] for c in GOAL_CATEGORIES},
        },
        "departments": [_department_item(*department) for department in departments],
        "rating_distribution": {
            "self_assessment": distribution["self"],
            "feedback": distribution["feedback"],
        },
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


def _department_item(
    department_id: int,
    name: str,
    members: int,
    goals: int,
    approved: int,
    self_assessed: int,
    published: int,
) -> dict[str, Any]:
    return {
        "department_id": department_id,
        "name": name,
        "members": members,
        "goals": goals,
        "approved_goals": approved,
        "self_assessments_submitted": self_assessed,
        "feedback_published": published,
        "completion_rate": round(published / approved, 4) if approved else 0.0,
    }
