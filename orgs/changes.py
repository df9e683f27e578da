"""The org's change log (DESIGN.md §10): appended with the audit events, in one statement.

Ordering: every append increments `Organization.change_seq` inside the writing transaction
(`UPDATE … RETURNING`), which locks the org's row until commit. An org's writers therefore
take their seqs in commit order: when a reader sees seq N committed, every lower seq of the org
is committed or was rolled back with its transaction (and then never existed: a rollback
takes the increment back too). So a reader resuming after N gets every later change exactly
once, in order, with no gap — no snapshot arithmetic needed. The price is that two writes of
one org serialize from their append to their commit; services append last, just before the
commit, so the window is one statement long (measured in the README, "Live updates").

The statement inserts the audit events and the changes and moves the counter in one round
trip, so a write costs the same number of queries as before the change log existed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.dispatch import Signal
from django.utils import timezone

from core.context import current_request_id
from orgs.models import Organization

# The last word of an audit action → the change type's verb (DESIGN.md §10 type names).
_VERBS = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "submit": "submitted",
    "approve": "approved",
    "reject": "rejected",
    "reopen": "reopened",
    "return_to_draft": "returned_to_draft",
    "tokens_revoke": "tokens_revoked",
}
# Evaluations are saved or, once their status says so, submitted / published.
_STATUS_TYPES = {
    ("self_assessment", "submitted"): "self_assessment.submitted",
    ("feedback", "published"): "feedback.published",
}


@dataclass(slots=True)
class AuditEntry:
    """One write's trace: its audit event (`changes`: {field: [before, after]}) and its change
    (the field names)."""

    action: str
    entity_type: str
    entity_id: int
    changes: dict[str, Any] = field(default_factory=dict)
    owner_id: int | None = None  # whose data it is (visibility of the change)
    reviewers_only: bool = False  # hidden from the owner (a draft feedback)
    # What the change log addresses when it is not the audited row: an evaluation's goal.
    change_entity_id: int | None = None


def change_type(action: str, entity_type: str, changes: dict[str, Any]) -> str:
    if entity_type in ("self_assessment", "feedback"):
        status = changes.get("status", [None, None])[1]
        return _STATUS_TYPES.get((entity_type, status), f"{entity_type}.saved")
    noun, _, verb = action.rpartition(".")
    return f"{noun or entity_type}.{_VERBS.get(verb, verb)}"


_APPEND = """
WITH head AS (
    UPDATE orgs_organization SET change_seq = change_seq + %(n)s WHERE id = %(org)s
    RETURNING change_seq
), entry AS (
    SELECT * FROM unnest(
        %(actions)s::text[], %(types)s::text[], %(entity_types)s::text[],
        %(entity_ids)s::bigint[], %(change_entity_ids)s::bigint[], %(changes)s::jsonb[],
        %(fields)s::jsonb[], %(owners)s::bigint[], %(reviewers_only)s::boolean[]
    ) WITH ORDINALITY AS e(action, type, entity_type, entity_id, change_entity_id, changes,
                           fields, owner_id, reviewers_only, n)
), audit AS (
    INSERT INTO orgs_auditevent (org_id, actor_id, staff_actor_id, action, entity_type,
                                 entity_id, changes, request_id, created_at)
    SELECT %(org)s, %(actor)s, %(staff_actor)s, action, entity_type, entity_id, changes,
           %(request_id)s, %(at)s
    FROM entry ORDER BY n
), change AS (
    INSERT INTO orgs_change (org_id, seq, type, entity_type, entity_id, actor_id, owner_id,
                             reviewers_only, fields, at)
    SELECT %(org)s, head.change_seq - %(n)s + entry.n, type, entity_type, change_entity_id,
           %(actor)s, owner_id, reviewers_only, fields, %(at)s
    FROM head, entry
    RETURNING seq, owner_id
)
SELECT change.seq, owner.supervisor_id FROM change
LEFT JOIN orgs_membership owner ON owner.id = change.owner_id
ORDER BY change.seq
"""


def change_log_append(
    *,
    org: Organization,
    actor_id: int | None,
    entries: Sequence[AuditEntry],
    staff_actor_id: int | None = None,
) -> list[dict[str, Any]]:
    """Writes the audit events and changes of `entries` (in their order), inside the write's
    transaction, and returns the change items as the feed shows them, plus what routing to
    live subscribers needs (`owner_id`, `owner_supervisor_id`, `reviewers_only`).

    `staff_actor_id`: the platform user of a support action (DESIGN.md §13), written on the
    audit events; the change's actor is then null (§10)."""
    if not entries:
        return []
    params = {
        "n": len(entries),
        "org": org.pk,
        "actor": actor_id,
        "staff_actor": staff_actor_id,
        "request_id": current_request_id(),
        "at": timezone.now(),
        "actions": [e.action for e in entries],
        "types": [change_type(e.action, e.entity_type, e.changes) for e in entries],
        "entity_types": [e.entity_type for e in entries],
        "entity_ids": [e.entity_id for e in entries],
        "change_entity_ids": [e.change_entity_id or e.entity_id for e in entries],
        "changes": [json.dumps(e.changes) for e in entries],
        "fields": [json.dumps(sorted(e.changes)) for e in entries],
        "owners": [e.owner_id for e in entries],
        "reviewers_only": [e.reviewers_only for e in entries],
    }
    with connection.cursor() as cursor:
        cursor.execute(_APPEND, params)
        rows = cursor.fetchall()
    return [
        {
            "seq": seq,
            "type": params["types"][n],
            "entity_type": entry.entity_type,
            "entity_id": params["change_entity_ids"][n],
            "actor_id": actor_id,
            "fields": sorted(entry.changes),
            "at": params["at"],
            "owner_id": entry.owner_id,
            "owner_supervisor_id": supervisor_id,
            "reviewers_only": entry.reviewers_only,
        }
        for n, (entry, (seq, supervisor_id)) in enumerate(zip(entries, rows, strict=True))
    ]


# Sent after the commit of a write that appended changes: `org_id`, `items` (as returned by
# change_log_append). The live app listens (rooms); it is below none of the writers.
changes_committed = Signal()


def org_change_head(*, org_id: int) -> int:
    """The seq of the org's last committed change (0 for none), from PostgreSQL."""
    head = Organization.objects.filter(pk=org_id).values_list("change_seq", flat=True).first()
    return head or 0
