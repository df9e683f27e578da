"""How a scenario is measured: in process through Django's test client (the full middleware
stack), or over HTTP against a running gunicorn with a bounded pool of client threads. Each
request's latency is timed here; its SQL query count is read from the Server-Timing header.
"""

from __future__ import annotations

import http.client
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from perf.bench.scenarios import Actors, Scenario, body_json, request_kwargs, staged, url_for

_QUERIES = re.compile(r'db;dur=[\d.]+;desc="(\d+) queries"')


@dataclass
class Result:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    skipped: str = ""

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

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

    def record(self, latency_ms: float, status: int, server_timing: str) -> None:
        self.latencies_ms.append(latency_ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        match = _QUERIES.search(server_timing)
        self.queries.append(int(match.group(1)) if match else 0)


def run_in_process(scenario: Scenario, actors: Actors, *, requests: int, warmup: int) -> Result:
    with staged(scenario, actors):
        return _run_in_process(scenario, actors, requests=requests, warmup=warmup)


def _run_in_process(scenario: Scenario, actors: Actors, *, requests: int, warmup: int) -> Result:
    client = Client()
    result = Result(scenario.name)
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

    probe, _ = send()
    if probe.status_code in (404, 405) and "Organization" not in probe.content.decode():
        result.skipped = f"endpoint answers {probe.status_code}"
        return result
    for _ in range(warmup):
        send()
    started = time.perf_counter()
    for _ in range(requests):
        response, latency_ms = send()
        result.record(latency_ms, response.status_code, response.get("Server-Timing", ""))
    result.wall_seconds = time.perf_counter() - started
    return result


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
) -> Result:
    """A bounded load: `concurrency` threads, each with one keep-alive connection, until
    `duration` seconds or `max_requests` requests, whichever comes first."""
    result = Result(scenario.name)
    url = url_for(scenario, actors)
    headers = {"Accept": "application/json"}
    if scenario.actor:
        headers["Authorization"] = actors.bearer(scenario.actor)
    if scenario.headers:
        extra = scenario.headers(actors, Client())
        headers.update({"If-None-Match": extra.get("HTTP_IF_NONE_MATCH", "")})
    body = body_json(scenario, actors)
    payload = body.encode() if body is not None else None
    if payload is not None:
        headers["Content-Type"] = "application/json"
    deadline = time.perf_counter() + duration
    budget = {"left": max_requests}
    lock = threading.Lock()

    def take() -> bool:
        with lock:
            budget["left"] -= 1
            return budget["left"] >= 0

    def worker() -> list[tuple[float, int, str]]:
        samples = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline and take():
            if scenario.before_each:
                scenario.before_each(actors)
            begin = time.perf_counter()
            conn.request(scenario.method, url, body=payload, headers=headers)
            response = conn.getresponse()
            response.read()
            samples.append(
                (
                    (time.perf_counter() - begin) * 1000,
                    response.status,
                    response.getheader("Server-Timing", ""),
                )
            )
        conn.close()
        return samples

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        batches = list(pool.map(lambda _: worker(), range(concurrency)))
    result.wall_seconds = time.perf_counter() - started
    for batch in batches:
        for sample in batch:
            result.record(*sample)
    if result.statuses and set(result.statuses) <= {404, 405}:
        result.skipped = f"endpoint answers {next(iter(result.statuses))}"
    return result
