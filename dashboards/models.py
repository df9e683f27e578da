"""The rollups behind the admin dashboard and the member stats (DESIGN.md §4, §6).

Two tables of counts, one row per key, so a dashboard reads O(departments) rows whatever the
size of the org:

- `MemberRollup` per (org, department): memberships, active ones, active ones by role.
- `GoalRollup` per (org, period, department of the goal's owner): goals, weight sum, goals by
  status and by category, submitted self-assessments, published feedback, and both rating
  histograms (one column per rating 1–10, the widest scale the database allows).

Design decisions:
- Maintained by PostgreSQL statement-level triggers with transition tables (migration 0002),
  not by calls in the write services. Every write reaches the tables through one of them: the
  services (ORM saves, queryset `.update()` of bulk actions), the raw-SQL import load, the
  admin, factories in tests, `COPY` of the seed. A trigger sees exactly the rows a statement
  changed, before and after, so it applies the delta (`ON CONFLICT DO UPDATE SET n = n + Δ`)
  in the writing transaction, for one row or 5,000, at no extra round trip (the write
  budgets in perf/budgets.toml count queries). No app below dashboards imports it: the layering
  of DESIGN.md §1 holds because the hook lives in the database, not in Python.
- "No department" is department_key 0 (ids start at 1): the key is then a plain primary key,
  without a nullable column or a partial unique index for ON CONFLICT to name.
- The primary key leads with org_id (Citus distributes the tables by it, co-located with the
  base tables). period_id and department_key are plain integers, not foreign keys: deleting a
  period or a department needs no rollup row gone first (its rows are zero by then: the
  collector deletes the goals and detaches the members before). The org is a foreign key
  without a cascade in Python: a trigger on orgs_organization deletes its rollups, last.
- Rows whose counts are all zero may stay; readers sum, and `rollups --verify` ignores them.
"""

from __future__ import annotations

from django.db import models

from evaluations.models import RATING_MAX, RATING_MIN
from goals.models import Goal
from orgs.models import Organization

GOAL_STATUSES = tuple(Goal.Status.values)
GOAL_CATEGORIES = tuple(Goal.Category.values)
RATINGS = range(RATING_MIN, RATING_MAX + 1)

MEMBER_COUNTS = ("members", "active_members", "active_admins", "active_managers",
                 "active_employees")  # fmt: skip
GOAL_COUNTS = (
    "goals",
    "weight_sum",
    *(f"status_{status}" for status in GOAL_STATUSES),
    *(f"category_{category}" for category in GOAL_CATEGORIES),
    "self_assessed",
    "feedback_published",
    *(f"self_rating_{rating}" for rating in RATINGS),
    *(f"feedback_rating_{rating}" for rating in RATINGS),
)


class MemberRollup(models.Model):
    pk = models.CompositePrimaryKey("org_id", "department_key")
    org = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )
    department_key = models.BigIntegerField(help_text="the department's id; 0: none")

    class Meta:
        db_table = "dashboards_memberrollup"

    def __str__(self) -> str:
        return f"members of org {self.org_id}, department {self.department_key}"


class GoalRollup(models.Model):
    pk = models.CompositePrimaryKey("org_id", "period_id", "department_key")
    org = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )
    period_id = models.BigIntegerField()
    department_key = models.BigIntegerField(help_text="the owner's department id; 0: none")

    class Meta:
        db_table = "dashboards_goalrollup"

    def __str__(self) -> str:
        return (
            f"goals of org {self.org_id}, period {self.period_id}, department {self.department_key}"
        )


# The count columns, one per name above, added here rather than spelled out 36 times.
for _model, _names in ((MemberRollup, MEMBER_COUNTS), (GoalRollup, GOAL_COUNTS)):
    for _name in _names:
        _model.add_to_class(_name, models.BigIntegerField(default=0))
