"""Role rules of the orgs app, in one place (DESIGN.md §3 "Roles")."""

from __future__ import annotations

from django.db.models import Q

from core.errors import Forbidden
from orgs.models import Membership

ROLE_NOT_ALLOWED = "Your role does not allow this action."
ADMIN_ONLY = "Only an admin can do this."
ADMIN = Membership.Role.ADMIN
MANAGER = Membership.Role.MANAGER


def ensure_role(actor: Membership, *roles: str, message: str = ROLE_NOT_ALLOWED) -> None:
    if actor.role not in roles:
        raise Forbidden(message)


def ensure_admin(actor: Membership) -> None:
    """Admin only, for every app (members, departments, audit log, periods, catalogs,
    admin dashboards)."""
    ensure_role(actor, ADMIN, message=ADMIN_ONLY)


def ensure_admin_or_manager(actor: Membership) -> None:
    ensure_role(actor, ADMIN, MANAGER)


def team_q(actor: Membership) -> Q:
    """The members on the actor's team page: its direct reports; every member for an admin."""
    return Q() if actor.role == ADMIN else Q(supervisor_id=actor.pk)
