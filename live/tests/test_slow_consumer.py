"""A consumer too slow to keep up (DESIGN.md §10): closed with 4409, and it resumes with `after`
with no gap — against a real uvicorn, Redis and PostgreSQL.

The slow client is a raw TCP socket driven by websockets' sans-I/O protocol, so nothing reads
on its behalf: after the hello it simply stops calling `recv`. Its receive buffer is shrunk
before connecting and the server's socket buffers by `WS_SOCKET_BUFFER_BYTES`, so a few hundred
changes fill everything below the outbox (`WS_SEND_BUFFER` messages) instead of megabytes. A
client that reads, on the same server, receives every one of the same changes: the outbox
holds more than one write's burst, so only slowness closes a socket.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect
from websockets.uri import parse_uri

from core.tests.servers import process_stop, server_env, uvicorn_start
from goals.models import Goal
from goals.tests.factories import GoalFactory
from orgs.tests.factories import MembershipFactory

pytestmark = pytest.mark.usefixtures("transactional_db")
SEND_BUFFER = 120  # messages in the outbox before 4409: more than one burst (BATCH)
SOCKET_BUFFER = 4096  # bytes, the server's kernel send buffer and transport high-water mark
CLIENT_RECEIVE_BUFFER = 2048  # Linux doubles it, and its minimum is ~2 KiB
# 400 changes, ~90 KB of messages: past ~16 KB of socket buffers plus the outbox, and far below
# the megabytes Linux would buffer for the socket without WS_SOCKET_BUFFER_BYTES.
BATCHES, BATCH = 4, 100


@pytest.fixture(scope="module")
def ws_port(django_db_setup, django_db_blocker):
    env = server_env(
        RATE_LIMITS_ENABLED="false",
        WS_SEND_BUFFER=str(SEND_BUFFER),
        WS_SOCKET_BUFFER_BYTES=str(SOCKET_BUFFER),
    )
    server, port = uvicorn_start(env)
    yield port
    process_stop(server)


class RawSocket:
    """A WebSocket client that reads only when told to."""

    def __init__(self, port: int, slug: str) -> None:
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws/org/{slug}/"))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RECEIVE_BUFFER)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self.pending: list[Frame] = []
        while self.protocol.handshake_exc is None and not self._handshake_done():
            self._read()
        assert self.protocol.handshake_exc is None, self.protocol.handshake_exc

    def _handshake_done(self) -> bool:
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                self.pending.append(event)
            else:
                return True  # the handshake response
        return False

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)

    def _read(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False  # the server neither sends nor closes: `close_code` stays None
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self._flush()  # answers pings and the close frame
        return bool(data)

    def send_json(self, message: dict) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def messages(self) -> list[dict]:
        """Reads until the server closes (or goes quiet): every text message, in order."""
        while self.protocol.close_code is None and self._read():
            pass
        self.pending += self.protocol.events_received()
        return [json.loads(f.data) for f in self.pending if f.opcode is Opcode.TEXT]

    def until_ready(self) -> dict:
        while True:
            self.pending += self.protocol.events_received()
            while self.pending:
                frame = self.pending.pop(0)
                if frame.opcode is Opcode.TEXT:
                    message = json.loads(frame.data)
                    if message["type"] == "ready":
                        return message
            self._read()

    def close(self) -> None:
        self.sock.close()


def _bulk_approve(api, reviewer, goals) -> None:
    body = {"goal_ids": [goal.pk for goal in goals], "action": "approve"}
    response = api.post(reviewer, "/goals/bulk-status", body)
    assert response.status_code == 200, response.content


def test_a_client_that_stops_reading_is_closed_with_4409_and_resumes_without_a_gap(
    api, admin, manager, period, ws_port
):
    report = MembershipFactory(org=admin.org, role="employee", supervisor=manager)
    submitted = GoalFactory.create_batch(
        BATCHES * BATCH, owner=report, period=period, status=Goal.Status.SUBMITTED
    )
    token = api.token_for(admin.user)
    slow = RawSocket(ws_port, admin.org.slug)
    slow.send_json({"type": "hello", "token": token, "after": None})
    start = slow.until_ready()["seq"]
    with connect(f"ws://127.0.0.1:{ws_port}/ws/org/{admin.org.slug}/") as fast:  # reads
        fast.send(json.dumps({"type": "hello", "token": token, "after": None}))
        assert json.loads(fast.recv(timeout=5)) == {"type": "ready", "seq": start}

        kept_up = []
        for n in range(BATCHES):  # the slow client reads nothing meanwhile; this one keeps up
            _bulk_approve(api, manager, submitted[n * BATCH : (n + 1) * BATCH])
            kept_up += [json.loads(fast.recv(timeout=5))["change"]["seq"] for _ in range(BATCH)]
        head = start + BATCHES * BATCH
    time.sleep(0.5)  # the server has given up on the slow socket by now
    received = slow.messages()  # now read what it had sent before closing
    slow.close()

    assert kept_up == list(range(start + 1, head + 1))
    assert slow.protocol.close_code == 4409
    seqs = [m["change"]["seq"] for m in received if m["type"] == "change"]
    assert seqs == list(range(start + 1, start + 1 + len(seqs)))  # in order, no gap
    assert len(seqs) < BATCHES * BATCH  # it really was cut off
    last = seqs[-1] if seqs else start

    with connect(f"ws://127.0.0.1:{ws_port}/ws/org/{admin.org.slug}/") as resumed:
        resumed.send(json.dumps({"type": "hello", "token": api.token_for(admin.user),
                                 "after": last}))  # fmt: skip
        replayed = []
        while (message := json.loads(resumed.recv(timeout=5)))["type"] != "ready":
            replayed.append(message["change"]["seq"])
    assert replayed == list(range(last + 1, head + 1))
    assert message["seq"] == head
