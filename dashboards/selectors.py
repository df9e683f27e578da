from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from orgs.models import Membership, Organization


def dashboard_stats(*, org: Organization) -> dict[str, Any]:
    """Member counts of the org in one aggregate query (an index scan on org_id)."""
    now = timezone.now()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    counts = Membership.objects.filter(org=org).aggregate(
        total_users=Count("id"),
        active_users=Count("id", filter=Q(is_active=True)),
        inactive_users=Count("id", filter=Q(is_active=False)),
        admins=Count("id", filter=Q(role=Membership.Role.ADMIN, is_active=True)),
        new_users_today=Count("id", filter=Q(created_at__gte=start_of_day)),
        new_users_week=Count("id", filter=Q(created_at__gte=now - timedelta(days=7))),
    )
    return {**counts, "timestamp": now}
