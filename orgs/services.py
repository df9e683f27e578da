"""Writes of the orgs app. Every service: keyword-only, org first, one transaction, audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from config.context import current_request_id
from orgs.models import AuditEvent, Membership, Organization


@dataclass(slots=True)
class AuditEntry:
    action: str
    entity_type: str
    entity_id: int
    changes: dict[str, Any] = field(default_factory=dict)


def audit_record(
    *,
    org: Organization,
    actor: Membership | None,
    action: str,
    entity_type: str,
    entity_id: int,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Call inside the transaction of the change. `changes`: {field: [before, after]}."""
    return AuditEvent.objects.create(
        org=org,
        actor_id=actor.pk if actor else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=changes or {},
        request_id=current_request_id(),
    )


def audit_record_many(
    *, org: Organization, actor: Membership | None, entries: Iterable[AuditEntry]
) -> None:
    """One INSERT for a whole batch (bulk actions)."""
    request_id = current_request_id()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                org=org,
                actor_id=actor.pk if actor else None,
                action=entry.action,
                entity_type=entry.entity_type,
                entity_id=entry.entity_id,
                changes=entry.changes,
                request_id=request_id,
            )
            for entry in entries
        ]
    )


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changed."""
    return {
        key: [before.get(key), value] for key, value in after.items() if before.get(key) != value
    }
