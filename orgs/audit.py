"""The audit log (DESIGN.md §3 AuditEvent): what every write does last, in its transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.context import current_request_id
from orgs.cache import bump_org_version_on_commit
from orgs.models import AuditEvent, Membership, Organization


@dataclass(slots=True)
class AuditEntry:
    action: str
    entity_type: str
    entity_id: int
    changes: dict[str, Any] = field(default_factory=dict)


def record_change(
    *,
    org: Organization,
    actor: Membership | None,
    action: str,
    entity_type: str,
    entity_id: int,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """What every write does last: audit it in the same transaction (`changes`: {field:
    [before, after]}) and, once committed, bump the org data version so no cached page or
    ETag outlives it."""
    event = AuditEvent.objects.create(
        org=org,
        actor_id=actor.pk if actor else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=changes or {},
        request_id=current_request_id(),
    )
    bump_org_version_on_commit(org_id=org.id)
    return event


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
