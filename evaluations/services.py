"""Writes of evaluations: the owner's self-assessment and the reviewer's feedback on a goal.

Decisions (DESIGN.md §3 leaves them open):
- Check order: goal not visible → 404; role → 403; rating outside the org's scale → 422
  (loc ["body", "rating"]); goal not approved or period not writable → 409; locked → 409.
- A submitted self-assessment is final: any further PUT is 409, even an identical one.
  A draft may be rewritten any number of times; submitting stamps `submitted_at`.
- Published feedback may still be edited by the reviewers (the owner's supervisor or an
  admin) while the period is not closed; it stays published (a PUT with status "draft" on
  published feedback is 409: un-publishing would hide from the owner what they have already
  seen). `published_at` is the first publication and never moves; `updated_at` does.
- `author_id` is the reviewer who last wrote the feedback; the audit log keeps the history.
- PUT replaces: an omitted `comment` is stored as "".
- Feedback may be written in a planned or active period (not closed); a self-assessment only
  in an active one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, Forbidden, Unprocessable, detail
from evaluations.models import SelfAssessment, SupervisorFeedback
from evaluations.permissions import feedback_reviewers_only
from goals.models import Goal, Period
from goals.permissions import ensure_reviewer
from goals.selectors import goal_get_for_update
from orgs.audit import changes_between, record_change
from orgs.models import Membership, Organization

NOT_OWNER = "Only the goal's owner can write its self-assessment."
GOAL_NOT_APPROVED = "The goal is not approved."
PERIOD_NOT_ACTIVE = "The goal's period is not active."
PERIOD_CLOSED = "The goal's period is closed."
ASSESSMENT_SUBMITTED = "The self-assessment has been submitted and can no longer be changed."
FEEDBACK_PUBLISHED = "Published feedback cannot be returned to draft."
RATING_OUT_OF_SCALE = "The rating must be between 1 and {scale}."


def _ensure_rating_in_scale(*, org: Organization, rating: int) -> None:
    if not 1 <= rating <= org.rating_scale:
        message = RATING_OUT_OF_SCALE.format(scale=org.rating_scale)
        raise Unprocessable(details=[detail(["body", "rating"], message)])


def _ensure_goal_approved(goal: Goal) -> None:
    if goal.status != Goal.Status.APPROVED:
        raise Conflict(GOAL_NOT_APPROVED)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _snapshot(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _json(getattr(row, name)) for name in fields}


SELF_ASSESSMENT_AUDITED = ("rating", "comment", "status", "submitted_at")
FEEDBACK_AUDITED = ("author_id", "rating", "comment", "status", "published_at")


@transaction.atomic
def self_assessment_put(
    *,
    org: Organization,
    actor: Membership,
    goal_id: int,
    rating: int,
    comment: str,
    status: str,
) -> SelfAssessment:
    goal = goal_get_for_update(org=org, actor=actor, goal_id=goal_id)
    if goal.owner_id != actor.pk:
        raise Forbidden(NOT_OWNER)
    _ensure_rating_in_scale(org=org, rating=rating)
    _ensure_goal_approved(goal)
    if goal.period.status != Period.Status.ACTIVE:
        raise Conflict(PERIOD_NOT_ACTIVE)

    # The goal row is locked, so no concurrent request can create the row between these lines.
    assessment = SelfAssessment.objects.filter(org=org, goal=goal).first()
    created = assessment is None
    if created:
        assessment = SelfAssessment(org=org, goal=goal)
        before: dict[str, Any] = {}
    elif assessment.status == SelfAssessment.Status.SUBMITTED:
        raise Conflict(ASSESSMENT_SUBMITTED)
    else:
        before = _snapshot(assessment, SELF_ASSESSMENT_AUDITED)

    now = timezone.now()
    assessment.rating = rating
    assessment.comment = comment
    assessment.status = status
    if status == SelfAssessment.Status.SUBMITTED:
        assessment.submitted_at = now
    assessment.updated_at = now
    if created:
        assessment.created_at = now
        assessment.save(force_insert=True)
    else:
        assessment.save(update_fields=["rating", "comment", "status", "submitted_at", "updated_at"])

    record_change(
        org=org,
        actor=actor,
        action="self_assessment.create" if created else "self_assessment.update",
        entity_type="self_assessment",
        entity_id=assessment.pk,
        changes=changes_between(before, _snapshot(assessment, SELF_ASSESSMENT_AUDITED)),
        owner_id=goal.owner_id,
        change_entity_id=goal.pk,  # evaluations are addressed through their goal
    )
    return assessment


@transaction.atomic
def feedback_put(
    *,
    org: Organization,
    actor: Membership,
    goal_id: int,
    rating: int,
    comment: str,
    status: str,
) -> SupervisorFeedback:
    goal = goal_get_for_update(org=org, actor=actor, goal_id=goal_id)
    ensure_reviewer(actor, owner_id=goal.owner_id, owner_supervisor_id=goal.owner.supervisor_id)
    _ensure_rating_in_scale(org=org, rating=rating)
    _ensure_goal_approved(goal)
    if goal.period.status == Period.Status.CLOSED:
        raise Conflict(PERIOD_CLOSED)

    feedback = SupervisorFeedback.objects.filter(org=org, goal=goal).first()
    created = feedback is None
    if created:
        feedback = SupervisorFeedback(org=org, goal=goal)
        before: dict[str, Any] = {}
    elif (
        feedback.status == SupervisorFeedback.Status.PUBLISHED
        and status != SupervisorFeedback.Status.PUBLISHED
    ):
        raise Conflict(FEEDBACK_PUBLISHED)
    else:
        before = _snapshot(feedback, FEEDBACK_AUDITED)

    now = timezone.now()
    feedback.author_id = actor.pk
    feedback.rating = rating
    feedback.comment = comment
    feedback.status = status
    if status == SupervisorFeedback.Status.PUBLISHED and feedback.published_at is None:
        feedback.published_at = now
    feedback.updated_at = now
    if created:
        feedback.created_at = now
        feedback.save(force_insert=True)
    else:
        feedback.save(
            update_fields=["author", "rating", "comment", "status", "published_at", "updated_at"]
        )

    record_change(
        org=org,
        actor=actor,
        action="feedback.create" if created else "feedback.update",
        entity_type="feedback",
        entity_id=feedback.pk,
        changes=changes_between(before, _snapshot(feedback, FEEDBACK_AUDITED)),
        owner_id=goal.owner_id,
        # The owner never sees a draft: nor its changes.
        reviewers_only=feedback_reviewers_only(feedback.status),
        change_entity_id=goal.pk,
    )
    return feedback
