"""Who receives which change (DESIGN.md §10): exactly who could read the entity through the
API at that moment, by the same rules as the reads."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from goals.permissions import goal_visibility_q
from orgs.models import Membership

MEMBER_ENTITY = "membership"


def change_visibility_q(actor: Membership) -> Q:
    """A filter on `orgs.Change` rows the actor may receive.

    - org-wide rows (periods, departments, catalogs: no owner) reach every member;
    - member rows reach those who read members (admins and managers, `GET /members`) and the
      member itself (`/me`);
    - goal and evaluation rows follow goal visibility (own, direct reports', all for admins);
    - rows only reviewers may see (a draft feedback) never reach the goal's owner.
    """
    if actor.role == Membership.Role.ADMIN:
        return Q()
    member_rows = Q(entity_type=MEMBER_ENTITY)
    if actor.role != Membership.Role.MANAGER:
        member_rows &= Q(owner_id=actor.pk)
    data_rows = ~Q(entity_type=MEMBER_ENTITY) & goal_visibility_q(actor, "owner")
    hidden = Q(reviewers_only=True, owner_id=actor.pk)
    return (Q(owner__isnull=True) | member_rows | data_rows) & ~hidden


def change_visible(actor: Membership, item: dict[str, Any]) -> bool:
    """`change_visibility_q` for one change in hand (a live message): the same rule, row by
    row. live/tests checks that both agree on every kind of row."""
    if actor.role == Membership.Role.ADMIN:
        return True
    owner = item["owner_id"]
    if item["reviewers_only"] and owner == actor.pk:
        return False
    if owner is None or owner == actor.pk:
        return True
    if actor.role != Membership.Role.MANAGER:
        return False
    return item["entity_type"] == MEMBER_ENTITY or item["owner_supervisor_id"] == actor.pk
