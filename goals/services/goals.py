"""Goal writes and the review workflow, including the constant-cost bulk review."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.errors import Conflict, Forbidden, NotFound, Unprocessable, detail
from goals.models import Competency, CoreValue, Goal, Period
from goals.permissions import (
    CANNOT_REVIEW_OWN,
    NOT_REVIEWER,
    ensure_editor,
    ensure_reviewer,
    goal_visibility_q,
    is_reviewer,
)
from goals.selectors import GOAL_NOT_FOUND, goal_get_for_update
from goals.services._common import (
    GOAL_ALREADY_DRAFT,
    GOAL_FIELDS,
    GOAL_NOT_DELETABLE,
    GOAL_NOT_EDITABLE,
    GOAL_NOT_SUBMITTABLE,
    GOAL_NOT_SUBMITTED,
    OWNER_NOT_SELF,
    PERIOD_CLOSED,
    REJECT_NEEDS_COMMENT,
    UNKNOWN_ID,
    WEIGHT_BUDGET,
    ensure_period_open,
)
from goals.signals import goal_returning_to_draft
from goals.target_data import target_data_errors
from orgs.audit import AuditEntry, audit_record_many, changes_between, record_change
from orgs.models import Membership, Organization
from orgs.permissions import ADMIN, MANAGER, Actor, ensure_admin, ensure_role


def _goal_state(goal: Goal) -> dict[str, Any]:
    return {name: getattr(goal, name) for name in GOAL_FIELDS}


def _validate_target_data(*, org: Organization, category: str, data: dict[str, Any]) -> None:
    """Shape (the union, `type` == category), then catalog ids: active, in this org (422)."""
    errors = target_data_errors(category, data)
    if errors:
        raise Unprocessable(
            details=[detail(["body", "target_data", *loc], msg) for loc, msg in errors]
        )
    if category == Goal.Category.COMPETENCY:
        model, field = Competency, "competency_id"
    elif category == Goal.Category.CORE_VALUE:
        model, field = CoreValue, "core_value_id"
    else:
        return
    if not model.objects.filter(org=org, pk=data[field], is_active=True).exists():
        raise Unprocessable(details=[detail(["body", "target_data", field], UNKNOWN_ID)])


@transaction.atomic
def goal_create(
    *,
    org: Organization,
    actor: Membership,
    period_id: int,
    category: str,
    title: str,
    weight: int,
    target_data: dict[str, Any],
    owner_id: int | None = None,
) -> Goal:
    if owner_id is not None and owner_id != actor.pk:
        ensure_role(actor, ADMIN, message=OWNER_NOT_SELF)
        if not Membership.objects.filter(org=org, pk=owner_id, is_active=True).exists():
            raise Unprocessable(details=[detail(["body", "owner_id"], UNKNOWN_ID)])
    period = Period.objects.filter(org=org, pk=period_id).first()
    if period is None:
        raise Unprocessable(details=[detail(["body", "period_id"], UNKNOWN_ID)])
    ensure_period_open(period)
    _validate_target_data(org=org, category=category, data=target_data)
    goal = Goal.objects.create(
        org=org,
        period=period,
        owner_id=owner_id or actor.pk,
        category=category,
        title=title,
        weight=weight,
        target_data=target_data,
    )
    record_change(
        org=org,
        actor=actor,
        action="goal.create",
        entity_type="goal",
        entity_id=goal.pk,
        changes=changes_between({}, _goal_state(goal)),
        owner_id=goal.owner_id,
    )
    return goal


@transaction.atomic
def goal_update(*, org: Organization, actor: Actor, goal_id: int, data: dict[str, Any]) -> Goal:
    """Owner or admin (or platform staff, from the admin), while draft or rejected. A rejected
    goal stays rejected until resubmitted."""
    goal = goal_get_for_update(org=org, actor=actor, goal_id=goal_id)
    ensure_editor(actor, owner_id=goal.owner_id)
    ensure_period_open(goal.period)
    if goal.status not in (Goal.Status.DRAFT, Goal.Status.REJECTED):
        raise Conflict(GOAL_NOT_EDITABLE)
    before = _goal_state(goal)
    if "target_data" in data:
        _validate_target_data(org=org, category=goal.category, data=data["target_data"])
        goal.target_data = data["target_data"]
    for field in ("title", "weight"):
        if field in data:
            setattr(goal, field, data[field])
    changes = changes_between(before, _goal_state(goal))
    if changes:
        goal.save(update_fields=list(changes))
        record_change(
            org=org,
            actor=actor,
            action="goal.update",
            entity_type="goal",
            entity_id=goal.pk,
            changes=changes,
            owner_id=goal.owner_id,
        )
    return goal


@transaction.atomic
def goal_delete(*, org: Organization, actor: Membership, goal_id: int) -> None:
    goal = goal_get_for_update(org=org, actor=actor, goal_id=goal_id)
    ensure_editor(actor, owner_id=goal.owner_id)
    ensure_period_open(goal.period)
    if goal.status != Goal.Status.DRAFT:
        raise Conflict(GOAL_NOT_DELETABLE)
    pk = goal.pk
    goal.delete()  # the instance: the collector needs no second SELECT of the goal
    record_change(
        org=org,
        actor=actor,
        action="goal.delete",
        entity_type="goal",
        entity_id=pk,
        changes={"title": [goal.title, None]},
        owner_id=goal.owner_id,
    )


@transaction.atomic
def goal_submit(*, org: Organization, actor: Membership, goal_id: int) -> Goal:
    goal = goal_get_for_update(org=org, actor=actor, goal_id=goal_id, lock_owner=True)
    ensure_editor(actor, owner_id=goal.owner_id)
    ensure_period_open(goal.period)
    if goal.status not in (Goal.Status.DRAFT, Goal.Status.REJECTED):
        raise Conflict(GOAL_NOT_SUBMITTABLE)
    committed = (
        Goal.objects.filter(
            org=org,
            owner_id=goal.owner_id,
            period_id=goal.period_id,
            status__in=[Goal.Status.SUBMITTED, Goal.Status.APPROVED],
        )
        .exclude(pk=goal.pk)
        .aggregate(total=Sum("weight"))["total"]
        or 0
    )
    if committed + goal.weight > 100:
        raise Conflict(WEIGHT_BUDGET)
    return _goal_transition(org=org, actor=actor, goal=goal, status=Goal.Status.SUBMITTED)


def _goal_transition(
    *,
    org: Organization,
    actor: Membership,
    goal: Goal,
    status: str,
    review: bool = False,
    comment: str = "",
) -> Goal:
    before = {"status": goal.status}
    goal.status = status
    fields = ["status"]
    if review:
        goal.review_comment = comment
        goal.reviewed_by_id = actor.pk
        goal.reviewed_at = timezone.now()
        fields += ["review_comment", "reviewed_by", "reviewed_at"]
    goal.save(update_fields=fields)
    record_change(
        org=org,
        actor=actor,
        action=f"goal.{_ACTION_NAMES[status]}",
        entity_type="goal",
        entity_id=goal.pk,
        changes=changes_between(before, {"status": status}),
        owner_id=goal.owner_id,
    )
    return goal


_ACTION_NAMES = {
    Goal.Status.SUBMITTED: "submit",
    Goal.Status.APPROVED: "approve",
    Goal.Status.REJECTED: "reject",
}


_REVIEW_FIELDS = ("status", "review_comment", "reviewed_by_id", "reviewed_at")


@transaction.atomic
def goal_return_to_draft(*, org: Organization, actor: Actor, goal_id: int) -> Goal:
    """A support action (DESIGN.md §13): a submitted, approved or rejected goal goes back to
    draft, so its owner can change and resubmit it; its review (reviewer, time, comment) is
    cleared. Admins and platform staff; the period must not be closed; apps above may refuse
    (`goal_returning_to_draft`: evaluations keeps a goal that has a self-assessment or
    feedback approved). 404 → 403 → 409, as the other goal writes."""
    goal = goal_get_for_update(org=org, actor=actor, goal_id=goal_id)
    ensure_admin(actor)
    ensure_period_open(goal.period)
    if goal.status == Goal.Status.DRAFT:
        raise Conflict(GOAL_ALREADY_DRAFT)
    goal_returning_to_draft.send(sender=Goal, goal=goal)
    before = {name: getattr(goal, name) for name in _REVIEW_FIELDS}
    goal.status, goal.review_comment = Goal.Status.DRAFT, ""
    goal.reviewed_by_id, goal.reviewed_at = None, None
    goal.save(update_fields=["status", "review_comment", "reviewed_by", "reviewed_at"])
    after = {name: getattr(goal, name) for name in _REVIEW_FIELDS}
    changes = changes_between(before, after)
    if changes.get("reviewed_at"):
        changes["reviewed_at"] = [_iso(value) for value in changes["reviewed_at"]]
    record_change(
        org=org,
        actor=actor,
        action="goal.return_to_draft",
        entity_type="goal",
        entity_id=goal.pk,
        changes=changes,
        owner_id=goal.owner_id,
    )
    return goal


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


@transaction.atomic
def goal_review(
    *, org: Organization, actor: Membership, goal_id: int, approve: bool, comment: str = ""
) -> Goal:
    goal = goal_get_for_update(org=org, actor=actor, goal_id=goal_id)
    ensure_reviewer(actor, owner_id=goal.owner_id, owner_supervisor_id=goal.owner.supervisor_id)
    ensure_period_open(goal.period)
    if goal.status != Goal.Status.SUBMITTED:
        raise Conflict(GOAL_NOT_SUBMITTED)
    status = Goal.Status.APPROVED if approve else Goal.Status.REJECTED
    return _goal_transition(
        org=org, actor=actor, goal=goal, status=status, review=True, comment=comment
    )


@transaction.atomic
def goal_bulk_review(
    *, org: Organization, actor: Membership, goal_ids: list[int], action: str, comment: str = ""
) -> list[Goal]:
    """All or nothing; 404 (any id invisible) beats 403 (own goal / not reviewer) beats 409.

    Constant cost: one SELECT … FOR UPDATE, one UPDATE, one INSERT of audit events.
    """
    ensure_role(actor, ADMIN, MANAGER, message=NOT_REVIEWER)
    if action == "reject" and not comment:
        raise Unprocessable(details=[detail(["body", "comment"], REJECT_NEEDS_COMMENT)])
    goals = {
        goal.pk: goal
        for goal in Goal.objects.select_related("owner", "period")
        .select_for_update(of=("self",))
        .filter(goal_visibility_q(actor), org=org, pk__in=goal_ids)
        .order_by("pk")  # one lock order for every caller: overlapping batches can't deadlock
    }
    missing = [i for i, gid in enumerate(goal_ids) if gid not in goals]
    if missing:
        raise NotFound(
            GOAL_NOT_FOUND,
            details=[detail(["body", "goal_ids", i], GOAL_NOT_FOUND) for i in missing],
        )
    forbidden = []
    for i, gid in enumerate(goal_ids):
        goal = goals[gid]
        if not is_reviewer(
            actor, owner_id=goal.owner_id, owner_supervisor_id=goal.owner.supervisor_id
        ):
            msg = CANNOT_REVIEW_OWN if goal.owner_id == actor.pk else NOT_REVIEWER
            forbidden.append(detail(["body", "goal_ids", i], msg))
    if forbidden:
        raise Forbidden(NOT_REVIEWER, details=forbidden)
    conflicts = []
    for i, gid in enumerate(goal_ids):
        goal = goals[gid]
        if goal.period.is_closed:
            conflicts.append(detail(["body", "goal_ids", i], PERIOD_CLOSED))
        elif goal.status != Goal.Status.SUBMITTED:
            conflicts.append(detail(["body", "goal_ids", i], GOAL_NOT_SUBMITTED))
    if conflicts:
        raise Conflict(GOAL_NOT_SUBMITTED, details=conflicts)
    status = Goal.Status.APPROVED if action == "approve" else Goal.Status.REJECTED
    now = timezone.now()
    Goal.objects.filter(org=org, pk__in=goal_ids).update(
        status=status,
        review_comment=comment,
        reviewed_by_id=actor.pk,
        reviewed_at=now,
        updated_at=now,
    )
    audit_record_many(
        org=org,
        actor=actor,
        entries=[
            AuditEntry(
                action=f"goal.{action}",
                entity_type="goal",
                entity_id=gid,
                changes={"status": [Goal.Status.SUBMITTED, status]},
                owner_id=goals[gid].owner_id,
            )
            for gid in goal_ids
        ],
    )
    result = []
    for gid in goal_ids:
        goal = goals[gid]
        goal.status, goal.review_comment = status, comment
        goal.reviewed_by_id, goal.reviewed_at, goal.updated_at = actor.pk, now, now
        result.append(goal)
    return result
