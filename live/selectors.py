"""The change feed (DESIGN.md §10): `GET /changes?after=N` and the resync rule."""

from __future__ import annotations

from typing import Any

from core.errors import ApplicationError
from core.fields import rows_project
from live.permissions import change_visibility_q
from orgs.models import Change, Membership, Organization

RESYNC_REQUIRED = (
    "Changes after this position are no longer kept (or it is not one of this organization's): "
    "reload the data and subscribe from its X-Change-Seq."
)
CHANGE_ITEM_FIELDS = ("seq", "type", "entity_type", "entity_id", "actor_id", "fields", "at")


class ResyncRequired(ApplicationError):
    status = 410

    def __init__(self) -> None:
        super().__init__(RESYNC_REQUIRED, code="resync_required")


def change_feed(
    *,
    org: Organization,
    actor: Membership,
    after: int | None,
    limit: int,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    """The changes after `after` the actor may see, in seq order, and the position to resume
    from (`last_seq`: the last change scanned, visible or not; the head once all is read).

    `org.change_head` is the head tenant resolution read from Redis with the version. When
    `after` is at it, nothing changed: no SQL. Otherwise two queries: the org's counters
    (its head and what was pruned) and one page of visible changes."""
    head = org.change_head
    if after is None or (head is not None and after == head):
        return {"items": [], "last_seq": head if after is None else after}
    counters = (
        Organization.objects.filter(pk=org.pk).values("change_seq", "change_pruned_seq").first()
    )
    db_head, pruned = counters["change_seq"], counters["change_pruned_seq"]
    if after < pruned or after > db_head or after < 0:
        raise ResyncRequired()
    selected = fields or CHANGE_ITEM_FIELDS
    rows = list(
        Change.objects.filter(org=org, seq__gt=after, seq__lte=db_head)
        .filter(change_visibility_q(actor))
        .order_by("seq")
        .values(*dict.fromkeys([*selected, "seq"]))[:limit]
    )
    # A full page may have more behind it: resume after its last row. A short one scanned
    # everything up to the head read above.
    last_seq = rows[-1]["seq"] if len(rows) == limit else db_head
    return {"items": rows_project(rows, fields), "last_seq": last_seq}
