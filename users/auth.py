"""Bearer-token authentication with one Redis round trip and no SQL when warm.

A verified access token is remembered under `auth:tok:{sha256(token)}` for at most 60 s (and
never past its expiry); the user's current token version lives under `auth:ver:{user_id}`.
Both are read in one MGET together with any keys the caller adds (tenant resolution adds the
org and membership keys), so a warm org-scoped request costs one round trip in all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from django.core.cache import cache
from ninja.security import HttpBearer

from config.errors import Forbidden, Unauthorized
from users import cache as auth_cache
from users.selectors import user_auth_state
from users.tokens import ACCESS, INVALID_TOKEN, token_decode, token_peek_user_id

SUPERUSER_REQUIRED = "This operation is for platform superusers."


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified, unrevoked access token speaks for."""

    user_id: int
    is_superuser: bool
    is_staff: bool


def identity_resolve(
    token: str, *, extra_keys: Sequence[str] = ()
) -> tuple[Identity, dict[str, Any]]:
    """Verifies `token` and returns its identity plus the cached values of `extra_keys`,
    all fetched in the same MGET."""
    user_id = token_peek_user_id(token)
    tok_key = auth_cache.token_key(token)
    ver_key = auth_cache.user_version_key(user_id)
    values = cache.get_many([tok_key, ver_key, *extra_keys])

    verified = values.get(tok_key)
    current_version = values.get(ver_key)
    if verified is None or verified["user_id"] != user_id:
        claims = token_decode(token, expected_type=ACCESS)
        state = user_auth_state(user_id=user_id)
        if state is None or not state["is_active"]:
            raise Unauthorized(INVALID_TOKEN)
        current_version = state["token_version"]
        auth_cache.user_version_store(user_id=user_id, version=current_version)
        verified = {
            "user_id": user_id,
            "version": claims["ver"],
            "is_superuser": state["is_superuser"],
            "is_staff": state["is_staff"],
        }
        ttl = min(auth_cache.TOKEN_TTL_MAX, int(claims["exp"] - time.time()))
        if ttl > 0:
            cache.set(tok_key, verified, ttl)
    elif current_version is None:
        state = user_auth_state(user_id=user_id)
        if state is None or not state["is_active"]:
            raise Unauthorized(INVALID_TOKEN)
        current_version = state["token_version"]
        auth_cache.user_version_store(user_id=user_id, version=current_version)

    if verified["version"] != current_version:
        raise Unauthorized(INVALID_TOKEN)
    structlog.contextvars.bind_contextvars(user_id=user_id)
    identity = Identity(
        user_id=user_id, is_superuser=verified["is_superuser"], is_staff=verified["is_staff"]
    )
    return identity, values


class BearerAuth(HttpBearer):
    """Any authenticated user; `request.auth` is their Identity."""

    def authenticate(self, request, token: str) -> Identity:
        identity, _ = identity_resolve(token)
        return identity


class SuperuserAuth(HttpBearer):
    """Platform superusers only (`/api/ops/`); anyone else authenticated gets 403."""

    def authenticate(self, request, token: str) -> Identity:
        identity, _ = identity_resolve(token)
        if not identity.is_superuser:
            raise Forbidden(SUPERUSER_REQUIRED)
        return identity
