"""Writes of the users app: login, token refresh with rotation, logout, and the user edits
that revoke tokens (deactivation, a new password, a change of privilege).

`User.save()` has no side effects: whoever changes those fields calls `user_save` or
`user_password_save` (the admin does), which bump `token_version` in the same transaction."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher, make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Unauthorized
from users.cache import user_version_store
from users.models import RefreshToken, User, normalize_email
from users.signals import user_profile_changed
from users.tokens import (
    INVALID_TOKEN,
    REFRESH,
    access_token_encode,
    refresh_token_encode,
    token_decode,
)

INVALID_CREDENTIALS = "The email or password is not correct."
# PBKDF2 iterations of a password set by an admin in a bulk import: about 7 ms instead of
# 330 ms, so 1000 rows fit in a request. Django re-hashes at full strength on first login.
BULK_PASSWORD_ITERATIONS = 20_000


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = 0


def password_hash_provisional(raw_password: str) -> str:
    """The hash of a password set for someone else in bulk (`POST /members/bulk`).

    Hashing 1000 passwords at the default 1,000,000 PBKDF2 iterations takes ~5 minutes, far
    past the request timeout. These passwords are provisional: the first login verifies the
    cheaper hash and Django's upgrade-on-login stores the full-strength one (without revoking
    tokens, see `User.check_password`)."""
    hasher = get_hasher()
    if isinstance(hasher, PBKDF2PasswordHasher) and hasher.iterations > BULK_PASSWORD_ITERATIONS:
        hasher = copy.copy(hasher)
        hasher.iterations = BULK_PASSWORD_ITERATIONS
    return make_password(raw_password, hasher=hasher)


def _token_pair_issue(*, user: User, family: uuid.UUID) -> TokenPair:
    refresh = RefreshToken.objects.create(
        user=user,
        family=family,
        expires_at=timezone.now() + timedelta(seconds=settings.JWT_REFRESH_TTL),
    )
    return TokenPair(
        access_token=access_token_encode(user_id=user.pk, version=user.token_version),
        refresh_token=refresh_token_encode(
            user_id=user.pk, version=user.token_version, jti=refresh.jti, family=family
        ),
        expires_in=settings.JWT_ACCESS_TTL,
    )


def auth_login(*, email: str, password: str) -> TokenPair:
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is None:
        User().set_password(password)  # same work as a real check: no timing oracle for emails
        raise Unauthorized(INVALID_CREDENTIALS)
    if not user.check_password(password) or not user.is_active:
        raise Unauthorized(INVALID_CREDENTIALS)
    return _token_pair_issue(user=user, family=uuid.uuid4())


def user_tokens_revoke(*, user_id: int) -> int:
    """Bumps token_version (every access and refresh token of the user stops working) and
    publishes the new version to the cache once committed."""
    User.objects.filter(pk=user_id).update(token_version=F("token_version") + 1)
    version = User.objects.filter(pk=user_id).values_list("token_version", flat=True).first()
    if version is not None:
        transaction.on_commit(lambda: user_version_store(user_id=user_id, version=version))
    return version or 0


# Changing any of these revokes every token of the user.
SECURITY_FIELDS = frozenset({"is_active", "is_superuser", "password"})
# Member items and the account (/api/auth/me), cached by orgs, carry these.
PROFILE_FIELDS = frozenset({"email", "full_name", "is_superuser"})


@transaction.atomic
def user_save(*, user: User, changed: Iterable[str] = ()) -> User:
    """Saves an edited user; `changed` names the fields the editor changed (a new user: none).
    Deactivation or a change of privilege revokes the user's tokens; a new email or name is
    announced (`user_profile_changed`) so cached copies go."""
    changed = set(changed)
    user.save()
    if changed & SECURITY_FIELDS:
        user_tokens_revoke(user_id=user.pk)
    if changed & PROFILE_FIELDS:
        user_profile_changed.send(sender=User, user_id=user.pk)
    return user


def user_password_save(*, user: User) -> None:
    """Stores the password just set on `user` (`set_password`, `set_unusable_password`) and
    revokes every token issued before it."""
    user_save(user=user, changed={"password"})


def auth_refresh(*, refresh_token: str) -> TokenPair:
    claims = token_decode(refresh_token, expected_type=REFRESH)
    try:
        jti = uuid.UUID(claims.get("jti", ""))
    except (ValueError, TypeError, AttributeError) as exc:
        raise Unauthorized(INVALID_TOKEN) from exc

    with transaction.atomic():
        # The user's row first, then the token's: every change to a user's refresh tokens
        # (rotation, reuse revocation, logout) takes them in this order, so concurrent ones
        # queue instead of deadlocking. Locking the token first let a replay of a used token
        # (holding it, revoking its family) and one of its successor (holding that one,
        # revoking the same family) each wait for the row the other held.
        user = User.objects.select_for_update(no_key=True).filter(pk=claims["user_id"]).first()
        row = (
            RefreshToken.objects.select_for_update()
            .filter(jti=jti, user_id=claims["user_id"])
            .first()
        )
        if user is None or row is None or row.revoked or row.expires_at <= timezone.now():
            raise Unauthorized(INVALID_TOKEN)
        if row.used_at is None:
            if not user.is_active or user.token_version != claims["ver"]:
                raise Unauthorized(INVALID_TOKEN)
            row.used_at = timezone.now()
            row.save(update_fields=["used_at"])
            return _token_pair_issue(user=user, family=row.family)
        # A refresh token presented twice was stolen or replayed: revoke its family and,
        # since the thief cannot be told from the owner, every token of the user.
        RefreshToken.objects.filter(family=row.family).update(revoked=True)
        user_tokens_revoke(user_id=row.user_id)
    raise Unauthorized(INVALID_TOKEN)  # after the commit, so the revocation is kept


@transaction.atomic
def auth_logout(*, user_id: int) -> int:
    """Every token of the user stops working; returns the new token version (0: no such user).
    Also the support action "revoke all tokens" (orgs.services.user_tokens_revoke_audited)."""
    version = user_tokens_revoke(user_id=user_id)  # the user's row first, as auth_refresh
    RefreshToken.objects.filter(user_id=user_id, revoked=False).update(revoked=True)
    return version
