"""What evaluations guards in the apps below it."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.dispatch import receiver

from core.errors import Conflict
from evaluations.models import SelfAssessment, SupervisorFeedback
from goals.models import Goal
from goals.signals import goal_returning_to_draft

GOAL_HAS_EVALUATIONS = "The goal has a self-assessment or feedback; it cannot return to draft."


@receiver(goal_returning_to_draft)
def keep_evaluated_goals(sender, goal: Goal, **kwargs) -> None:
    """Self-assessments and feedback exist only on approved goals (DESIGN.md §3): one that has
    either stays approved. One query."""
    evaluated = Goal.objects.filter(pk=goal.pk).filter(
        Exists(SelfAssessment.objects.filter(goal_id=OuterRef("pk")))
        | Exists(SupervisorFeedback.objects.filter(goal_id=OuterRef("pk")))
    )
    if evaluated.exists():
        raise Conflict(GOAL_HAS_EVALUATIONS)
