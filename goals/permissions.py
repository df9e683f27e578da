"""Who may see and do what with goals (DESIGN.md §3 "Roles"), in one place.

Visibility: an employee sees their own goals; a manager also those of their direct reports;
an admin every goal of the org. Anything not visible is a 404, never a 403.
"""

from __future__ import annotations

from django.db.models import Q

from core.errors import Forbidden
from orgs.models import Membership
from orgs.permissions import PlatformActor, is_platform

CANNOT_REVIEW_OWN = "You cannot review your own goal."
NOT_REVIEWER = "Only the owner's supervisor or an admin can review this goal."
NOT_EDITOR = "Only the goal's owner or an admin can change it."


def goal_visibility_q(actor: Membership | PlatformActor, owner_field: str = "owner") -> Q:
    """A filter on goals (or on rows reached through `owner_field`) the actor may see; platform
    staff (a support action) see the org's goals as its admins do."""
    if is_platform(actor) or actor.role == Membership.Role.ADMIN:
        return Q()
    own = Q(**{f"{owner_field}_id": actor.pk})
    if actor.role == Membership.Role.MANAGER:
        return own | Q(**{f"{owner_field}__supervisor_id": actor.pk})
    return own


def can_see_member(actor: Membership, *, member_id: int, supervisor_id: int | None) -> bool:
    if actor.role == Membership.Role.ADMIN or member_id == actor.pk:
        return True
    return actor.role == Membership.Role.MANAGER and supervisor_id == actor.pk


def is_reviewer(actor: Membership, *, owner_id: int, owner_supervisor_id: int | None) -> bool:
    """The owner's supervisor or an admin, and never on one's own goal."""
    if owner_id == actor.pk:
        return False
    return actor.role == Membership.Role.ADMIN or owner_supervisor_id == actor.pk


def ensure_reviewer(actor: Membership, *, owner_id: int, owner_supervisor_id: int | None) -> None:
    if owner_id == actor.pk:
        raise Forbidden(CANNOT_REVIEW_OWN)
    if not is_reviewer(actor, owner_id=owner_id, owner_supervisor_id=owner_supervisor_id):
        raise Forbidden(NOT_REVIEWER)


def is_editor(actor: Membership | PlatformActor, *, owner_id: int) -> bool:
    """The owner or an admin (or platform staff, as an admin): who may change, submit or
    delete a goal."""
    return is_platform(actor) or owner_id == actor.pk or actor.role == Membership.Role.ADMIN


def ensure_editor(actor: Membership | PlatformActor, *, owner_id: int) -> None:
    if not is_editor(actor, owner_id=owner_id):
        raise Forbidden(NOT_EDITOR)
