"""Writes of the goals app: keyword-only, org first, one transaction, audited, version bumped."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from config.errors import Conflict, Forbidden, NotFound, Unprocessable, detail
from goals.models import Competency, CoreValue, Goal, Period
from goals.permissions import (
    CANNOT_REVIEW_OWN,
    NOT_REVIEWER,
    ensure_editor,
    ensure_reviewer,
    goal_visibility_q,
    is_reviewer,
)
from goals.selectors import GOAL_NOT_FOUND, PERIOD_NOT_FOUND
from goals.target_data import target_data_errors
from orgs.cache import bump_org_version_on_commit
from orgs.models import Membership, Organization
from orgs.services import AuditEntry, audit_record, audit_record_many, changes_between

ADMIN_ONLY = "Only an admin can do this."
PERIOD_CLOSED = "The period is closed; it is read-only."
PERIOD_ALREADY_ACTIVE = "Another period of this organization is already active."
PERIOD_BAD_TRANSITION = "A period moves planned → active → closed only."
PERIOD_NAME_TAKEN = "A period with this name already exists."
PERIOD_DATES = "ends_on must not be before starts_on."
CATALOG_NAME_TAKEN = "An entry with this name already exists."
UNKNOWN_ID = "Unknown id."
OWNER_NOT_SELF = "Only an admin can create goals for another member."
GOAL_NOT_EDITABLE = "A goal can be changed only while it is draft or rejected."
GOAL_NOT_DELETABLE = "Only a draft goal can be deleted."
GOAL_NOT_SUBMITTABLE = "Only a draft or rejected goal can be submitted."
GOAL_NOT_SUBMITTED = "Only a submitted goal can be approved or rejected."
WEIGHT_BUDGET = "The owner's submitted and approved goals in the period would weigh more than 100."

PERIOD_TRANSITIONS = {("planned", "active"), ("active", "closed")}
GOAL_FIELDS = ("period_id", "owner_id", "category", "title", "weight", "target_data", "status")


def _ensure_admin(actor: Membership) -> None:
    if actor.role != Membership.Role.ADMIN:
        raise Forbidden(ADMIN_ONLY)


def _ensure_open(period: Period) -> None:
    if period.is_closed:
        raise Conflict(PERIOD_CLOSED)


# Periods ------------------------------------------------------------------------------------


def _period_state(period: Period) -> dict[str, Any]:
    return {
        "name": period.name,
        "starts_on": period.starts_on.isoformat(),
        "ends_on": period.ends_on.isoformat(),
        "status": period.status,
    }


def _period_save(period: Period, **kwargs: Any) -> None:
    """Constraint violations become 409 (a concurrent writer got there first)."""
    try:
        with transaction.atomic():
            period.save(**kwargs)
    except IntegrityError as exc:
        message = PERIOD_ALREADY_ACTIVE if "one_active" in str(exc) else PERIOD_NAME_TAKEN
        raise Conflict(message) from exc


@transaction.atomic
def period_create(
    *,
    org: Organization,
    actor: Membership,
    name: str,
    starts_on: datetime.date,
    ends_on: datetime.date,
    status: str = Period.Status.PLANNED,
) -> Period:
    _ensure_admin(actor)
    if ends_on < starts_on:
        raise Unprocessable(details=[detail(["body", "ends_on"], PERIOD_DATES)])
    period = Period(org=org, name=name, starts_on=starts_on, ends_on=ends_on, status=status)
    _period_save(period)
    audit_record(
        org=org,
        actor=actor,
        action="period.create",
        entity_type="period",
        entity_id=period.pk,
        changes=changes_between({}, _period_state(period)),
    )
    bump_org_version_on_commit(org_id=org.id)
    return period


@transaction.atomic
def period_update(
    *, org: Organization, actor: Membership, period_id: int, data: dict[str, Any]
) -> Period:
    _ensure_admin(actor)
    period = Period.objects.select_for_update().filter(org=org, pk=period_id).first()
    if period is None:
        raise NotFound(PERIOD_NOT_FOUND)
    _ensure_open(period)
    before = _period_state(period)
    new_status = data.get("status")
    if new_status is not None and new_status != period.status:
        if (period.status, new_status) not in PERIOD_TRANSITIONS:
            raise Conflict(PERIOD_BAD_TRANSITION)
        period.status = new_status
    for field in ("name", "starts_on", "ends_on"):
        if data.get(field) is not None:
            setattr(period, field, data[field])
    if period.ends_on < period.starts_on:
        raise Unprocessable(details=[detail(["body", "ends_on"], PERIOD_DATES)])
    _period_save(period)
    changes = changes_between(before, _period_state(period))
    if changes:
        audit_record(
            org=org,
            actor=actor,
            action="period.update",
            entity_type="period",
            entity_id=period.pk,
            changes=changes,
        )
        bump_org_version_on_commit(org_id=org.id)
    return period


# Catalogs -----------------------------------------------------------------------------------


def _catalog_create(model, entity_type: str, *, org, actor, name, description, is_active):
    _ensure_admin(actor)
    entry = model(org=org, name=name, description=description, is_active=is_active)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as exc:
        raise Conflict(CATALOG_NAME_TAKEN) from exc
    audit_record(
        org=org,
        actor=actor,
        action=f"{entity_type}.create",
        entity_type=entity_type,
        entity_id=entry.pk,
        changes={"name": [None, name], "is_active": [None, is_active]},
    )
    bump_org_version_on_commit(org_id=org.id)
    return entry


@transaction.atomic
def competency_create(
    *, org: Organization, actor: Membership, name: str, description: str = "", is_active=True
) -> Competency:
    return _catalog_create(
        Competency,
        "competency",
        org=org,
        actor=actor,
        name=name,
        description=description,
        is_active=is_active,
    )


@transaction.atomic
def core_value_create(
    *, org: Organization, actor: Membership, name: str, description: str = "", is_active=True
) -> CoreValue:
    return _catalog_create(
        CoreValue,
        "core_value",
        org=org,
        actor=actor,
        name=name,
        description=description,
        is_active=is_active,
    )


# Goals --------------------------------------------------------------------------------------


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


def _goal_for_update(
    *, org: Organization, actor: Membership, goal_id: int, lock_owner: bool = False
) -> Goal:
    """The goal (with owner and period) locked; `lock_owner` also locks the owner's membership
    row, which serializes that owner's submits so two can't both pass the weight check."""
    goal = (
        Goal.objects.select_related("owner", "period")
        .select_for_update(of=("self", "owner") if lock_owner else ("self",))
        .filter(goal_visibility_q(actor), org=org, pk=goal_id)
        .first()
    )
    if goal is None:
        raise NotFound(GOAL_NOT_FOUND)
    return goal


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
        _ensure_admin_for_owner(actor)
        if not Membership.objects.filter(org=org, pk=owner_id, is_active=True).exists():
            raise Unprocessable(details=[detail(["body", "owner_id"], UNKNOWN_ID)])
    period = Period.objects.filter(org=org, pk=period_id).first()
    if period is None:
        raise Unprocessable(details=[detail(["body", "period_id"], UNKNOWN_ID)])
    _ensure_open(period)
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
    audit_record(
        org=org,
        actor=actor,
        action="goal.create",
        entity_type="goal",
        entity_id=goal.pk,
        changes=changes_between({}, _goal_state(goal)),
    )
    bump_org_version_on_commit(org_id=org.id)
    return goal


def _ensure_admin_for_owner(actor: Membership) -> None:
    if actor.role != Membership.Role.ADMIN:
        raise Forbidden(OWNER_NOT_SELF)


@transaction.atomic
def goal_update(
    *, org: Organization, actor: Membership, goal_id: int, data: dict[str, Any]
) -> Goal:
    """Owner or admin, while draft or rejected. A rejected goal stays rejected until resubmitted."""
    goal = _goal_for_update(org=org, actor=actor, goal_id=goal_id)
    ensure_editor(actor, owner_id=goal.owner_id)
    _ensure_open(goal.period)
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
        audit_record(
            org=org,
            actor=actor,
            action="goal.update",
            entity_type="goal",
            entity_id=goal.pk,
            changes=changes,
        )
        bump_org_version_on_commit(org_id=org.id)
    return goal


@transaction.atomic
def goal_delete(*, org: Organization, actor: Membership, goal_id: int) -> None:
    goal = _goal_for_update(org=org, actor=actor, goal_id=goal_id)
    ensure_editor(actor, owner_id=goal.owner_id)
    _ensure_open(goal.period)
    if goal.status != Goal.Status.DRAFT:
        raise Conflict(GOAL_NOT_DELETABLE)
    pk = goal.pk
    goal.delete()  # the instance: the collector needs no second SELECT of the goal
    audit_record(
        org=org,
        actor=actor,
        action="goal.delete",
        entity_type="goal",
        entity_id=pk,
        changes={"title": [goal.title, None]},
    )
    bump_org_version_on_commit(org_id=org.id)


@transaction.atomic
def goal_submit(*, org: Organization, actor: Membership, goal_id: int) -> Goal:
    goal = _goal_for_update(org=org, actor=actor, goal_id=goal_id, lock_owner=True)
    ensure_editor(actor, owner_id=goal.owner_id)
    _ensure_open(goal.period)
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
    audit_record(
        org=org,
        actor=actor,
        action=f"goal.{_ACTION_NAMES[status]}",
        entity_type="goal",
        entity_id=goal.pk,
        changes=changes_between(before, {"status": status}),
    )
    bump_org_version_on_commit(org_id=org.id)
    return goal


_ACTION_NAMES = {
    Goal.Status.SUBMITTED: "submit",
    Goal.Status.APPROVED: "approve",
    Goal.Status.REJECTED: "reject",
}


@transaction.atomic
def goal_review(
    *, org: Organization, actor: Membership, goal_id: int, approve: bool, comment: str = ""
) -> Goal:
    goal = _goal_for_update(org=org, actor=actor, goal_id=goal_id)
    ensure_reviewer(actor, owner_id=goal.owner_id, owner_supervisor_id=goal.owner.supervisor_id)
    _ensure_open(goal.period)
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
    if actor.role == Membership.Role.EMPLOYEE:
        raise Forbidden(NOT_REVIEWER)
    if action == "reject" and not comment:
        raise Unprocessable(details=[detail(["body", "comment"], "A rejection needs a comment.")])
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
            )
            for gid in goal_ids
        ],
    )
    bump_org_version_on_commit(org_id=org.id)
    result = []
    for gid in goal_ids:
        goal = goals[gid]
        goal.status, goal.review_comment = status, comment
        goal.reviewed_by_id, goal.reviewed_at, goal.updated_at = actor.pk, now, now
        result.append(goal)
    return result
