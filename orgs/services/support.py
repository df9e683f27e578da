"""Support actions that are not an org's own writes (DESIGN.md §13): platform staff only."""

from __future__ import annotations

from django.db import transaction

from core.errors import NotFound
from orgs.audit import record_change
from orgs.models import Membership
from orgs.permissions import PlatformActor, ensure_platform
from users.services import auth_logout

UNKNOWN_USER = "User not found."


@transaction.atomic
def user_tokens_revoke_audited(*, actor: PlatformActor, user_id: int) -> list[Membership]:
    """Every access and refresh token of the user stops working (as at logout), recorded in
    the audit log of each org the user is an active member of, with the staff user as actor
    (`member.tokens_revoke` on the membership). Returns those memberships."""
    ensure_platform(actor)
    version = auth_logout(user_id=user_id)
    if not version:
        raise NotFound(UNKNOWN_USER)
    members = list(
        Membership.objects.filter(user_id=user_id, is_active=True)
        .select_related("org")
        .order_by("org_id")
    )
    for member in members:
        record_change(
            org=member.org,
            actor=actor,
            action="member.tokens_revoke",
            entity_type="membership",
            entity_id=member.pk,
            changes={"token_version": [version - 1, version]},
            owner_id=member.pk,
        )
    return members
