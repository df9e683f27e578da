"""Request-scoped metadata for observability (not business data)."""

import structlog


def current_request_id() -> str:
    """The id of the request being served, for audit events; empty outside a request."""
    return structlog.contextvars.get_contextvars().get("request_id", "")
