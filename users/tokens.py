"""JWT access and refresh tokens (HS256, PyJWT).

Claims: `sub` (user id), `ver` (the user's token_version when issued), `type` (access or
refresh), `iat`, `exp`; refresh tokens add `jti` and `fam` (their rotation family). The
header names the key (`kid`); a token naming another key, another algorithm, or lacking any
required claim is rejected.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from django.conf import settings

from core.errors import Unauthorized

ACCESS = "access"
REFRESH = "refresh"
ALGORITHM = "HS256"
INVALID_TOKEN = "The token is missing, invalid, expired or revoked."
_REQUIRED = ["exp", "iat", "sub", "ver", "type"]


def token_encode(*, user_id: int, version: int, token_type: str, ttl: int, **extra: Any) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "ver": version, "type": token_type, "iat": now}
    claims["exp"] = now + ttl
    claims.update(extra)
    return jwt.encode(
        claims, settings.JWT_SIGNING_KEY, algorithm=ALGORITHM, headers={"kid": settings.JWT_KEY_ID}
    )


def access_token_encode(*, user_id: int, version: int) -> str:
    return token_encode(
        user_id=user_id, version=version, token_type=ACCESS, ttl=settings.JWT_ACCESS_TTL
    )


def refresh_token_encode(*, user_id: int, version: int, jti: uuid.UUID, family: uuid.UUID) -> str:
    return token_encode(
        user_id=user_id,
        version=version,
        token_type=REFRESH,
        ttl=settings.JWT_REFRESH_TTL,
        jti=str(jti),
        fam=str(family),
    )


def token_decode(token: str, *, expected_type: str) -> dict[str, Any]:
    """Verifies signature, algorithm, key id, expiry and claims; any failure is a 401."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("kid") != settings.JWT_KEY_ID:
            raise Unauthorized(INVALID_TOKEN)
        claims = jwt.decode(
            token,
            settings.JWT_SIGNING_KEY,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED},
        )
        if claims["type"] != expected_type or not isinstance(claims["ver"], int):
            raise Unauthorized(INVALID_TOKEN)
        claims["user_id"] = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise Unauthorized(INVALID_TOKEN) from exc
    return claims


def token_peek_user_id(token: str) -> int:
    """The `sub` of a token without verifying it: only to build cache keys before the one
    Redis round trip. Trust comes later, from the verified-token cache entry or a full decode."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
        return int(claims["sub"])
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError) as exc:
        raise Unauthorized(INVALID_TOKEN) from exc
