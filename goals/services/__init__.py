"""Writes of the goals app: keyword-only, org first, one transaction, audited, version bumped.

A package since it passed ~400 lines (CONVENTIONS.md); callers import from `goals.services`.
"""

from goals.services.catalogs import competency_create, core_value_create
from goals.services.goals import (
    goal_bulk_review,
    goal_create,
    goal_delete,
    goal_return_to_draft,
    goal_review,
    goal_submit,
    goal_update,
)
from goals.services.periods import period_create, period_update

__all__ = [
    "competency_create",
    "core_value_create",
    "goal_bulk_review",
    "goal_create",
    "goal_delete",
    "goal_return_to_draft",
    "goal_review",
    "goal_submit",
    "goal_update",
    "period_create",
    "period_update",
]
