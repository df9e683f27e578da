"""Prometheus metrics of the WebSocket server (aggregated across processes like the others)."""

from prometheus_client import Counter, Gauge, Histogram

SOCKETS_OPEN = Gauge(
    "cadence_live_sockets_open", "Open WebSocket connections.", multiprocess_mode="livesum"
)
MESSAGES_SENT = Counter("cadence_live_messages_sent_total", "Change messages sent to sockets.")
DELIVERY_SECONDS = Histogram(
    "cadence_live_delivery_seconds",
    "From the write's commit to the change leaving the server.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
MEMBERSHIP_CHECKS = Counter(
    "cadence_live_membership_checks_total",
    "Open sockets' memberships checked in full by the upkeep (live.hub.Upkeep); the others are "
    "judged from their unchanged cache entries.",
)
