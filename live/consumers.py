"""`ws://HOST/ws/org/{slug}/`: the change feed, live (DESIGN.md §10).

Protocol: the client's first message, within `WS_HELLO_SECONDS`, is
`{"type": "hello", "token": "<access token>", "after": N|null}`. The server joins the caller's
rooms, replays from the change log what it missed after N (the feed, same visibility), sends
`{"type": "ready", "seq": M}`, then every visible change live as
`{"type": "change", "change": {…}}`, and `{"type": "ping"}` every `WS_PING_SECONDS`.

No gap and no duplicate at the seam: the rooms are joined before the replay reads the log, so
a change committed meanwhile is both in the replay or after it, and arrives live too; live
messages at or below the replay's position are dropped. In seq order: every socket also hears
a tick (seq and target rooms) of each change of its org, so it knows every seq (they are
gapless per org) and delivers change M only after everything below M; if a tick or a change
is late by more than `WS_GAP_SECONDS` the gap is read from the log instead.

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
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from core.errors import NotFound, Unauthorized
from core.ratelimit import RateLimited
from live import metrics
from live.permissions import change_visible
from live.rooms import rooms_of, seq_room
from live.selectors import ResyncRequired, change_feed
from live.sockets import socket_refresh, socket_register, socket_unregister
from orgs.changes import org_change_head
from orgs.models import Membership
from orgs.tenancy import membership_resolve

BAD_TOKEN, NOT_MEMBER, TOO_SLOW, NO_HELLO, RESYNC, TOO_MANY = 4401, 4404, 4409, 4408, 4410, 4429
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
        self.rooms: list[str] = []
        self.socket_id = uuid.uuid4().hex
        self.registered = False
        self.delivered = 0  # every seq up to here is sent or not for this socket
        self.ticks: dict[int, bool] = {}  # seq → whether its content comes to this socket
        self.contents: dict[int, dict[str, Any]] = {}
        self.held: list[dict[str, Any]] | None = None  # live messages during the replay
        self.gap_since: float | None = None
        self.outbox: asyncio.Queue = asyncio.Queue(maxsize=settings.WS_SEND_BUFFER)
        self.tasks: list[asyncio.Task] = []
        self.closing = False
        await self.accept()
        _socket_buffers_cap(self.base_send, settings.WS_SOCKET_BUFFER_BYTES)
        self.tasks.append(asyncio.create_task(self._hello_deadline()))

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
            member = await self._resolve()
        except Unauthorized:
            return await self._close(BAD_TOKEN)
        except NotFound:
            return await self._close(NOT_MEMBER)
        except RateLimited:
            return await self._close(TOO_MANY)
        self.member = member
        if not await database_sync_to_async(socket_register)(
            org_id=member.org_id, user_id=member.user_id, socket_id=self.socket_id
        ):
            return await self._close(TOO_MANY)
        self.registered = True
        metrics.SOCKETS_OPEN.inc()
        await self._join_rooms()
        try:
            position = await self._replay(after)
        except ResyncRequired:
            return await self._close(RESYNC)
        await self.send_json({"type": "ready", "seq": position})
        held, self.held = self.held or [], None
        for message in held:
            self._receive_live(message)
        self.tasks += [
            asyncio.create_task(self._sender()),
            asyncio.create_task(self._pinger()),
            asyncio.create_task(self._revalidator()),
            asyncio.create_task(self._gap_watch()),
        ]

    async def _hello_deadline(self) -> None:
        await asyncio.sleep(settings.WS_HELLO_SECONDS)
        if self.member is None and not self.closing:
            await self._close(NO_HELLO)

    async def _resolve(self, *, counted: bool = True) -> Membership:
        return await database_sync_to_async(membership_resolve)(
            token=self.token, slug=self.slug, counted=counted
        )

    async def _join_rooms(self) -> None:
        rooms = [seq_room(self.member.org_id), *self._content_rooms()]
        for room in set(self.rooms) - set(rooms):
            await self.channel_layer.group_discard(room, self.channel_name)
        for room in set(rooms) - set(self.rooms):
            await self.channel_layer.group_add(room, self.channel_name)
        self.rooms = rooms

    def _content_rooms(self) -> list[str]:
        member = self.member
        return rooms_of(org_id=member.org_id, member_id=member.pk, role=member.role)

    async def _replay(self, after: int | None) -> int:
        """Sends what the log holds after `after`; returns the position reached."""
        self.held = []
        member = self.member
        if after is None:  # from now: the head in PostgreSQL, not a possibly late cache
            position = await database_sync_to_async(org_change_head)(org_id=member.org_id)
        else:
            position = after
            while True:
                page = await database_sync_to_async(change_feed)(
                    org=member.org, actor=member, after=position, limit=REPLAY_PAGE
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

    async def change_tick(self, message: dict[str, Any]) -> None:
        self._receive_live(message)

    async def change_message(self, message: dict[str, Any]) -> None:
        self._receive_live(message)

    def _receive_live(self, message: dict[str, Any]) -> None:
        if self.held is not None:
            self.held.append(message)
            return
        if self.member is None or self.closing:
            return
        if message["type"] == "change.tick":
            seq = message["seq"]
            if seq > self.delivered:
                self.ticks[seq] = bool(set(message["rooms"]) & set(self.rooms))
        else:
            change = message["change"]
            if change["seq"] > self.delivered:
                self.contents[change["seq"]] = {**change, "committed_at": message["committed_at"]}
        self._advance()

    def _advance(self) -> None:
        """Delivers, in seq order, every change whose predecessors are all settled."""
        while (following := self.delivered + 1) in self.ticks:
            if self.ticks[following] and following not in self.contents:
                break  # its content is on the way
            del self.ticks[following]
            change = self.contents.pop(following, None)
            if change is not None and change_visible(self.member, change):
                self._enqueue(change)
            self.delivered = following
        pending = bool(self.ticks or self.contents)
        if not pending:
            self.gap_since = None
        elif self.gap_since is None:
            self.gap_since = time.monotonic()

    def _enqueue(self, change: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait(change)
        except asyncio.QueueFull:
            asyncio.create_task(self._close(TOO_SLOW))

    async def _sender(self) -> None:
        while True:
            change = await self.outbox.get()
            committed_at = change.pop("committed_at", None)
            for name in ("owner_id", "owner_supervisor_id", "reviewers_only"):
                change.pop(name, None)
            await self.send_json({"type": "change", "change": change})
            metrics.MESSAGES_SENT.inc()
            if committed_at is not None:
                metrics.DELIVERY_SECONDS.observe(max(0.0, time.time() - committed_at))

    async def _gap_watch(self) -> None:
        """A tick or a change that has not come: read the gap from the change log."""
        while True:
            await asyncio.sleep(settings.WS_GAP_SECONDS / 4)
            if self.gap_since is None:
                continue
            if time.monotonic() - self.gap_since < settings.WS_GAP_SECONDS:
                continue
            target = max([*self.ticks, *self.contents])
            position = self.delivered
            while position < target:
                page = await database_sync_to_async(change_feed)(
                    org=self.member.org, actor=self.member, after=position, limit=REPLAY_PAGE
                )
                for item in page["items"]:
                    if item["seq"] <= target:
                        self._enqueue(dict(item))
                if not page["items"] or page["last_seq"] <= position:
                    break
                position = min(page["last_seq"], target)
            self.delivered = max(self.delivered, position)
            self.ticks = {s: v for s, v in self.ticks.items() if s > self.delivered}
            self.contents = {s: c for s, c in self.contents.items() if s > self.delivered}
            self.gap_since = None
            self._advance()

    async def _pinger(self) -> None:
        while True:
            await asyncio.sleep(settings.WS_PING_SECONDS)
            await self.send_json({"type": "ping"})
            await database_sync_to_async(socket_refresh)(
                org_id=self.member.org_id, user_id=self.member.user_id, socket_id=self.socket_id
            )

    async def _revalidator(self) -> None:
        """Logout, deactivation, a role change or a deactivated org act within a second: the
        token and membership are checked again (warm: one Redis round trip, no SQL)."""
        while True:
            await asyncio.sleep(settings.WS_REVALIDATE_SECONDS)
            try:
                member = await self._resolve(counted=False)  # not a request of the user's
            except Unauthorized:
                return await self._close(BAD_TOKEN)
            except NotFound:
                return await self._close(NOT_MEMBER)
            if (member.role, member.supervisor_id) != (self.member.role, self.member.supervisor_id):
                self.member = member
                await self._join_rooms()
            else:
                self.member = member

    # --- closing -----------------------------------------------------------------------------

    async def _close(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        for room in self.rooms:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(room, self.channel_name)
        if self.registered:
            metrics.SOCKETS_OPEN.dec()
            await database_sync_to_async(socket_unregister)(
                org_id=self.member.org_id, user_id=self.member.user_id, socket_id=self.socket_id
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
