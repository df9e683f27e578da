"""How a scenario is measured: in process through Django's test client (the full middleware
stack), or over HTTP against a running server (`perf.bench.servers`) with a bounded load of
concurrent keep-alive connections. Each request's latency is timed here; its SQL query count
is read from the Server-Timing header. In process, `run_rounds` measures each scenario in
rounds, its requests alternating with the floor's (the reference of its p95 ratio).
"""

from __future__ import annotations

import asyncio
import gc
import re
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.test import Client

from perf.bench.scenarios import Actors, Scenario, body_json, request_kwargs, staged, url_for

_QUERIES = re.compile(r'db;dur=[\d.]+;desc="(\d+) queries"')


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p95 of 20 values: the 19th smallest); 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@dataclass
class Result:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    skipped: str = ""
    # The floor's latencies measured alternately with this scenario's (`run_paired`).
    floor_ms: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    @property
    def steady_queries(self) -> int:
        """Queries per request in the steady state (the median): in HTTP mode each worker's
        first requests warm its caches (token, tenant hint), and a slow scenario may run only
        a few requests in all."""
        if not self.queries:
            return 0
        return int(statistics.median_high(self.queries))

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.wall_seconds if self.wall_seconds else 0.0

    def absorb(self, other: Result) -> None:
        """`other`'s samples added to these (blocks of one scenario pooled)."""
        self.latencies_ms.extend(other.latencies_ms)
        self.queries.extend(other.queries)
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.wall_seconds += other.wall_seconds
        self.skipped = self.skipped or other.skipped

    def record(self, latency_ms: float, status: int, server_timing: str) -> None:
        self.latencies_ms.append(latency_ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        match = _QUERIES.search(server_timing)
        self.queries.append(int(match.group(1)) if match else 0)


def run_rounds(
    scenarios: list[Scenario],
    actors: Actors,
    *,
    rounds: int,
    requests: int,
    warmup: int,
    progress: Callable[[int, list[Result]], None] | None = None,
) -> list[list[Result]]:
    """The gate's measurement, in process: `rounds` rounds, each scenario measured once per
    round (`run_paired`: its `requests` requests alternating with the floor's) and the rounds
    one after the other (round 1: a, b, c; round 2: a, b, c; …). Returned per round:
    the floor first (its requests of the round, all scenarios' pairs pooled), then each
    scenario with its own pairs' floor latencies in `floor_ms`. `progress(number, results)`
    is called after each round."""
    floor = next(s for s in scenarios if s.name == "floor")
    others = [s for s in scenarios if s is not floor and not s.http_only]
    measured = []
    for number in range(1, rounds + 1):
        floor_result, results = Result(floor.name), []
        for scenario in others or [floor]:
            result, floor_part = run_paired(
                scenario, floor, actors, requests=requests, warmup=warmup
            )
            floor_result.absorb(floor_part)
            if scenario is not floor:
                results.append(result)
        measured.append([floor_result, *results])
        if progress:
            progress(number, measured[-1])
    return measured


def run_paired(
    scenario: Scenario, floor: Scenario, actors: Actors, *, requests: int, warmup: int
) -> tuple[Result, Result]:
    """`requests` requests of `scenario`, each followed by two of the floor, the second one
    timed, after `warmup` untimed pairs: the scenario and its reference (`Result.floor_ms`)
    sampled alternately over the same seconds, so a busy moment of the machine falls on
    both. The first floor request is not timed: it takes a heavy request's aftermath (its
    garbage, cold CPU caches), which is the scenario's, not the floor's. (The scenario's
    result, the floor's.)"""
    with staged(scenario, actors):
        send = _sender(scenario, actors)
        send_floor = _sender(floor, actors)
        result, floor_result = Result(scenario.name), Result(floor.name)
        probe, _ = send()
        if probe.status_code in (404, 405) and "Organization" not in probe.content.decode():
            result.skipped = f"endpoint answers {probe.status_code}"
            return result, floor_result
        for _ in range(warmup):
            send()
            send_floor()
        gc.collect()  # earlier garbage collected now, not by a pause inside a timed request
        for _ in range(requests):
            response, latency_ms = send()
            result.record(latency_ms, response.status_code, response.get("Server-Timing", ""))
            send_floor()
            response, latency_ms = send_floor()
            floor_result.record(latency_ms, response.status_code, response.get("Server-Timing", ""))
    # Serial requests: req/s is 1 ÷ the mean latency (the other requests in between excluded).
    result.wall_seconds = sum(result.latencies_ms) / 1000
    floor_result.wall_seconds = sum(floor_result.latencies_ms) / 1000
    result.floor_ms = list(floor_result.latencies_ms)
    return result, floor_result


def _sender(scenario: Scenario, actors: Actors) -> Callable[[], tuple[Any, float]]:
    """Sends one request of `scenario` through Django's test client (the whole middleware
    stack): (the response, its latency in ms)."""
    client = Client()
    url = url_for(scenario, actors)
    auth: dict[str, Any] = {}
    if scenario.actor:
        auth["HTTP_AUTHORIZATION"] = actors.bearer(scenario.actor)
    extra = scenario.headers(actors, client) if scenario.headers else {}
    extra.update(request_kwargs(scenario, actors))

    def send() -> tuple[Any, float]:
        # before_each is outside the timed span: it resets state, it is not the request.
        if scenario.before_each:
            scenario.before_each(actors)
        begin = time.perf_counter()
        response = client.generic(scenario.method, url, **auth, **extra)
        return response, (time.perf_counter() - begin) * 1000

    return send


def run_http(scenario: Scenario, actors: Actors, **options: Any) -> Result:
    with staged(scenario, actors):
        if scenario.serial:
            options["concurrency"] = 1
        return _run_http(scenario, actors, **options)


def _run_http(
    scenario: Scenario,
    actors: Actors,
    *,
    port: int,
    concurrency: int,
    duration: float,
    max_requests: int,
    warmup: int = 0,
) -> Result:
    """A bounded load on 127.0.0.1:`port`: `concurrency` connections, each sending its next
    request when the last answer is in, until `duration` seconds or `max_requests` requests,
    whichever comes first; `warmup` requests before it are not recorded."""
    result = Result(scenario.name)
    url = url_for(scenario, actors)
    headers = {"Host": f"127.0.0.1:{port}", "Accept": "application/json"}
    if scenario.actor:
        headers["Authorization"] = actors.bearer(scenario.actor)
    if scenario.headers:
        extra = scenario.headers(actors, Client())
        headers["If-None-Match"] = extra.get("HTTP_IF_NONE_MATCH", "")
    body = body_json(scenario, actors)
    payload = body.encode() if body is not None else b""
    if body is not None:
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(payload))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"{scenario.method} {url} HTTP/1.1\r\n{head}\r\n".encode() + payload
    before_each = (lambda: scenario.before_each(actors)) if scenario.before_each else None
    load = HttpLoad(port, request, before_each)
    if warmup:
        load.run(concurrency=concurrency, duration=duration, max_requests=warmup)
    result.wall_seconds, samples = load.run(
        concurrency=concurrency, duration=duration, max_requests=max_requests
    )
    for sample in samples:
        result.record(*sample)
    if result.statuses and set(result.statuses) <= {404, 405}:
        result.skipped = f"endpoint answers {next(iter(result.statuses))}"
    return result


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)
_SERVER_TIMING = re.compile(rb"\r\nserver-timing:[ \t]*([^\r]*)", re.IGNORECASE)
CONNECTION_FAILED = 599  # recorded when the connection breaks before the whole answer is in


class HttpLoad:
    """An HTTP/1.1 client on one asyncio loop, light enough to leave the CPU to the server
    (~70 µs of client CPU per request on a kept-alive connection here, ~200 µs when it must
    reconnect): a request is pre-encoded bytes, an answer is framed by its Content-Length or
    its chunks, and a connection is reopened when the server closes it (gunicorn's sync
    workers close every one). Loopback only. `before_each` runs before each request on a
    thread of its own (it uses the ORM), outside the timed span."""

    def __init__(self, port: int, request: bytes, before_each: Callable[[], None] | None):
        self.port = port
        self.request = request
        self.before_each = before_each

    def run(
        self, *, concurrency: int, duration: float, max_requests: int
    ) -> tuple[float, list[tuple[float, int, str]]]:
        """Wall seconds and, per answer, (latency ms, status, Server-Timing)."""
        with ThreadPoolExecutor(max_workers=1) as before_pool:
            try:
                return asyncio.run(self._run(concurrency, duration, max_requests, before_pool))
            finally:
                before_pool.submit(connections.close_all).result()

    async def _run(self, concurrency, duration, max_requests, before_pool):
        loop = asyncio.get_running_loop()
        left = [max_requests]
        samples: list[tuple[float, int, str]] = []
        started = time.perf_counter()
        deadline = started + duration

        async def connection_loop() -> None:
            conn: _Connection | None = None
            while time.perf_counter() < deadline and left[0] > 0:
                left[0] -= 1
                if self.before_each:
                    await loop.run_in_executor(before_pool, self.before_each)
                if conn is None or conn.closed:
                    _, conn = await loop.create_connection(_Connection, "127.0.0.1", self.port)
                begin = time.perf_counter()
                try:
                    status, timing, keep = await conn.send(self.request)
                except (OSError, ValueError):
                    status, timing, keep = CONNECTION_FAILED, "", False
                samples.append(((time.perf_counter() - begin) * 1000, status, timing))
                if not keep:
                    conn.close()
                    conn = None
            if conn is not None:
                conn.close()

        await asyncio.gather(*(connection_loop() for _ in range(concurrency)))
        return time.perf_counter() - started, samples


class _Connection(asyncio.Protocol):
    """One keep-alive connection: `send` writes a request and waits for its whole answer."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def send(self, request: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._deliver(eof=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._deliver(eof=True)

    def close(self) -> None:
        self.closed = True
        self.transport.close()

    def _deliver(self, *, eof: bool) -> None:
        if self.waiter is None or self.waiter.done():
            return
        try:
            answer = _framed(self.buffer, eof=eof)
        except ValueError as exc:
            self.waiter.set_exception(exc)
            return
        if answer is None:
            if eof:
                self.waiter.set_exception(ConnectionResetError("closed before the answer"))
            return
        consumed, status, timing, keep = answer
        del self.buffer[:consumed]
        self.waiter.set_result((status, timing, keep and not eof))


def _framed(buffer: bytearray, *, eof: bool) -> tuple[int, int, str, bool] | None:
    """(bytes used, status, Server-Timing, keep-alive) once `buffer` holds a whole answer."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[: end + 2])
    status = int(head[9:12])
    body = end + 4
    timing = _SERVER_TIMING.search(head)
    keep = not _CLOSE.search(head)
    if _CHUNKED.search(head):
        while True:  # no trailers are sent to this client
            line_end = buffer.find(b"\r\n", body)
            if line_end < 0:
                return None
            size = int(bytes(buffer[body:line_end]).split(b";")[0], 16)
            body = line_end + 2 + size + 2
            if len(buffer) < body:
                return None
            if size == 0:
                break
    elif status >= 200 and status not in (204, 304):
        length = _CONTENT_LENGTH.search(head)
        if length is None:  # the body runs to the end of the connection
            return (len(buffer), status, "", False) if eof else None
        body += int(length.group(1))
        if len(buffer) < body:
            return None
    return body, status, timing.group(1).decode() if timing else "", keep
