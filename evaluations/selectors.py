"""Reads of evaluations, for the page-shaped reads (goal-list-page, input-page, team-page).

The rule: the owner of a goal never sees a draft of its feedback, anywhere in the API;
the reviewers (the owner's supervisor, admins) do. Every read of feedback goes through
`feedback_visible_q`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from evaluations.models import SelfAssessment, SupervisorFeedback
from goals.permissions import goal_visibility_q
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
