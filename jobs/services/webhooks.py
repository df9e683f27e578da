"""Webhooks (DESIGN.md §11): subscriptions (admin), and their delivery from the change log.

Delivery, in three steps, each safe to run again and from several workers at once:

1. `webhooks_dispatch(org_id)` — when the org's log moved (the worker LISTENs: a trigger on
   `orgs_change` notifies, jobs migration 0001; and a sweep every JOBS_SWEEP_SECONDS catches
   anything missed): for each webhook of the org, the changes after its cursor that it
   subscribes to become deliveries (a unique (webhook, seq) makes a repeat a no-op), the
   cursor moves, and a `webhook_deliver` job is queued — all in one transaction.
2. `webhook_deliver(webhook_id)` (that job; one at a time per webhook: a PostgreSQL advisory
   lock; a job that finds it taken leaves the work to its holder, which looks again after
   letting go): sends the webhook's oldest pending delivery, then the next, in seq order.
   A delivery that fails (not 2xx, timeout, refused address) is tried again after
   WEBHOOKS_RETRY_BASE_SECONDS × 2^(attempt-1) (at most WEBHOOKS_RETRY_MAX_SECONDS) and blocks
   the ones after it, so order holds across retries; past WEBHOOKS_RETRY_FOR_SECONDS (24 h)
   of trying it is `failed` and the next one goes.
3. `webhooks_sweep()` (the worker, periodically): dispatches orgs whose log is ahead of a
   cursor and requeues webhooks with a delivery due, so a lost notification or job only
   delays.

Signature (Stripe's scheme): `Cadence-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
with the webhook's secret; `Cadence-Event-Id: <seq>`. The secret is returned once, by
`webhook_create`, and never logged.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

import structlog
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from core.errors import NotFound, Unprocessable, detail
from core.metrics import JOB_FAILURES
from jobs.models import ALL_EVENTS, EVENT_TYPES, Delivery, Webhook
from jobs.outbound import UrlRefused, post, url_check
from jobs.permissions import ensure_jobs_admin
from jobs.queue import enqueue
from jobs.selectors import WEBHOOK_FIELDS, WEBHOOK_NOT_FOUND
from live.selectors import CHANGE_ITEM_FIELDS
from orgs.audit import record_change
from orgs.changes import org_change_head
from orgs.models import Change, Membership, Organization

logger = structlog.get_logger("cadence.webhooks")

UNKNOWN_EVENT = "Unknown event type: '*' or one of the change types."
DISPATCH_BATCH = 1000  # changes read per round of a dispatch
DELIVER_RUN_SECONDS = 20.0  # then the job hands over to a fresh one (other webhooks get a turn)
SIGNATURE_HEADER = "Cadence-Signature"
EVENT_ID_HEADER = "Cadence-Event-Id"


def webhook_create(
    *, org: Organization, actor: Membership, url: str, events: Sequence[str]
) -> dict[str, Any]:
    """The webhook and its signing secret (the only time it is returned). 422 at
    ["body", "url"] for a refused URL, at ["body", "events", i] for an unknown type."""
    ensure_jobs_admin(actor)
    errors = [
        detail(["body", "events", i], UNKNOWN_EVENT)
        for i, event in enumerate(events)
        if event != ALL_EVENTS and event not in EVENT_TYPES
    ]
    url = url.strip()
    try:
        url_check(url)
    except UrlRefused as refused:
        errors.insert(0, detail(["body", "url"], refused.message))
    if errors:
        raise Unprocessable(details=errors)
    events = [ALL_EVENTS] if ALL_EVENTS in events else list(dict.fromkeys(events))
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        webhook = Webhook.objects.create(
            org=org, created_by=actor, url=url, events=events, secret=secret
        )
        record_change(
            org=org,
            actor=actor,
            action="webhook.create",
            entity_type="webhook",
            entity_id=webhook.pk,
            changes={"url": [None, url], "events": [None, events]},  # never the secret
            owner_id=actor.pk,  # admins see it (and its creator), not every member
        )
        # Its own creation is the last change it does not receive (the org's log is locked
        # by the append above until commit, so the head read here is that change's seq).
        webhook.cursor_seq = org_change_head(org_id=org.pk)
        webhook.save(update_fields=["cursor_seq"])
    item = {name: getattr(webhook, name) for name in WEBHOOK_FIELDS}
    return {**item, "secret": secret}


@transaction.atomic
def webhook_delete(*, org: Organization, actor: Membership, webhook_id: int) -> None:
    """Deletes the webhook and its deliveries; nothing more is sent."""
    ensure_jobs_admin(actor)
    webhook = Webhook.objects.select_for_update().filter(org=org, pk=webhook_id).first()
    if webhook is None:
        raise NotFound(WEBHOOK_NOT_FOUND)
    Delivery.objects.filter(org=org, webhook=webhook).delete()
    webhook.delete()
    record_change(
        org=org,
        actor=actor,
        action="webhook.delete",
        entity_type="webhook",
        entity_id=webhook_id,
        changes={"url": [webhook.url, None]},
        owner_id=actor.pk,
    )


# --- Dispatch: the change log → deliveries ----------------------------------------------------


def _wire(change: dict[str, Any]) -> dict[str, Any]:
    """The change item as the feed's JSON shows it (its timestamp as Ninja renders one)."""
    return {**change, "at": DjangoJSONEncoder().default(change["at"])}


def _subscribed(events: list[str], change_type: str) -> bool:
    return ALL_EVENTS in events or change_type in events


def webhooks_dispatch(*, org_id: int) -> int:
    """Turns the org's new changes into deliveries of its webhooks and queues their jobs;
    the number of deliveries made. Webhooks another worker is dispatching are skipped (it
    does them)."""
    made = 0
    while True:
        made_now, more = _dispatch_round(org_id=org_id)
        made += made_now
        if not more:
            return made


@transaction.atomic
def _dispatch_round(*, org_id: int) -> tuple[int, bool]:
    webhooks = list(
        Webhook.objects.select_for_update(skip_locked=True)
        .filter(org_id=org_id)
        .order_by("pk")
        .only("pk", "events", "cursor_seq")
    )
    if not webhooks:
        return 0, False
    head = org_change_head(org_id=org_id)  # every seq up to it is committed (orgs.changes)
    low = min(webhook.cursor_seq for webhook in webhooks)
    if low >= head:
        return 0, False
    high = min(head, low + DISPATCH_BATCH)
    changes = list(
        Change.objects.filter(org_id=org_id, seq__gt=low, seq__lte=high)
        .order_by("seq")
        .values(*CHANGE_ITEM_FIELDS)
    )
    now = timezone.now()
    deliveries = []
    ready = []
    for webhook in webhooks:
        wanted = [
            change
            for change in changes
            if change["seq"] > webhook.cursor_seq and _subscribed(webhook.events, change["type"])
        ]
        deliveries += [
            Delivery(
                org_id=org_id,
                webhook_id=webhook.pk,
                seq=change["seq"],
                event_type=change["type"],
                payload=_wire(change),
                next_attempt_at=now,
                created_at=now,
            )
            for change in wanted
        ]
        if wanted:
            ready.append(webhook.pk)
        if webhook.cursor_seq < high:
            webhook.cursor_seq = high
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    Webhook.objects.bulk_update(webhooks, ["cursor_seq"])
    for webhook_id in ready:
        deliver_enqueue(webhook_id=webhook_id)
    return len(deliveries), high < head


def deliver_enqueue(*, webhook_id: int, at: datetime.datetime | None = None) -> None:
    """Queues the webhook's delivery job (one waiting at a time; one running at a time)."""
    from jobs.tasks import webhook_deliver_task  # tasks import services: bound at call time

    lock = f"webhook:{webhook_id}"
    enqueue(
        webhook_deliver_task, lock=lock, queueing_lock=lock, schedule_at=at, webhook_id=webhook_id
    )


_ORGS_BEHIND = """
SELECT DISTINCT w.org_id FROM jobs_webhook w
JOIN orgs_organization o ON o.id = w.org_id
WHERE w.cursor_seq < o.change_seq
"""


def webhooks_sweep() -> None:
    """The safety net: dispatches every org whose log is ahead of a webhook's cursor, and
    queues a job for every webhook with a delivery due."""
    with connection.cursor() as cursor:
        cursor.execute(_ORGS_BEHIND)
        org_ids = [org_id for (org_id,) in cursor.fetchall()]
    for org_id in org_ids:
        webhooks_dispatch(org_id=org_id)
    due = (
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .values_list("webhook_id", flat=True)
        .distinct()
    )
    for webhook_id in list(due):
        deliver_enqueue(webhook_id=webhook_id)


# --- Delivery -----------------------------------------------------------------------------------


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def retry_wait(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`, after `attempts` failed ones (≥ 1)."""
    wait = settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 30)
    return min(wait, settings.WEBHOOKS_RETRY_MAX_SECONDS)


# An advisory lock per webhook (two-int form: this class, the webhook id): one sender at a time.
_LOCK_CLASS = 715_011
_TRY_LOCK = "SELECT pg_try_advisory_lock(%s, %s::int4)"
_UNLOCK = "SELECT pg_advisory_unlock(%s, %s::int4)"


def webhook_deliver(*, webhook_id: int) -> str:
    """Sends the webhook's pending deliveries in seq order, until none is left or one failed
    (then its retry is scheduled), for at most DELIVER_RUN_SECONDS (then a fresh job goes on).
    Its outcome: `done`, `waiting` (a retry is scheduled), `busy` or `gone`.

    One sender per webhook: a job that finds another sending returns at once. The sender
    looks again once it has let go of the lock, so a delivery made while it was finishing,
    whose job found it busy, is not left behind."""
    key = [_LOCK_CLASS, webhook_id % 2**31]
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_TRY_LOCK, key)
            if not cursor.fetchone()[0]:
                return "busy"
        try:
            outcome = _deliver_pending(webhook_id=webhook_id)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(_UNLOCK, key)
        if outcome != "done" or not _due(webhook_id=webhook_id):
            return outcome


def _due(*, webhook_id: int) -> bool:
    return Delivery.objects.filter(
        webhook_id=webhook_id,
        status=Delivery.Status.PENDING,
        next_attempt_at__lte=timezone.now(),
    ).exists()


def _deliver_pending(*, webhook_id: int) -> str:
    started = time.monotonic()
    while True:
        webhook = Webhook.objects.filter(pk=webhook_id).values("org_id", "url", "secret").first()
        if webhook is None:
            return "gone"
        delivery = (
            Delivery.objects.filter(
                org_id=webhook["org_id"], webhook_id=webhook_id, status=Delivery.Status.PENDING
            )
            .order_by("seq")
            .first()
        )
        if delivery is None:
            return "done"
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now():
            deliver_enqueue(webhook_id=webhook_id, at=delivery.next_attempt_at)
            return "waiting"
        sent = _attempt(delivery, url=webhook["url"], secret=webhook["secret"])
        if not sent and delivery.status == Delivery.Status.PENDING:
            deliver_enqueue(webhook_id=webhook_id, at=delivery.next_attempt_at)
            return "waiting"
        if time.monotonic() - started > DELIVER_RUN_SECONDS:
            deliver_enqueue(webhook_id=webhook_id)
            return "next run"


def _attempt(delivery: Delivery, *, url: str, secret: str) -> bool:
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        SIGNATURE_HEADER: signature_header(secret=secret, body=body, timestamp=int(time.time())),
        EVENT_ID_HEADER: str(delivery.seq),
    }
    outcome = post(url, body, headers)
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error[:200]
    if outcome.ok:
        delivery.status = Delivery.Status.SUCCEEDED
        delivery.next_attempt_at = None
        delivery.finished_at = now
    else:
        JOB_FAILURES.labels(task="webhook_delivery").inc()
        wait = retry_wait(delivery.attempts)
        given_up = (now - delivery.created_at).total_seconds() + wait
        if given_up > settings.WEBHOOKS_RETRY_FOR_SECONDS:
            delivery.status = Delivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.finished_at = now
        else:
            delivery.next_attempt_at = now + datetime.timedelta(seconds=wait)
        logger.info(
            "webhook_attempt_failed",
            delivery_id=delivery.pk,
            seq=delivery.seq,
            attempts=delivery.attempts,
            status_code=outcome.status_code,
            error=outcome.error,
            gave_up=delivery.status == Delivery.Status.FAILED,
        )
    delivery.save(
        update_fields=[
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "finished_at",
        ]
    )
    return outcome.ok
