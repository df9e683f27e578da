"""Period writes: admin only; planned → active → closed; one active per org; closed is read-only."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import Conflict, NotFound, Unprocessable, detail
from goals.models import Period
from goals.selectors import PERIOD_NOT_FOUND
from goals.services._common import (
    PERIOD_ALREADY_ACTIVE,
    PERIOD_BAD_TRANSITION,
    PERIOD_DATES,
    PERIOD_NAME_TAKEN,
    PERIOD_TRANSITIONS,
    ensure_period_open,
)
from orgs.audit import changes_between, record_change
from orgs.models import Organization
from orgs.permissions import Actor, ensure_admin


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
    actor: Actor,
    name: str,
    starts_on: datetime.date,
    ends_on: datetime.date,
    status: str = Period.Status.PLANNED,
) -> Period:
    ensure_admin(actor)
    if ends_on < starts_on:
        raise Unprocessable(details=[detail(["body", "ends_on"], PERIOD_DATES)])
    period = Period(org=org, name=name, starts_on=starts_on, ends_on=ends_on, status=status)
    _period_save(period)
    record_change(
        org=org,
        actor=actor,
        action="period.create",
        entity_type="period",
        entity_id=period.pk,
        changes=changes_between({}, _period_state(period)),
    )
    return period


@transaction.atomic
def period_update(
    *, org: Organization, actor: Actor, period_id: int, data: dict[str, Any]
) -> Period:
    ensure_admin(actor)
    period = Period.objects.select_for_update().filter(org=org, pk=period_id).first()
    if period is None:
        raise NotFound(PERIOD_NOT_FOUND)
    before = _period_state(period)
    new_status = data.get("status")
    reopening = period.is_closed and new_status == Period.Status.ACTIVE
    edits = {
        field: data[field]
        for field in ("name", "starts_on", "ends_on")
        if data.get(field) is not None and data[field] != getattr(period, field)
    }
    if period.is_closed and (edits or not reopening):
        ensure_period_open(period)  # 409: a closed period takes only its reopening
    if new_status is not None and new_status != period.status:
        if (period.status, new_status) not in PERIOD_TRANSITIONS:
            raise Conflict(PERIOD_BAD_TRANSITION)
        period.status = new_status
    for field, value in edits.items():
        setattr(period, field, value)
    if period.ends_on < period.starts_on:
        raise Unprocessable(details=[detail(["body", "ends_on"], PERIOD_DATES)])
    _period_save(period)
    changes = changes_between(before, _period_state(period))
    if changes:
        record_change(
            org=org,
            actor=actor,
            action="period.reopen" if reopening else "period.update",
            entity_type="period",
            entity_id=period.pk,
            changes=changes,
        )
    return period
