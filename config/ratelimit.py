"""Rate limits under /api/: fixed one-minute windows counted in Redis (DESIGN.md §4).

- a user inside one org (or outside any org): `rl:u:{org_slug|-}:{user_id}:{window}`,
  `RATE_LIMIT_USER` (1200/m);
- an anonymous caller (no token, failed auth, unknown path): `rl:a:{ip}:{window}`,
  `RATE_LIMIT_ANON` (120/m);
- login attempts for one email: `rl:le:{sha256(email)}:{window}`, `RATE_LIMIT_LOGIN_EMAIL`
  (10/m); from one IP: `rl:li:{ip}:{window}`, `RATE_LIMIT_LOGIN_IP` (30/m).

Every check is one pipelined round trip (`INCR` + `EXPIRE` per bucket, in one
`MULTI`-less pipeline); the counters live in Redis, so the limits hold across gunicorn
workers and app servers. Over a limit: 429 envelope with `Retry-After` = seconds to the end
of the window. `RATE_LIMITS_ENABLED=false` switches the limiter off (benchmarks). If Redis is
unreachable the limiter fails open: the request is served, a warning is logged, never a 500.

Who is a "user" is decided before authentication, from the token's unverified `sub`; trust
comes afterwards: a request that ends in 401 is counted against its IP's anonymous bucket
and taken back from the user bucket (one more round trip, on failures only), so forged
tokens cannot spend somebody else's quota, and a token-bearing caller whose IP has used up
its anonymous budget (e.g. flooding bad tokens) is refused too — the anonymous counter is
read (`GET`) in the same pipeline, so this costs nothing extra.

Cost: a warm org-scoped request makes two Redis round trips: this pipeline, then the one
`MGET` of auth and tenant resolution (users.auth / orgs.tenancy). Folding the `INCR` into
that `MGET` pipeline would need auth to accept pre-fetched values; see
docs/operations-hardening.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from config.errors import error_response
from config.middleware import is_api_path

logger = structlog.get_logger("cadence.ratelimit")

WINDOW_SECONDS = 60
RATE_LIMITED = "Too many requests; retry after {seconds} s."
LOGIN_PATH = "/api/auth/login"
_ORG_PATH = re.compile(r"^/api/org/([^/]+)/")
_PERIODS = {"s": 1, "m": 60, "h": 3600}
_UNITS_PER_MINUTE = {"s": 60, "m": 1, "h": 1 / 60}


def parse_rate(rate: str) -> int:
    """'1200/m' → 1200 requests per minute. Windows are one minute; '/s' and '/h' rates are
    converted to their per-minute equivalent. Bad values fail at start-up (settings)."""
    count, _, unit = rate.strip().partition("/")
    unit = (unit or "m").strip().lower()[:1]
    if unit not in _UNITS_PER_MINUTE:
        raise ValueError(f"Bad rate {rate!r}: expected N/s, N/m or N/h")
    return max(1, int(int(count) * _UNITS_PER_MINUTE[unit]))


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    limit: int


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or, behind `RATE_LIMIT_PROXY_COUNT` trusted proxies, the address the
    outermost trusted proxy saw (counted from the right of X-Forwarded-For)."""
    proxies = settings.RATE_LIMIT_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _bearer_user_id(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    from users.tokens import token_peek_user_id

    try:
        return str(token_peek_user_id(token.strip()))
    except Exception:  # noqa: BLE001 - any unreadable token is simply anonymous
        return None


def _login_email(request: HttpRequest) -> str | None:
    try:
        email = json.loads(request.body or b"{}").get("email")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _anon_key(ip: str, window: int) -> str:
    return cache.make_key(f"rl:a:{ip}:{window}")


class RateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.RATE_LIMITS_ENABLED or not is_api_path(request.path):
            return self.get_response(request)
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
        ip = client_ip(request)
        user_id = _bearer_user_id(request)

        buckets: list[Bucket] = []
        watch_anon = None  # anonymous counter read, not counted, for token-bearing calls
        if user_id is not None:
            match = _ORG_PATH.match(request.path)
            scope = match.group(1) if match else "-"
            user_key = cache.make_key(f"rl:u:{scope}:{user_id}:{window}")
            buckets.append(Bucket(user_key, parse_rate(settings.RATE_LIMIT_USER)))
            watch_anon = _anon_key(ip, window)
        else:
            buckets.append(Bucket(_anon_key(ip, window), parse_rate(settings.RATE_LIMIT_ANON)))
        if request.path.rstrip("/") == LOGIN_PATH and request.method == "POST":
            buckets.append(
                Bucket(
                    cache.make_key(f"rl:li:{ip}:{window}"),
                    parse_rate(settings.RATE_LIMIT_LOGIN_IP),
                )
            )
            email = _login_email(request)
            if email:
                digest = hashlib.sha256(email.encode()).hexdigest()[:32]
                buckets.append(
                    Bucket(
                        cache.make_key(f"rl:le:{digest}:{window}"),
                        parse_rate(settings.RATE_LIMIT_LOGIN_EMAIL),
                    )
                )

        try:
            pipe = _redis().pipeline(transaction=False)
            for bucket in buckets:
                pipe.incr(bucket.key)
                pipe.expire(bucket.key, WINDOW_SECONDS + 5)
            if watch_anon:
                pipe.get(watch_anon)
            results = pipe.execute()
        except Exception as exc:  # noqa: BLE001 - fail open: Redis down must never be a 500
            logger.warning("rate_limit_unavailable", error=str(exc))
            return self.get_response(request)

        counts = results[0 : 2 * len(buckets) : 2]
        over = any(count > bucket.limit for count, bucket in zip(counts, buckets, strict=True))
        if watch_anon and int(results[-1] or 0) >= parse_rate(settings.RATE_LIMIT_ANON):
            over = True
        if over:
            response = error_response(
                request, 429, message=RATE_LIMITED.format(seconds=retry_after)
            )
            response["Retry-After"] = str(retry_after)
            return response

        response = self.get_response(request)
        if user_id is not None and response.status_code == 401:
            self._count_failed_auth(buckets[0].key, watch_anon)
        return response

    @staticmethod
    def _count_failed_auth(user_key: str, anon_key: str | None) -> None:
        """A token that did not authenticate: the call was anonymous after all."""
        try:
            pipe = _redis().pipeline(transaction=False)
            pipe.decr(user_key)
            if anon_key:
                pipe.incr(anon_key)
                pipe.expire(anon_key, WINDOW_SECONDS + 5)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - fail open
            logger.warning("rate_limit_unavailable", error=str(exc))
