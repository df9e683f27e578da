"""Cache keys of authentication (DESIGN.md §5). The only module that spells them."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from core import cache_retry
from core.expiry import jittered

TOKEN_TTL_MAX = 60
USER_VERSION_TTL = 300


def token_key(token: str) -> str:
    return f"auth:tok:{hashlib.sha256(token.encode()).hexdigest()}"


def user_version_key(user_id: int) -> str:
    return f"auth:ver:{user_id}"


def user_version_store(*, user_id: int, version: int) -> None:
    """Written, never deleted: a revoked token must fail on the very next request. If Redis is
    unreachable the old version may still be there when it comes back: the key is then deleted
    as soon as possible (core.cache_retry), and a missing version is read from PostgreSQL."""
    if not cache.set(user_version_key(user_id), version, jittered(USER_VERSION_TTL)):
        cache_retry.keys_delete([user_version_key(user_id)])
