"""Role rules of the orgs app, in one place (DESIGN.md §3 "Roles"), and who may act: a member
(a Membership, with its role) or platform staff (a PlatformActor, DESIGN.md §13)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from core.errors import Forbidden
from orgs.models import Membership
from users.models import User


@dataclass(frozen=True, slots=True)
class PlatformActor:
    """A platform staff user running a support action on an org's rows (the Django admin).

    Not a member of the org: it has no membership id and no role, so the rules that grant an
    org admin's reach (`ensure_admin`, goal visibility, goal editing) let it through and every
    rule that needs a member identity (owning, reviewing, writing an evaluation) refuses it.
    The state rules (a closed period, a goal's workflow, the last admin, cross-org ids) apply
    to it unchanged. The audit log records its user as `staff_actor`, with `actor` null."""

    user: User
    pk = None  # never equal to a membership id: it owns and supervises nothing
    role = None

    def __post_init__(self) -> None:
        if not (self.user.is_active and self.user.is_staff):
            raise Forbidden(PLATFORM_ONLY)

    def __str__(self) -> str:
        return f"staff {self.user.email}"


# Who acts in an org: a member, or platform staff running a support action.
Actor = Membership | PlatformActor


def is_platform(actor: object) -> bool:
    return isinstance(actor, PlatformActor)


def ensure_platform(actor: object) -> None:
    """Support actions that no member may run (revoking another user's tokens)."""
    if not is_platform(actor):
        raise Forbidden(PLATFORM_ONLY)


ROLE_NOT_ALLOWED = "Your role does not allow this action."
ADMIN_ONLY = "Only an admin can do this."
PLATFORM_ONLY = "Only platform staff can do this."
ADMIN = Membership.Role.ADMIN
MANAGER = Membership.Role.MANAGER


def ensure_role(
    actor: Membership | PlatformActor, *roles: str, message: str = ROLE_NOT_ALLOWED
) -> None:
    if actor.role not in roles:
        raise Forbidden(message)


def ensure_admin(actor: Membership | PlatformActor) -> None:
    """Admin only, for every app (members, departments, audit log, periods, catalogs,
    admin dashboards). Platform staff pass: a support action has an org admin's reach."""
    if is_platform(actor):
        return
    ensure_role(actor, ADMIN, message=ADMIN_ONLY)


def ensure_admin_or_manager(actor: Membership) -> None:
    ensure_role(actor, ADMIN, MANAGER)


def team_q(actor: Membership) -> Q:
    """The members on the actor's team page: its direct reports; every member for an admin."""
    return Q() if actor.role == ADMIN else Q(supervisor_id=actor.pk)
