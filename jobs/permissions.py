"""Role rules of jobs and webhooks (DESIGN.md §11): admin only — another member gets 403, a
non-member 404 (tenant resolution). Applied by the services and selectors, so every door (API,
admin, the worker) keeps them."""

from __future__ import annotations

from orgs.models import Membership
from orgs.permissions import ensure_role

JOBS_ADMIN_ONLY = "Only an admin can see and start jobs or manage webhooks."


def ensure_jobs_admin(actor: Membership) -> None:
    ensure_role(actor, Membership.Role.ADMIN, message=JOBS_ADMIN_ONLY)


def may_run_jobs(actor: Membership | None) -> bool:
    """At run time, in the worker: the member who started a job is still an active admin."""
    return actor is not None and actor.is_active and actor.role == Membership.Role.ADMIN
