"""The audit log and the change log (DESIGN.md §3, §10): what every write does last, in its
transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from orgs.cache import org_versions_bump
from orgs.changes import AuditEntry, change_log_append, changes_committed
from orgs.models import Organization
from orgs.permissions import Actor, PlatformActor
from users.models import User


def record_change(
    *,
    org: Organization,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: int,
    changes: dict[str, Any] | None = None,
    owner_id: int | None = None,
    reviewers_only: bool = False,
    change_entity_id: int | None = None,
    staff_actor: User | None = None,
) -> None:
    """What every write does last: audit it and append it to the org's change log in the same
    transaction (`changes`: {field: [before, after]}), and once committed publish the new head
    and bump the org data version, so no cached page or ETag outlives it.

    The actor is the acting member, or platform staff (a PlatformActor, or `staff_actor`
    given with no member): then the audit event names the user and the change no actor."""
    audit_record_many(
        org=org,
        actor=actor,
        staff_actor=staff_actor,
        entries=[
            AuditEntry(
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                changes=changes or {},
                owner_id=owner_id,
                reviewers_only=reviewers_only,
                change_entity_id=change_entity_id,
            )
        ],
    )


def audit_record_many(
    *,
    org: Organization,
    actor: Actor | None,
    entries: Iterable[AuditEntry],
    staff_actor: User | None = None,
) -> None:
    """One statement for a whole batch (bulk actions): audit events, changes, the org's head."""
    if isinstance(actor, PlatformActor):
        actor, staff_actor = None, actor.user
    items = change_log_append(
        org=org,
        actor_id=actor.pk if actor else None,
        staff_actor_id=staff_actor.pk if staff_actor else None,
        entries=list(entries),
    )
    if items:
        org_id = org.id
        transaction.on_commit(lambda: _committed(org_id, items))


def _committed(org_id: int, items: list[dict[str, Any]]) -> None:
    """After the commit: the new head and data version (one atomic step in Redis), then the
    live subscribers."""
    org_versions_bump({org_id}, head=items[-1]["seq"])
    changes_committed.send(sender=AuditEntry, org_id=org_id, items=items)


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changed."""
    return {
        key: [before.get(key), value] for key, value in after.items() if before.get(key) != value
    }
