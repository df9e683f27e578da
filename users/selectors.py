from __future__ import annotations

from typing import Any

from users.models import User


def user_auth_state(*, user_id: int) -> dict[str, Any] | None:
    """The fields authentication needs, in one indexed primary-key read."""
    return (
        User.objects.filter(pk=user_id).values("is_active", "is_superuser", "token_version").first()
    )


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()
