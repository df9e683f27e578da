from __future__ import annotations

from typing import Any

from config.errors import Unauthorized
from orgs.models import Membership, Organization
from users.selectors import user_get
from users.tokens import INVALID_TOKEN

MEMBER_ITEM_FIELDS = (
    "id",
    "user_id",
    "user__email",
    "user__full_name",
    "role",
    "department_id",
    "supervisor_id",
    "title",
    "is_active",
    "created_at",
)


def org_entry_load(*, slug: str) -> dict[str, Any] | None:
    """The org as tenant resolution caches it, or None."""
    return (
        Organization.objects.filter(slug=slug)
        .values("id", "slug", "name", "is_active", "rating_scale")
        .first()
    )


def member_item_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A `.values(*MEMBER_ITEM_FIELDS)` row shaped as the API's member item."""
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "email": row["user__email"],
        "full_name": row["user__full_name"],
        "role": row["role"],
        "department_id": row["department_id"],
        "supervisor_id": row["supervisor_id"],
        "title": row["title"],
        "is_active": row["is_active"],
        "created_at": row["created_at"],
    }


def member_entry_load(*, org_id: int, user_id: int) -> dict[str, Any] | None:
    """The caller's member item in one org (cached by tenant resolution), or None."""
    row = (
        Membership.objects.filter(org_id=org_id, user_id=user_id)
        .values(*MEMBER_ITEM_FIELDS)
        .first()
    )
    return member_item_from_row(row) if row else None


def user_memberships(*, user_id: int) -> list[dict[str, Any]]:
    """Active memberships of a user in active orgs, for /api/auth/me."""
    rows = (
        Membership.objects.filter(user_id=user_id, is_active=True, org__is_active=True)
        .order_by("org__slug")
        .values("id", "org__slug", "org__name", "role")
    )
    return [
        {
            "member_id": row["id"],
            "org_slug": row["org__slug"],
            "org_name": row["org__name"],
            "role": row["role"],
        }
        for row in rows
    ]


def account_get(*, user_id: int) -> dict[str, Any]:
    """/api/auth/me: the user and their memberships (two indexed reads)."""
    user = user_get(user_id=user_id)
    if user is None:
        raise Unauthorized(INVALID_TOKEN)
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "is_superuser": user.is_superuser,
        "memberships": user_memberships(user_id=user_id),
    }
