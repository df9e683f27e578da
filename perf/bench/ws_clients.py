"""The client side of `bench --ws`: one asyncio process holding every socket, apart from the
server and from the writer (perf.bench.ws), so the clients' CPU is not the server's.

No Django here: the process gets what it needs (URL, one access token per socket) from the
parent on stdin, and they talk in JSON lines:

    parent → {"url", "tokens", "warmup_tokens", "concurrency", "timeout"}
    client → {"event": "warm"}            the warm-up sockets opened, said hello, closed
    parent → {"cmd": "open"}
    client → {"event": "ready", "opened", "failures", "seconds"}   every socket past `ready`
    parent → {"cmd": "collect", "expected", "timeout", "grace"}
    client → {"event": "result", "received": [[socket, seq, unix time], …], "closed": {…}}

A change's receive time is taken when the client's reader hands the message over, before it is
parsed: what the budget calls delivery, plus this process's own queueing (reported as is).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _command() -> dict[str, Any]:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if not line:
        raise SystemExit(0)  # the parent is gone
    return json.loads(line)


class Clients:
    def __init__(self, config: dict[str, Any]) -> None:
        self.url = config["url"]
        self.timeout = config["timeout"]
        self.gate = asyncio.Semaphore(config["concurrency"])
        self.sockets: list[ClientConnection | None] = []
        self.received: list[tuple[int, int, float]] = []
        self.closed: Counter[str] = Counter()
        self.expected: int | None = None
        self.enough = asyncio.Event()

    async def open(self, token: str) -> ClientConnection:
        """Connects, says hello from now, waits for `ready`; raises with the close code."""
        async with self.gate:
            ws = await connect(self.url, open_timeout=self.timeout, ping_interval=None)
            await ws.send(json.dumps({"type": "hello", "token": token, "after": None}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), self.timeout))
                if message["type"] == "ready":
                    return ws

    async def open_all(self, tokens: list[str]) -> Counter[str]:
        results = await asyncio.gather(*(self.open(t) for t in tokens), return_exceptions=True)
        failures: Counter[str] = Counter()
        for result in results:
            if isinstance(result, BaseException):
                code = getattr(getattr(result, "rcvd", None), "code", None)
                failures[str(code) if code else type(result).__name__] += 1
                self.sockets.append(None)
            else:
                self.sockets.append(result)
        return failures

    async def listen(self, index: int, ws: ClientConnection) -> None:
        received, loads, now = self.received, json.loads, time.time
        try:
            async for raw in ws:
                at = now()
                message = loads(raw)
                if message["type"] == "change":
                    received.append((index, message["change"]["seq"], at))
                    if self.expected is not None and len(received) >= self.expected:
                        self.enough.set()
        except ConnectionClosed as closed:
            self.closed[str(closed.rcvd.code if closed.rcvd else 1006)] += 1


async def main() -> None:
    config = await _command()
    clients = Clients(config)
    warm = [await clients.open(token) for token in config["warmup_tokens"]]
    for ws in warm:
        await ws.close()
    _say({"event": "warm"})

    await _command()  # open
    started = time.monotonic()
    failures = await clients.open_all(config["tokens"])
    listeners = [
        asyncio.create_task(clients.listen(i, ws))
        for i, ws in enumerate(clients.sockets)
        if ws is not None
    ]
    _say(
        {
            "event": "ready",
            "opened": len(listeners),
            "failures": dict(failures),
            "seconds": time.monotonic() - started,
        }
    )

    collect = await _command()
    clients.expected = collect["expected"]
    if len(clients.received) >= clients.expected:
        clients.enough.set()
    try:
        await asyncio.wait_for(clients.enough.wait(), collect["timeout"])
    except TimeoutError:
        pass
    await asyncio.sleep(collect["grace"])  # a duplicate or an unexpected message comes too
    _say({"event": "result", "received": clients.received, "closed": dict(clients.closed)})
    open_sockets = [ws for ws in clients.sockets if ws is not None]
    await asyncio.gather(*(ws.close() for ws in open_sockets), return_exceptions=True)
    for task in listeners:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
