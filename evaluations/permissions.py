"""Who may read which feedback (DESIGN.md §3), in one place.

The rule: the owner of a goal reads its feedback only once published; the reviewers (the
owner's supervisor, admins) read drafts too. Whose goals a member sees at all is goal
visibility (`goals.permissions.goal_visibility_q`); this rule only hides drafts from the owner.
Every read of feedback rows applies `feedback_visible_q`, in a filter or, where goals without
feedback must stay in the answer, as the per-row flag `feedback_visible_flag`; a write marks its
change `feedback_reviewers_only`, so the change feed hides it from the owner alike.
"""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q

from evaluations.models import SupervisorFeedback
from orgs.models import Membership

PUBLISHED = SupervisorFeedback.Status.PUBLISHED


def _path(prefix: str, field: str) -> str:
    return f"{prefix}__{field}" if prefix else field


def feedback_reviewers_only(status: str) -> bool:
    """Whether feedback in `status` is for the reviewers only (its owner may not read it yet):
    the rule of `feedback_visible_q` for one row in hand, e.g. the change a write records."""
    return status != PUBLISHED


def feedback_published_q(feedback: str = "") -> Q:
    """Published feedback: what its owner may read, and the only feedback that a weighted score
    or a count of feedback takes in. `feedback` is the path from the queried model to
    SupervisorFeedback ("" on feedback itself, "feedback" on goals)."""
    return Q(**{_path(feedback, "status"): PUBLISHED})


def feedback_visible_q(actor: Membership, *, feedback: str = "", goal: str = "goal") -> Q:
    """Feedback the actor may read: published, or on a goal the actor does not own.

    `feedback` and `goal` are the paths from the queried model to SupervisorFeedback and to
    Goal: the defaults query feedback; `feedback="feedback", goal=""` queries goals."""
    return feedback_published_q(feedback) | ~Q(**{_path(goal, "owner_id"): actor.pk})


def feedback_visible_flag(actor: Membership) -> ExpressionWrapper:
    """`feedback_visible_q` as a column of a goal query (`.annotate(...)`): true on the rows
    whose feedback the actor may read. Unlike a filter, it keeps every goal in the answer (read
    it only where the goal has feedback)."""
    return ExpressionWrapper(
        feedback_visible_q(actor, feedback="feedback", goal=""), output_field=BooleanField()
    )
