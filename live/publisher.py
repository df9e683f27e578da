"""Sends committed changes to their rooms, without making the writing request wait.

The writer (a WSGI worker) hands the changes to one event loop per process, running in a
daemon thread with its own channel-layer connection; the send happens there. A request pays
for a thread-safe queue put (microseconds). If Redis is unreachable the send fails and is
logged: live sockets then miss the change, and a client that resumes with `after` (the feed,
or a new socket's replay) gets it from the change log, which is the source of truth.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

from live.rooms import rooms_for, seq_room

logger = logging.getLogger("cadence.live")
CHANGE_MESSAGE = "change.message"  # OrgChangesConsumer.change_message: the change itself
TICK_MESSAGE = "change.tick"  # live.hub.OrgTicks (once per process): its seq and rooms

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _event_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or not _loop.is_running():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="cadence-live-publisher", daemon=True
            )
            thread.start()
            _loop = loop
        return _loop


async def _send(org_id: int, items: list[dict[str, Any]], committed_at: float) -> None:
    """Each change to its rooms, and a tick (seq + rooms) to every socket of the org, so a
    socket knows every seq of the org (they are gapless) and delivers in seq order even when
    two writers' messages cross (live.consumers)."""
    layer = get_channel_layer()
    for item in items:
        rooms = rooms_for(org_id=org_id, item=item)
        await layer.group_send(
            seq_room(org_id), {"type": TICK_MESSAGE, "seq": item["seq"], "rooms": rooms}
        )
        message = {"type": CHANGE_MESSAGE, "change": _wire(item), "committed_at": committed_at}
        for room in rooms:
            await layer.group_send(room, message)


def _wire(item: dict[str, Any]) -> dict[str, Any]:
    """msgpack-safe: the timestamp as the feed's JSON shows it."""
    return {**item, "at": DjangoJSONEncoder().default(item["at"])}


def _report(future) -> None:
    if future.exception() is not None:
        logger.warning("live publish failed", exc_info=future.exception())


def changes_publish(sender, *, org_id: int, items: list[dict[str, Any]], **kwargs) -> None:
    """Receiver of orgs.changes.changes_committed."""
    future = asyncio.run_coroutine_threadsafe(_send(org_id, items, time.time()), _event_loop())
    future.add_done_callback(_report)
