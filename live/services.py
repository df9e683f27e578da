"""Writes of the live app: pruning the change log past its retention."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from orgs.models import Change, Organization


def changes_prune(*, older_than: datetime.timedelta) -> dict[int, int]:
    """Deletes each org's changes older than `older_than` and raises the org's pruned mark to
    the last deleted seq, so a reader behind it is told to resync (410). {org id: rows}."""
    cutoff = timezone.now() - older_than
    marks = dict(
        Change.objects.filter(at__lt=cutoff)
        .values("org_id")
        .annotate(last=Max("seq"))
        .values_list("org_id", "last")
    )
    deleted: dict[int, int] = {}
    for org_id, last in marks.items():
        with transaction.atomic():
            Organization.objects.filter(pk=org_id, change_pruned_seq__lt=last).update(
                change_pruned_seq=last
            )
            deleted[org_id], _ = Change.objects.filter(org_id=org_id, seq__lte=last).delete()
    return deleted
