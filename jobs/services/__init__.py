"""Writes of the jobs app: member imports and webhooks. Callers import from `jobs.services`,
messages from the module that raises them."""

from jobs.services.imports import (
    job_crashed,
    members_import_run,
    members_import_start,
)
from jobs.services.webhooks import (
    webhook_create,
    webhook_delete,
    webhook_deliver,
    webhooks_dispatch,
    webhooks_sweep,
)

__all__ = [
    "job_crashed",
    "members_import_run",
    "members_import_start",
    "webhook_create",
    "webhook_delete",
    "webhook_deliver",
    "webhooks_dispatch",
    "webhooks_sweep",
]
