"""The audit log and the change log (DESIGN.md §3, §10): what every write does last, in its
transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from orgs.cache import org_version_publish_on_commit
from orgs.changes import AuditEntry, change_log_append, changes_committed
from orgs.models import Membership, Organization


def record_change(
    *,
    org: Organization,
    actor: Membership | None,
    action: str,
    entity_type: str,
    entity_id: int,
    changes: dict[str, Any] | None = None,
    owner_id: int | None = None,
    reviewers_only: bool = False,
    change_entity_id: int | None = None,
) -> None:
    """What every write does last: audit it and append it to the org's change log in the same
    transaction (`changes`: {field: [before, after]}), and once committed publish the new head
    and bump the org data version, so no cached page or ETag outlives it."""
    audit_record_many(
        org=org,
        actor=actor,
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
    *, org: Organization, actor: Membership | None, entries: Iterable[AuditEntry]
) -> None:
    """One statement for a whole batch (bulk actions): audit events, changes, the org's head."""
    items = change_log_append(org=org, actor_id=actor.pk if actor else None, entries=list(entries))
    if items:
        org_id = org.id
        org_version_publish_on_commit(org_id=org_id, head=items[-1]["seq"])
        transaction.on_commit(
            lambda: changes_committed.send(sender=AuditEntry, org_id=org_id, items=items)
        )


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changed."""
    return {
        key: [before.get(key), value] for key, value in after.items() if before.get(key) != value
    }
