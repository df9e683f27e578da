"""Competency and core-value catalog writes: admin only; a duplicate name is 409."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core.errors import Conflict
from goals.models import Competency, CoreValue
from goals.services._common import CATALOG_NAME_TAKEN
from orgs.audit import record_change
from orgs.models import Organization
from orgs.permissions import Actor, ensure_admin


def _catalog_create(model, entity_type: str, *, org, actor, name, description, is_active):
    ensure_admin(actor)
    entry = model(org=org, name=name, description=description, is_active=is_active)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as exc:
        raise Conflict(CATALOG_NAME_TAKEN) from exc
    record_change(
        org=org,
        actor=actor,
        action=f"{entity_type}.create",
        entity_type=entity_type,
        entity_id=entry.pk,
        changes={"name": [None, name], "is_active": [None, is_active]},
    )
    return entry


@transaction.atomic
def competency_create(
    *, org: Organization, actor: Actor, name: str, description: str = "", is_active=True
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
    *, org: Organization, actor: Actor, name: str, description: str = "", is_active=True
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
