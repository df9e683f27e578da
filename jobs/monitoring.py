"""What /health and /metrics say about the queue, read from procrastinate's tables."""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings

from core.metrics import QUEUE_DEPTH, QUEUE_OLDEST_AGE
from jobs.queue import IMPORTS_QUEUE, WEBHOOKS_QUEUE, queue_stats

logger = structlog.get_logger("cadence.jobs")


def queue_check() -> dict[str, Any]:
    """/health's `queue` entry: `down` when a job has waited more than
    JOBS_HEALTH_MAX_AGE_SECONDS (no worker is taking jobs, or too few)."""
    stats = queue_stats(stalled_seconds=settings.JOBS_STALLED_SECONDS)
    stuck = stats["oldest_age_seconds"] > settings.JOBS_HEALTH_MAX_AGE_SECONDS
    return {
        "status": "down" if stuck else "ok",
        "depth": stats["depth"],
        "oldest_queued_age_s": stats["oldest_age_seconds"],
        "workers": stats["workers"],
    }


def metrics_refresh() -> None:
    """When /metrics is scraped (core.metrics scrape hook), the queue gauges are read from
    PostgreSQL: true whether or not a worker runs. Other requests cost nothing."""
    try:
        stats = queue_stats(stalled_seconds=settings.JOBS_STALLED_SECONDS)
    except Exception:  # noqa: BLE001 - the scrape still answers, without fresh queue gauges
        logger.warning("queue_metrics_unavailable", exc_info=True)
        return
    for queue in (IMPORTS_QUEUE, WEBHOOKS_QUEUE, *stats["depth_by_queue"]):
        QUEUE_DEPTH.labels(queue=queue).set(stats["depth_by_queue"].get(queue, 0))
    QUEUE_OLDEST_AGE.set(stats["oldest_age_seconds"])
