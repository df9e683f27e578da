"""Bearer-token authentication with one Redis round trip and no SQL when warm.

A verified access token is remembered under `auth:tok:{sha256(token)}` for at most 60 s (and
never past its expiry); the user's current token version lives under `auth:ver:{user_id}`.
Both are read in one MGET together with any keys the caller adds (tenant resolution adds the
org and membership keys), so a warm org-scoped request costs one round trip in all. The
rate-limit counter of the user (`core.ratelimit`) is incremented in that same pipeline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import HttpBearer

from core import cache_retry
from core.errors import Forbidden, Unauthorized
from core.ratelimit import (
    authentication_counted,
    cache_read_and_count,
    count_undo,
    counters_enforce,
    user_counter,
)
from users import cache as auth_cache
from users.selectors import user_auth_state
from users.tokens import ACCESS, INVALID_TOKEN, token_decode, token_peek_user_id

SUPERUSER_REQUIRED = "This operation is for platform superusers."


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified, unrevoked access token speaks for."""

    user_id: int
    is_superuser: bool


def identity_resolve(
    token: str,
    *,
    user_id: int | None = None,
    extra_keys: Sequence[str] = (),
    rate_scope: str | None = "-",
) -> tuple[Identity, dict[str, Any]]:
    """Verifies `token` and returns its identity plus the cached values of `extra_keys`,
    all fetched in the same MGET, which also counts the call against the user's rate limit
    in `rate_scope` (the org slug, or "-" outside orgs; None: not counted). `user_id` is the
    token's unverified `sub` when the caller already peeked at it (to build `extra_keys`): the
    token is read once per request, and verified (signature, expiry) only when no verified
    entry is cached."""
    if user_id is None:
        user_id = token_peek_user_id(token)
    # Invalidations that failed in a Redis outage land before anything cached is read.
    if cache_retry.retrier.pending:
        cache_retry.pending_retry()
    rate_counter = user_counter(user_id, rate_scope) if rate_scope is not None else None
    tok_key = auth_cache.token_key(token)
    ver_key = auth_cache.user_version_key(user_id)
    values, counts = cache_read_and_count([tok_key, ver_key, *extra_keys], [rate_counter])
    try:
        identity = _identity_verify(token, user_id, values, tok_key, ver_key)
    except Unauthorized:
        count_undo(rate_counter)  # a forged token must not spend its victim's budget
        raise
    counters_enforce([rate_counter], counts)
    structlog.contextvars.bind_contextvars(user_id=user_id)
    return identity, values


def _identity_verify(
    token: str, user_id: int, values: dict[str, Any], tok_key: str, ver_key: str
) -> Identity:

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
    return Identity(user_id=user_id, is_superuser=verified["is_superuser"])


_BEARER = re.compile(r"bearer +(\S+) *", re.IGNORECASE)


class Bearer(HttpBearer):
    """`Authorization: Bearer <token>`: the scheme in any case, then one or more spaces
    (RFC 6750 `1*SP`). Anything else is no credentials (401)."""

    def __call__(self, request: HttpRequest) -> Any:
        match = _BEARER.fullmatch(request.headers.get(self.header, ""))
        if match is None:
            return None
        return self.authenticate(request, match.group(1))


class BearerAuth(Bearer):
    """Any authenticated user; `request.auth` is their Identity."""

    def authenticate(self, request, token: str) -> Identity:
        identity, _ = authentication_counted(request, lambda: identity_resolve(token))
        return identity


class SuperuserAuth(Bearer):
    """Platform superusers only (`/api/ops/`); anyone else authenticated gets 403."""

    def authenticate(self, request, token: str) -> Identity:
        identity, _ = authentication_counted(request, lambda: identity_resolve(token))
        if not identity.is_superuser:
            raise Forbidden(SUPERUSER_REQUIRED)
        return identity
