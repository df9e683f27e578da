"""Errors to Sentry when `SENTRY_DSN` is set (DESIGN.md §12), without what is not ours to send:
no request bodies, no cookies, no `Authorization` (or any header carrying a token), no query
strings (a cursor or a search term is the user's), no user identity beyond the ids in tags."""

from __future__ import annotations

import os
from typing import Any

SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})


def _scrub(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        request.pop("query_string", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value
                for name, value in headers.items()
                if name.lower() not in SENSITIVE_HEADERS
            }
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
    event.pop("user", None)
    return event


def sentry_setup() -> bool:
    dsn = os.environ.get("SENTRY_DSN", "")
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=0.0,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        before_send=_scrub,
    )
    return True


def error_capture(exc: BaseException) -> None:
    """An unexpected error the envelope answered as a 500: Django never sees it raised, so its
    Sentry integration would not either."""
    import sys

    sentry_sdk = sys.modules.get("sentry_sdk")  # imported only when sentry_setup ran
    if sentry_sdk is not None and sentry_sdk.is_initialized():
        sentry_sdk.capture_exception(exc)
