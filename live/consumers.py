"""`ws://HOST/ws/org/{slug}/`: the change feed, live (DESIGN.md §10).

Protocol: the client's first message, within `WS_HELLO_SECONDS`, is
`{"type": "hello", "token": "<access token>", "after": N|null}`. The server joins the caller's
rooms, replays from the change log what it missed after N (the feed, same visibility), sends
`{"type": "ready", "seq": M}`, then every visible change live as
`{"type": "change", "change": {…}}`, and `{"type": "ping"}` every `WS_PING_SECONDS`.

No gap and no duplicate at the seam: the rooms are joined before the replay reads the log, so
a change committed meanwhile is both in the replay or after it, and arrives live too; live
messages at or below the replay's position are dropped. In seq order: the process hears a tick
(seq and target rooms) of each change of the org (`live.hub.OrgTicks`, once per process, not
per socket), so a socket holding change M knows every seq below it (they are gapless per org)
and delivers M only once none of them is for its rooms and still on the way. A change that
waits longer than `WS_GAP_SECONDS` (a tick or a change lost) has its gap read from the log,
live messages held meanwhile so that nothing is sent twice.

Close codes: 4401 bad, expired or revoked token (also within `WS_REVALIDATE_SECONDS` of a
logout); 4404 not an active member, or no such org; 4408 no hello in time; 4410 resync
required; 4429 more than `WS_MAX_PER_USER` sockets of one user in one org; 4409 a consumer
too slow to keep up (more than `WS_SEND_BUFFER` messages waiting): it resumes with `after`.

The send buffer is bounded end to end: the outbox holds at most `WS_SEND_BUFFER` messages, and
the bytes below it (the socket's kernel send buffer, the transport's buffer) at most about
`WS_SOCKET_BUFFER_BYTES` each (`_socket_buffers_cap`). Without that cap Linux grows a socket's
send buffer up to tcp_wmem's maximum (4 MiB): a client that stopped reading would cost
megabytes, and our sends would not wait, so the outbox would not fill, until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections import deque
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from core.errors import NotFound, Unauthorized
from core.ratelimit import RateLimited
from live import metrics
from live.hub import BAD_TOKEN, NOT_MEMBER, OrgTicks, Upkeep, sync_call
from live.permissions import change_visible
from live.rooms import rooms_of
from live.selectors import ResyncRequired, change_feed
from live.sockets import socket_register, socket_unregister
from orgs.changes import org_change_head
from orgs.models import Membership
from orgs.tenancy import membership_resolve

TOO_SLOW, NO_HELLO, RESYNC, TOO_MANY = 4409, 4408, 4410, 4429
REPLAY_PAGE = 500


def _socket_buffers_cap(send: Any, limit: int) -> None:
    """Caps the kernel send buffer of the client's socket and the transport's high-water mark at
    `limit` bytes, so a client that stops reading makes our sends wait after ~3×`limit` bytes
    (Linux doubles SO_SNDBUF) and its outbox fills (4409), instead of after the 4 MiB Linux
    would otherwise let one socket's send buffer grow to.

    ASGI gives the application no handle on the socket; uvicorn's `send` is a method of its
    protocol object, which holds the asyncio transport. Under a server that differs the cap is
    skipped: the outbox still bounds what this process holds, the OS's buffers stay the OS's.
    64 KiB (the default) is ~300 change messages in flight: plenty for small messages, and a
    window of 128 KiB still moves ~1 MB/s over a 100 ms round trip."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    with contextlib.suppress(OSError, AttributeError, ValueError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limit)
        transport.set_write_buffer_limits(high=limit)


class OrgChangesConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.slug: str = self.scope["url_route"]["kwargs"]["org_slug"]
        self.token: str | None = None
        self.member: Membership | None = None
        self.rooms: frozenset[str] = frozenset()  # content rooms (the ticks are the hub's)
        self.ticks: OrgTicks | None = None
        self.socket_id = uuid.uuid4().hex
        self.registered = False
        self.delivered = 0  # every seq up to here is sent or not for this socket
        self.contents: dict[int, dict[str, Any]] = {}  # live changes not delivered yet
        self.expected: set[int] = set()  # ticked for this socket's rooms, content not here yet
        self.held: list[dict[str, Any]] | None = None  # live messages during a log read
        self.waiting_since: float | None = None  # a change has waited for ticks since
        self.gap_task: asyncio.Task | None = None
        # (message, commit time) waiting to be sent; a sender task only while there are some:
        # an idle socket holds no task of its own (memory per idle socket, DESIGN.md §10).
        self.outbox: deque[tuple[dict[str, Any], float | None]] = deque()
        self.sender: asyncio.Task | None = None
        self.tasks: set[asyncio.Task] = set()
        self.closing = False
        await self.accept()
        _socket_buffers_cap(self.base_send, settings.WS_SOCKET_BUFFER_BYTES)
        self._start(self._hello_deadline())

    # --- hello -------------------------------------------------------------------------------

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.token is not None:
            return  # after the hello, clients have nothing to say
        self.token = ""
        token = content.get("token") if isinstance(content, dict) else None
        after = content.get("after") if isinstance(content, dict) else None
        if not isinstance(content, dict) or content.get("type") != "hello":
            return await self._close(BAD_TOKEN)
        if not isinstance(token, str) or not token:
            return await self._close(BAD_TOKEN)
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            return await self._close(RESYNC)
        self.token = token
        try:
            member = await sync_call(membership_resolve, token=token, slug=self.slug)
        except Unauthorized:
            return await self._close(BAD_TOKEN)
        except NotFound:
            return await self._close(NOT_MEMBER)
        except RateLimited:
            return await self._close(TOO_MANY)
        self.member = member
        if not await sync_call(
            socket_register, org_id=member.org_id, user_id=member.user_id, socket_id=self.socket_id
        ):
            return await self._close(TOO_MANY)
        self.registered = True
        metrics.SOCKETS_OPEN.inc()
        self.held = []  # from the first room joined to the end of the replay
        self.ticks = OrgTicks.join(member.org_id, self)
        await self.ticks.wait_subscribed()
        await self._join_rooms()
        try:
            position = await self._replay(after)
        except ResyncRequired:
            return await self._close(RESYNC)
        await self.send_json({"type": "ready", "seq": position})
        self._release_held()
        Upkeep.join(
            self,
            member=member,
            token=token,
            socket_id=self.socket_id,
            revalidated=self._revalidated,
            ping=self._ping,
        )

    async def _hello_deadline(self) -> None:
        await asyncio.sleep(settings.WS_HELLO_SECONDS)
        if self.member is None and not self.closing:
            await self._close(NO_HELLO)

    async def _join_rooms(self) -> None:
        member = self.member
        rooms = frozenset(rooms_of(org_id=member.org_id, member_id=member.pk, role=member.role))
        self.ticks.tune(self, rooms | self.rooms)  # while moving, expect from both
        for room in self.rooms - rooms:
            await self.channel_layer.group_discard(room, self.channel_name)
        for room in rooms - self.rooms:
            await self.channel_layer.group_add(room, self.channel_name)
        self.rooms = rooms
        self.ticks.tune(self, rooms)

    async def _replay(self, after: int | None) -> int:
        """Sends what the log holds after `after`; returns the position reached."""
        member = self.member
        if after is None:  # from now: the head in PostgreSQL, not a possibly late cache
            position = await sync_call(org_change_head, org_id=member.org_id)
        else:
            position = after
            while True:
                page = await sync_call(
                    change_feed, org=member.org, actor=member, after=position, limit=REPLAY_PAGE
                )
                for item in page["items"]:
                    await self.send_json({"type": "change", "change": item})
                    metrics.MESSAGES_SENT.inc()
                position = page["last_seq"]
                if len(page["items"]) < REPLAY_PAGE:
                    break
        self.delivered = position
        return position

    # --- live --------------------------------------------------------------------------------

    async def change_message(self, message: dict[str, Any]) -> None:
        self._receive_live(message)

    def _receive_live(self, message: dict[str, Any]) -> None:
        if self.held is not None:
            self.held.append(message)
            return
        if self.member is None or self.closing:
            return
        change = message["change"]
        if change["seq"] > self.delivered:  # a repeat (several rooms) or replayed: dropped
            self.contents[change["seq"]] = {**change, "committed_at": message["committed_at"]}
            self.advance()

    def _release_held(self) -> None:
        held, self.held = self.held or [], None
        for message in held:
            self._receive_live(message)
        self.advance()

    def advance(self) -> None:
        """Delivers, in seq order, each change held whose predecessors are all settled: ticked
        and not for this socket's rooms (or delivered). Called on a change and, while one
        waits, on every tick of the org (`OrgTicks.waiting`)."""
        if self.held is not None or self.closing:
            return
        while self.contents:
            seq = min(self.contents)
            if seq > self.delivered + 1 and not self._settle(until=seq - 1):
                break  # a predecessor's tick or content is on the way
            change = self.contents.pop(seq)
            if seq > self.delivered:
                if change_visible(self.member, change):
                    self._enqueue(change)
                self.delivered = seq
        if self.expected:
            self.expected = {seq for seq in self.expected if seq > self.delivered}
        if not self.contents and not self.expected:
            self.waiting_since = None
            self.ticks.waiting.discard(self)
        elif self.waiting_since is None:
            self.waiting_since = time.monotonic()
            self.ticks.waiting.add(self)
            if self.gap_task is None or self.gap_task.done():
                self.gap_task = asyncio.create_task(self._gap_watch())

    def expect(self, seq: int) -> None:
        """`OrgTicks` heard seq for one of this socket's rooms: its content should come."""
        if seq > self.delivered and seq not in self.contents:
            self.expected.add(seq)
        self.advance()

    def _settle(self, *, until: int) -> bool:
        """Moves `delivered` over the seqs up to `until` that are ticked and for none of this
        socket's rooms; True when it got there."""
        known, mine, seq = self.ticks.rooms, self.rooms, self.delivered
        while seq < until:
            rooms = known.get(seq + 1)
            if rooms is None or not rooms.isdisjoint(mine):
                break
            seq += 1
        self.delivered = seq
        return seq >= until

    def settle(self, until: int) -> None:
        """`OrgTicks` is about to forget the ticks up to `until`: first move over them."""
        if self.held is None:
            self._settle(until=until)

    def _enqueue(self, change: dict[str, Any]) -> None:
        committed_at = change.pop("committed_at", None)
        for name in ("owner_id", "owner_supervisor_id", "reviewers_only"):
            change.pop(name, None)
        self._send_later({"type": "change", "change": change}, committed_at)

    def _send_later(self, message: dict[str, Any], committed_at: float | None = None) -> None:
        if len(self.outbox) >= settings.WS_SEND_BUFFER:
            self._start(self._close(TOO_SLOW))
            return
        self.outbox.append((message, committed_at))
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self._send_outbox())

    async def _send_outbox(self) -> None:
        while self.outbox and not self.closing:
            message, committed_at = self.outbox.popleft()
            await self.send_json(message)
            if message["type"] == "change":
                metrics.MESSAGES_SENT.inc()
            if committed_at is not None:
                metrics.DELIVERY_SECONDS.observe(max(0.0, time.time() - committed_at))

    def _ping(self) -> None:
        """Every `WS_PING_SECONDS` (`live.hub.Upkeep`), behind what waits to be sent."""
        self._send_later({"type": "ping"})

    def _start(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _gap_watch(self) -> None:
        """A change has waited `WS_GAP_SECONDS` for a tick or a predecessor that has not come
        (Redis pub/sub is at most once): the gap up to it is read from the change log. Live
        messages are held during the read, so a change is sent once either way."""
        while self.waiting_since is not None and not self.closing:
            late = self.waiting_since + settings.WS_GAP_SECONDS - time.monotonic()
            if late > 0:
                await asyncio.sleep(late)
                continue
            target = max(self.contents.keys() | self.expected)
            self.held = []
            try:
                position = self.delivered
                while position < target:
                    page = await sync_call(
                        change_feed,
                        org=self.member.org,
                        actor=self.member,
                        after=position,
                        limit=REPLAY_PAGE,
                    )
                    for item in page["items"]:
                        if self.delivered < item["seq"] <= target:
                            self._enqueue(dict(item))
                    if page["last_seq"] <= position:  # (a page of invisible changes
                        break  # still moves the position: only no progress ends the read)
                    position = min(page["last_seq"], target)
                self.delivered = max(self.delivered, position)
                self.contents = {s: c for s, c in self.contents.items() if s > self.delivered}
                self.expected = {s for s in self.expected if s > self.delivered}
                self.waiting_since = None
            finally:
                self._release_held()

    def _revalidated(self, outcome: Membership | int) -> None:
        """Logout, deactivation, a role change or a deactivated org act within a second
        (`live.hub.Upkeep` checks every socket's token and membership; warm: Redis, no SQL)."""
        if self.closing:
            return
        if isinstance(outcome, int):
            self._start(self._close(outcome))
            return
        changed = (outcome.role, outcome.supervisor_id) != (
            self.member.role,
            self.member.supervisor_id,
        )
        self.member = outcome
        if changed:
            self._start(self._join_rooms())

    # --- closing -----------------------------------------------------------------------------

    async def _close(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        Upkeep.leave(self)
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        Upkeep.leave(self)
        current = asyncio.current_task()
        for task in [*self.tasks, self.gap_task, self.sender]:
            if task is not None and task is not current:
                task.cancel()
        if self.ticks is not None:
            self.ticks.leave(self)
        for room in self.rooms:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(room, self.channel_name)
        if self.registered:
            metrics.SOCKETS_OPEN.dec()
            await sync_call(
                socket_unregister,
                org_id=self.member.org_id,
                user_id=self.member.user_id,
                socket_id=self.socket_id,
            )

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, cls=DjangoJSONEncoder)
