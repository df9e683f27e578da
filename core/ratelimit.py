"""Rate limits: fixed-window Redis counters shared by every worker and host.

| limit | key | default |
|---|---|---|
| API calls per user per org | `rl:user:{user_id}:{org_slug or "-"}` | `RATE_LIMIT_USER` 1200/m |
| anonymous calls per IP (failed auth, unknown paths too) | `rl:ip:{ip}` | `RATE_LIMIT_ANON` 120/m |
| `POST /api/auth/login` per IP | `rl:login-ip:{ip}` | `RATE_LIMIT_LOGIN_IP` 30/m |
| `POST /api/auth/login` per email | `rl:login-email:{email}` | `RATE_LIMIT_LOGIN_EMAIL` 10/m |

Why not django-ratelimit: it costs one or two Redis round trips of its own per request. Here the
authenticated counter rides in the same pipeline as the auth MGET (`users.auth`), so a warm
org request stays at one round trip. Windows are aligned to the clock (`{window index}` ends
every key), so `Retry-After` is known without asking Redis; the price is that a client may
spend two windows' worth across a boundary.

Redis down means no limits (fail open): availability beats throttling, and PostgreSQL is still
protected by the pool size and `statement_timeout`.

Every 429 comes from this module, through one of four doors:
1. `AnonymousRateLimitMiddleware`: a request without credentials (or to the token endpoints)
   before any work; one with credentials that never reached authentication (unknown path,
   another scheme) after the fact.
2. `authentication_counted`: credentials that fail authentication count against the IP.
3. `user_counter`: authentication (`users.auth.identity_resolve`) increments it in its own
   MGET pipeline (`cache_read_and_count`), takes the increment back for a forged token
   (`count_undo`) and enforces it (`counters_enforce`).
4. `login_counters`: `POST /api/auth/login`, per IP and per email, before the password check.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from django.conf import settings
from django.core import checks
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from core.errors import ApplicationError, Unauthorized, application_error_response
from core.keyslots import keys_by_slot
from core.metrics import CACHE_LOOKUPS
from core.middleware import is_api_path

logger = logging.getLogger("cadence.cache")
T = TypeVar("T")

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Requests that hand out tokens are anonymous whatever headers they carry.
TOKEN_PATHS = ("/api/auth/login", "/api/auth/refresh")


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    seconds: int


@lru_cache(maxsize=32)
def rate_parse(text: str) -> Rate | None:
    """`"1200/m"`, `"30/5m"`, `"10/h"`; empty or `"0"` turns the limit off."""
    if not text or text.strip() in ("0", "off", "none"):
        return None
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"Rate limit {text!r} is not like '120/m' or '30/5m'.")
    count, multiple, unit = match.groups()
    return Rate(limit=int(count), seconds=int(multiple or 1) * _UNIT_SECONDS[unit])


RATE_SETTINGS = (
    "RATE_LIMIT_USER",
    "RATE_LIMIT_ANON",
    "RATE_LIMIT_LOGIN_IP",
    "RATE_LIMIT_LOGIN_EMAIL",
)


def rate_settings_check(app_configs=None, **kwargs) -> list[checks.Error]:
    """`manage.py check` (and start-up) refuses a rate it cannot read."""
    errors = []
    for name in RATE_SETTINGS:
        try:
            rate_parse(getattr(settings, name))
        except ValueError as exc:
            errors.append(checks.Error(str(exc), obj=name, id="cadence.E001"))
    return errors


class RateLimited(ApplicationError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests. Retry after {retry_after} s.")
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True, slots=True)
class Counter:
    """One fixed-window counter: `key` already carries its window index."""

    key: str
    rate: Rate
    retry_after: int

    def exceeded_by(self, count: int | None) -> bool:
        return count is not None and count > self.rate.limit


def counter(setting: str, scope: str) -> Counter | None:
    """The counter of `scope` under the rate named by `setting`; None when limits are off."""
    if not settings.RATE_LIMITS_ENABLED:
        return None
    rate = rate_parse(getattr(settings, setting))
    if rate is None:
        return None
    now = time.time()
    window = int(now // rate.seconds)
    retry_after = max(1, math.ceil((window + 1) * rate.seconds - now))
    return Counter(key=f"rl:{scope}:{window}", rate=rate, retry_after=retry_after)


def cache_read_and_count(
    keys: Sequence[str], counters: Sequence[Counter | None] = ()
) -> tuple[dict[str, Any], list[int | None]]:
    """The cached values of `keys` (like `cache.get_many`) and each counter incremented, in
    one pipeline: one round trip. One MGET per hash slot (core.keyslots): a token's keys and
    an org's keys are in different slots, and Redis Cluster refuses an MGET across them.
    Redis down: no values, no counts (None)."""
    live = [c for c in counters if c is not None]
    if not keys and not live:
        return {}, [None] * len(counters)
    client = cache.client
    raw_keys = [client.make_key(key) for key in keys]
    groups = keys_by_slot(raw_keys)
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        for group in groups:
            pipe.mget([raw_keys[position] for position in group])
        for c in live:
            pipe.incr(client.make_key(c.key))
            pipe.expire(client.make_key(c.key), c.rate.seconds + 1)
        results = pipe.execute()
    except (RedisError, OSError):
        logger.warning("cache read and rate count failed; serving without them", exc_info=True)
        return {}, [None] * len(counters)

    values: dict[str, Any] = {}
    if raw_keys:
        for group, raws in zip(groups, results[: len(groups)], strict=True):
            for position, raw in zip(group, raws, strict=True):
                if raw is not None:
                    values[keys[position]] = client.decode(raw)
        found = len(values)
        if found:
            CACHE_LOOKUPS.labels("hit").inc(found)
        if len(keys) > found:
            CACHE_LOOKUPS.labels("miss").inc(len(keys) - found)
    counts = iter(results[len(groups) :: 2])
    return values, [next(counts) if c is not None else None for c in counters]


def counters_enforce(counters: Sequence[Counter | None], counts: Sequence[int | None]) -> None:
    """Raises RateLimited for the first counter over its limit."""
    for c, count in zip(counters, counts, strict=True):
        if c is not None and c.exceeded_by(count):
            raise RateLimited(c.retry_after)


def count_and_enforce(*counters: Counter | None) -> None:
    _, counts = cache_read_and_count((), counters)
    counters_enforce(counters, counts)


def count_undo(c: Counter | None) -> None:
    """Takes back an increment that turned out not to be the owner's (a forged token)."""
    if c is None:
        return
    try:
        get_redis_connection("default").decr(cache.client.make_key(c.key))
    except (RedisError, OSError):
        logger.warning("rate count undo failed", exc_info=True)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or with `TRUSTED_PROXY_COUNT` = n > 0 the address the n-th proxy from the
    right saw in X-Forwarded-For (entries further left are the client's to forge)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def user_counter(user_id: int, scope: str) -> Counter | None:
    """Calls of one user in one org (`scope` the slug, "-" outside orgs)."""
    return counter("RATE_LIMIT_USER", f"user:{user_id}:{scope}")


def anonymous_counter(request: HttpRequest) -> Counter | None:
    return counter("RATE_LIMIT_ANON", f"ip:{client_ip(request)}")


def login_counters(request: HttpRequest, email: str) -> tuple[Counter | None, Counter | None]:
    return (
        counter("RATE_LIMIT_LOGIN_IP", f"login-ip:{client_ip(request)}"),
        counter("RATE_LIMIT_LOGIN_EMAIL", f"login-email:{email.strip().lower()}"),
    )


def authentication_counted(request: HttpRequest, resolve: Callable[[], T]) -> T:
    """Runs `resolve`, which counts the request per user (`user_counter`); if it fails with a
    401, the request counts against the IP instead, and past that limit the answer is 429. The
    middleware below then knows the request was counted."""
    request.rate_counted = True
    try:
        return resolve()
    except Unauthorized:
        count_and_enforce(anonymous_counter(request))
        raise


class AnonymousRateLimitMiddleware:
    """Counts every /api/ request that the auth layer does not count against its IP.

    A request without credentials (and every request to the token endpoints) is counted
    before any work. A request with credentials is counted by the auth layer: per user when
    they are valid, per IP when they are not. One that never reached the auth layer (an
    unknown path, a non-bearer header) is counted here after the fact, and its answer turns
    into a 429 once the IP is over the limit.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_path(request.path):
            return self.get_response(request)
        anonymous = (
            "HTTP_AUTHORIZATION" not in request.META or request.path.rstrip("/") in TOKEN_PATHS
        )
        try:
            if anonymous:
                count_and_enforce(anonymous_counter(request))
            response = self.get_response(request)
            if not anonymous and not getattr(request, "rate_counted", False):
                count_and_enforce(anonymous_counter(request))
        except RateLimited as exc:
            return application_error_response(request, exc)
        return response
