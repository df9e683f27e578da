"""Open sockets per user and org, across every ASGI worker: a Redis sorted set per (org, user)
of socket ids scored by their last sign of life, so a worker that died without cleaning up
stops counting after `WS_STALE_SECONDS`."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError


def _key(org_id: int, user_id: int) -> str:
    return cache.make_key(f"ws:{org_id}:{user_id}")


def socket_register(*, org_id: int, user_id: int, socket_id: str) -> bool:
    """Adds (or refreshes) the socket; False, and nothing added, past `WS_MAX_PER_USER`.
    Redis unreachable: allowed (fail open, like the rate limits)."""
    key, now = _key(org_id, user_id), time.time()
    try:
        pipe = get_redis_connection("default").pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now - settings.WS_STALE_SECONDS)
        pipe.zadd(key, {socket_id: now})
        pipe.zrank(key, socket_id)
        pipe.expire(key, settings.WS_STALE_SECONDS)
        _, _, rank, _ = pipe.execute()
    except (RedisError, OSError):
        return True
    if rank is not None and rank >= settings.WS_MAX_PER_USER:
        socket_unregister(org_id=org_id, user_id=user_id, socket_id=socket_id)
        return False
    return True


def socket_unregister(*, org_id: int, user_id: int, socket_id: str) -> None:
    try:
        get_redis_connection("default").zrem(_key(org_id, user_id), socket_id)
    except (RedisError, OSError):
        pass


def socket_refresh(*, org_id: int, user_id: int, socket_id: str) -> None:
    """A sign of life (every ping): keeps the socket counted."""
    try:
        get_redis_connection("default").zadd(
            _key(org_id, user_id), {socket_id: time.time()}, xx=True
        )
    except (RedisError, OSError):
        pass
