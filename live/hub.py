"""What the sockets of one server process share, so that a change costs the process work in
proportion to the sockets it is *for*, not to every open socket (DESIGN.md §10 budgets).

- `OrgTicks`: the org's tick room (`live.rooms.seq_room`: each change's seq and target rooms,
  published to every socket of the org so each can deliver in seq order) is heard once per
  process and org, not once per socket. Heard per socket, 1,000 sockets made every write cost
  1,000 channel-layer dispatches (a msgpack decode, a queue hop and a handler each): at 50
  writes/s that is 50,000 dispatches/s, more than one worker can do, and deliveries fell
  seconds behind (`bench --ws`, README "Live updates"). Here a tick is one dict entry; a socket
  reads the entries between its last delivered seq and a change it holds when it has one
  (`OrgChangesConsumer.advance`); a tick reaches only the sockets of its rooms (which then
  expect its content) and those holding a change that waits for it.
- `Upkeep`: logout, deactivation and role changes must act on open sockets within a second,
  so every socket's token and membership are checked each `WS_REVALIDATE_SECONDS`: by one task
  per process, one MGET for all, and a full check only where an entry changed. The same task
  sends the pings.
- `sync_call`: the sockets' synchronous calls (cache, database) run in one context.
  Django's caches are per async context (asgiref `Local`, not thread-critical), so each socket
  calling through its own context got its own django-redis client and connection pool: a Redis
  connection per idle socket, and (with `Upkeep` keeping hashes, not entries) ~20 KB of this
  process's memory each (`bench --ws`, no permessage-deflate: 72 → 53 KB per idle socket).

All of it is per process (one uvicorn worker, one event loop); nothing crosses processes but
Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection

from core import cache_retry
from core.errors import NotFound, Unauthorized
from live.metrics import MEMBERSHIP_CHECKS
from live.publisher import TICK_MESSAGE
from live.rooms import seq_room
from live.sockets import socket_refresh
from orgs import cache as org_cache
from orgs.models import Membership
from orgs.tenancy import membership_resolve
from users import cache as auth_cache

_calls: asyncio.Queue | None = None
_caller_task: asyncio.Task | None = None


async def sync_call(function: Callable[..., Any], /, **kwargs: Any) -> Any:
    """`database_sync_to_async(function)(**kwargs)`, made by this process's one caller task, in
    its one context. (Thread-sensitive, those calls ran one at a time on one thread anyway; a
    context shared by concurrent tasks would not do: asgiref keeps per-call state in it.)"""
    global _calls, _caller_task
    loop = asyncio.get_running_loop()
    if _caller_task is None or _caller_task.done():
        _calls = _calls or asyncio.Queue()
        _caller_task = loop.create_task(_caller(_calls), context=contextvars.Context())
    result = loop.create_future()
    _calls.put_nowait((function, kwargs, result))
    return await result


async def _caller(calls: asyncio.Queue) -> None:
    while True:
        function, kwargs, result = await calls.get()
        if result.done():  # the caller was cancelled meanwhile
            continue
        try:
            value = await database_sync_to_async(function)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which raises it
            if not result.done():
                result.set_exception(exc)
        else:
            if not result.done():
                result.set_result(value)


TICK_WINDOW = 20_000  # seqs an org's ticks are kept for; a socket further behind reads the log
REVALIDATE_CHUNK = 100


class TickListener(Protocol):
    delivered: int

    def advance(self) -> None: ...

    def expect(self, seq: int) -> None: ...

    def settle(self, until: int) -> None: ...


class OrgTicks:
    """The ticks of one org heard by this process: seq → the rooms its content goes to."""

    _by_org: dict[int, OrgTicks] = {}

    def __init__(self, org_id: int) -> None:
        self.org_id = org_id
        self.rooms: dict[int, frozenset[str]] = {}
        self.listeners: set[TickListener] = set()
        self.tuned: dict[TickListener, frozenset[str]] = {}  # listener → its content rooms
        self.by_room: dict[str, set[TickListener]] = {}
        self.waiting: set[TickListener] = set()  # sockets holding a change that waits for ticks
        self.subscribed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._listen())

    @classmethod
    def join(cls, org_id: int, listener: TickListener) -> OrgTicks:
        """The org's ticks, with `listener` among those who hear them until it leaves; await
        `subscribed` before reading the change log."""
        ticks = cls._by_org.get(org_id)
        if ticks is None or ticks.task.done():
            ticks = cls._by_org[org_id] = cls(org_id)
        ticks.listeners.add(listener)
        return ticks

    async def wait_subscribed(self) -> None:
        """Once the tick room is subscribed, every tick published from then on is heard: a
        reader of the change log afterwards misses none above what it read."""
        await asyncio.shield(self.subscribed)

    def tune(self, listener: TickListener, rooms: frozenset[str]) -> None:
        """The content rooms `listener` hears: a tick for one of them is a change it expects,
        so a change whose content is lost (and nothing after it) is still read from the log."""
        for room in self.tuned.get(listener, frozenset()) - rooms:
            self.by_room[room].discard(listener)
            if not self.by_room[room]:
                del self.by_room[room]
        for room in rooms:
            self.by_room.setdefault(room, set()).add(listener)
        self.tuned[listener] = rooms

    def leave(self, listener: TickListener) -> None:
        self.tune(listener, frozenset())
        del self.tuned[listener]
        self.listeners.discard(listener)
        self.waiting.discard(listener)
        if not self.listeners and self._by_org.get(self.org_id) is self:
            del self._by_org[self.org_id]
            self.task.cancel()

    async def _listen(self) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        room = seq_room(self.org_id)
        try:
            await layer.group_add(room, channel)
            self.subscribed.set_result(None)
            while True:
                message = await layer.receive(channel)
                if message.get("type") == TICK_MESSAGE:
                    self.heard(message["seq"], message["rooms"])
        except BaseException as exc:
            if not self.subscribed.done():
                self.subscribed.set_exception(exc)
            raise
        finally:
            with contextlib.suppress(Exception):
                await layer.group_discard(room, channel)

    def heard(self, seq: int, rooms: Iterable[str]) -> None:
        """Work in proportion to the sockets the change is for (and those waiting)."""
        self.rooms[seq] = rooms = frozenset(rooms)
        expecting = set().union(*(self.by_room.get(room, ()) for room in rooms))
        for listener in expecting:
            listener.expect(seq)
        for listener in list(self.waiting - expecting):
            listener.advance()
        if len(self.rooms) > 2 * TICK_WINDOW:
            self._prune()

    def _prune(self) -> None:
        """Keeps the last `TICK_WINDOW` seqs; every socket first moves over what it can."""
        floor = max(self.rooms) - TICK_WINDOW
        for listener in list(self.listeners):
            if listener.delivered < floor:
                listener.settle(floor)
        self.rooms = {seq: rooms for seq, rooms in self.rooms.items() if seq > floor}


@dataclass(eq=False)
class _Watched:
    token: str
    slug: str
    keys: tuple[str, ...]  # the cache entries membership_resolve decides from
    registration: dict[str, Any]  # live.sockets' key of the socket: org_id, user_id, socket_id
    revalidated: Callable[[Membership | int], None]
    ping: Callable[[], None]
    seen: int | None = None  # the hash of their stored bytes when it last decided


ORG_ENTRY = 2  # the position of the org's entry in a watched socket's keys


class Upkeep:
    """Every open socket's token and membership checked again each `WS_REVALIDATE_SECONDS`,
    and a ping sent (and its registration for the per-user cap refreshed) each
    `WS_PING_SECONDS`, by one task per process: an idle socket holds no task of its own.

    A full `membership_resolve` costs ~0.7 ms of this process's CPU: 1,000 sockets spent ~70 %
    of a core on it every second, and the thread holding the GIL stretched the event loop's
    deliveries (`bench --ws` p95 98 ms with it, 17 ms without). So one MGET per round reads the
    cache entries the resolve decides from (the verified token, the user's token version, the
    org, the membership: what logout, deactivation, a role change and an org's deactivation
    change or delete), and only a socket whose entries differ from the last round's, or are
    missing (a token's entry expires with the token), is resolved again: the same verdict a
    warm HTTP request would get, from the same entries. The values are read before the resolve,
    so a change landing during it differs next round."""

    watched: dict[Any, _Watched] = {}
    task: asyncio.Task | None = None

    @classmethod
    def join(
        cls,
        key: Any,
        *,
        member: Membership,
        token: str,
        socket_id: str,
        revalidated: Callable[[Membership | int], None],
        ping: Callable[[], None],
    ) -> None:
        """`revalidated` (not a coroutine: it starts what takes time) gets the membership as it
        is now, or the close code (4401 / 4404), when something changed; `ping` sends one."""
        slug = member.org.slug
        keys = (
            auth_cache.token_key(token),
            auth_cache.user_version_key(member.user_id),
            org_cache.org_slug_key(slug),  # at ORG_ENTRY: shared by the org's sockets
            org_cache.member_key(member.org_id, member.user_id),
        )
        registration = {"org_id": member.org_id, "user_id": member.user_id, "socket_id": socket_id}
        cls.watched[key] = _Watched(token, slug, keys, registration, revalidated, ping)
        if cls.task is None or cls.task.done():
            _application_freeze()
            cls.task = asyncio.create_task(cls._loop())

    @classmethod
    def leave(cls, key: Any) -> None:
        cls.watched.pop(key, None)

    @classmethod
    async def _loop(cls) -> None:
        last_ping = time.monotonic()
        while cls.watched:
            await asyncio.sleep(settings.WS_REVALIDATE_SECONDS)
            await cls._revalidate()
            if time.monotonic() - last_ping >= settings.WS_PING_SECONDS:
                last_ping = time.monotonic()
                await cls._ping()

    @classmethod
    async def _revalidate(cls) -> None:
        batch = list(cls.watched.items())
        values = await sync_call(_entries_read, watched=[w for _, w in batch])
        stale = _stale(batch, values)
        outcomes: dict[tuple[str, str], Membership | int] = {}
        # An org's entry, shared by all its sockets, gone (expired every ORG_TTL, or deleted by
        # a change): one socket of the org is resolved first, which stores it again, and the
        # entries are read again. Unchanged, it has the same bytes, and the org's other sockets
        # are not stale any more: 1,000 sockets of one org cost one resolve at each expiry, not
        # ~0.7 s of this process's CPU. Changed or still gone, they all are, in this round.
        missing = {
            w.slug: (w.token, w.slug)
            for w, _ in stale.values()
            if values.get(w.keys[ORG_ENTRY]) is None
        }
        if missing and values is not _UNREAD:
            outcomes.update(await sync_call(_resolve_many, pairs=list(missing.values())))
            values = await sync_call(_entries_read, watched=[w for _, w in batch])
            stale = _stale(batch, values)
        # Every socket still stale is checked after this read, the one checked above too: its
        # verdict was taken before it, so a change landing in between would pass as judged.
        pairs = list({(w.token, w.slug) for w, _ in stale.values()})
        for start in range(0, len(pairs), REVALIDATE_CHUNK):  # the loop runs in between
            chunk = pairs[start : start + REVALIDATE_CHUNK]
            outcomes.update(await sync_call(_resolve_many, pairs=chunk))
        for key, (watch, now) in stale.items():
            if cls.watched.get(key) is watch:  # not closed meanwhile
                outcome = outcomes[watch.token, watch.slug]
                watch.seen = now if not isinstance(outcome, int) else None
                watch.revalidated(outcome)

    @classmethod
    async def _ping(cls) -> None:
        batch = list(cls.watched.values())
        for watch in batch:
            watch.ping()
        await sync_call(_registrations_refresh, registrations=[w.registration for w in batch])


def _stale(batch: list[tuple[Any, _Watched]], values: dict[str, bytes | None]) -> dict:
    """The sockets whose entries differ from those of their last verdict, or are missing."""
    stale = {}
    for key, watch in batch:
        entries = tuple(values.get(name) for name in watch.keys)
        now = hash(entries)  # 8 bytes kept per socket, not the entries
        if now != watch.seen or None in entries:
            stale[key] = (watch, now)
    return stale


_frozen = False


def _application_freeze() -> None:
    """Once per process, at its first socket: a full collection, then everything loaded so far
    (Django, the apps, their modules) moved out of the collector's reach (`gc.freeze`). A
    full collection walking it all took ~300 ms of the event loop at 1,000 sockets, a spike
    that landed on the deliveries of the moment (`bench --ws`: p95 231 ms; collector off:
    6.8 ms; application frozen: 4.5 ms). Only what exists now is frozen: the sockets' own
    objects, which come and go, stay collectable."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def _registrations_refresh(registrations: list[dict[str, Any]]) -> None:
    for registration in registrations:
        socket_refresh(**registration)


_UNREAD: dict[str, bytes | None] = {}


def _entries_read(watched: list[_Watched]) -> dict[str, bytes | None]:
    """The entries' stored bytes, in one MGET, not decoded (unpickling 3,000 entries a second
    cost more than it saved); `_UNREAD` (resolve everyone) when Redis fails or an invalidation
    waits for retry (`membership_resolve` runs the retry first)."""
    if cache_retry.retrier.pending:
        return _UNREAD
    names = list({name for w in watched for name in w.keys})
    try:
        raw = get_redis_connection("default").mget([cache.make_key(name) for name in names])
    except Exception:  # noqa: BLE001 - any cache failure: the full check decides
        return _UNREAD
    return dict(zip(names, raw, strict=True))


BAD_TOKEN, NOT_MEMBER = 4401, 4404


def _resolve_many(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Membership | int]:
    MEMBERSHIP_CHECKS.inc(len(pairs))
    outcomes: dict[tuple[str, str], Membership | int] = {}
    for token, slug in pairs:
        try:  # not a request of the user's: it spends no rate budget
            outcomes[token, slug] = membership_resolve(token=token, slug=slug, counted=False)
        except Unauthorized:
            outcomes[token, slug] = BAD_TOKEN
        except NotFound:
            outcomes[token, slug] = NOT_MEMBER
    return outcomes
