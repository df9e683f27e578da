"""Benchmark scenarios, their measurement, and the budget verdicts (`manage.py bench`).

In-process mode drives Django's test client through the full middleware stack; HTTP mode
drives a real gunicorn on 127.0.0.1 with a bounded pool of client threads. Each scenario's
p95 is reported as a ratio to the p95 of `floor` (one `SELECT 1` through the same stack) of
the same run, so budgets hold on noisy machines (DESIGN.md §6).
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import threading
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.test import Client

from goals.models import Goal, Period
from orgs.cache import org_versions_bump
from orgs.models import Membership
from users.tokens import access_token_encode

BUDGETS_FILE = Path(__file__).resolve().parent / "budgets.toml"
_QUERIES = re.compile(r'db;dur=[\d.]+;desc="(\d+) queries"')


@dataclass
class Actors:
    org_id: int
    slug: str
    tokens: dict[str, str]
    ids: dict[str, int]
    period_id: int | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    actor: str | None
    path: str  # relative to /api/org/{slug} when it starts with "/org", else absolute
    method: str = "GET"
    before_each: Callable[[Actors], None] | None = None
    headers: Callable[[Actors, Client], dict[str, str]] | None = None
    body: Callable[[Actors], dict[str, Any]] | None = None
    setup: Callable[[Actors], None] | None = None  # rows the scenario writes to, made first
    serial: bool = False  # one client at a time in HTTP mode (before_each resets shared rows)
    teardown: Callable[[Actors], None] | None = None  # and removed after


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


def _cold(actors: Actors) -> None:
    org_versions_bump({actors.org_id})


def _etag_of(path: str) -> Callable[[Actors, Client], dict[str, str]]:
    def headers(actors: Actors, client: Client) -> dict[str, str]:
        response = client.get(
            f"/api/org/{actors.slug}{path}", HTTP_AUTHORIZATION=f"Bearer {actors.tokens['admin']}"
        )
        return {"HTTP_IF_NONE_MATCH": response.get("ETag", "")}

    return headers


BENCH_TITLE = "bench: "


def _new_goal_body(actors: Actors) -> dict[str, Any]:
    return {
        "period_id": actors.period_id,
        "category": "performance",
        "title": f"{BENCH_TITLE}created",
        "weight": 1,
        "target_data": {"type": "performance", "metric": "Latency", "target": 1.0,
                        "unit": "ms", "direction": "decrease"},
    }  # fmt: skip


def _bench_goals(actors: Actors, *, owner: str, count: int, status: str) -> list[int]:
    goals = Goal.objects.bulk_create(
        Goal(
            org_id=actors.org_id,
            period_id=actors.period_id,
            owner_id=actors.ids[owner],
            category="performance",
            title=f"{BENCH_TITLE}{status}",
            weight=1,
            target_data=_new_goal_body(actors)["target_data"],
            status=status,
        )
        for _ in range(count)
    )
    return [goal.pk for goal in goals]


def _setup_assessable(actors: Actors) -> None:
    actors.ids["assessable_goal"] = _bench_goals(
        actors, owner="employee", count=1, status="approved"
    )[0]


def _setup_reviewable(actors: Actors) -> None:
    actors.extra["bulk_ids"] = _bench_goals(actors, owner="employee", count=100, status="submitted")


def _resubmit(actors: Actors) -> None:
    Goal.objects.filter(pk__in=actors.extra["bulk_ids"]).update(status="submitted")


def _remove_bench_goals(actors: Actors) -> None:
    Goal.objects.filter(org_id=actors.org_id, title__startswith=BENCH_TITLE).delete()
    org_versions_bump({actors.org_id})


SCENARIOS: list[Scenario] = [
    Scenario("floor", None, "/api/perf/floor"),
    Scenario("auth_me", "employee", "/api/auth/me"),
    Scenario("org_me", "employee", "/org/me"),
    Scenario("members_list", "admin", "/org/members?limit=50"),
    Scenario("members_search", "admin", "/org/members?search=member12&limit=50"),
    # Pages are measured cold (the org version bumped before each request): the SQL path.
    Scenario("goal_list_page", "employee", "/org/evaluation/goal-list-page", before_each=_cold),
    Scenario(
        "input_page", "manager", "/org/evaluation/input-page?member_id={employee}",
        before_each=_cold,
    ),
    Scenario("team_page", "manager", "/org/evaluation/team-page", before_each=_cold),
    Scenario("dashboard_stats_cold", "admin", "/org/dashboards/stats", before_each=_cold),
    Scenario("dashboard_stats_warm", "admin", "/org/dashboards/stats"),
    Scenario("dashboard_admin_cold", "admin", "/org/dashboards/admin", before_each=_cold),
    Scenario("dashboard_admin_warm", "admin", "/org/dashboards/admin"),
    Scenario("page_304", "admin", "/org/dashboards/stats", headers=_etag_of("/dashboards/stats")),
    Scenario(
        "goal_create", "employee", "/org/goals", method="POST", body=_new_goal_body,
        teardown=_remove_bench_goals,
    ),
    Scenario(
        "self_assessment_put", "employee", "/org/goals/{assessable_goal}/self-assessment",
        method="PUT", body=lambda a: {"rating": 3, "comment": "bench", "status": "draft"},
        setup=_setup_assessable, teardown=_remove_bench_goals,
    ),
    Scenario(
        "bulk_status_100", "manager", "/org/goals/bulk-status", method="POST",
        body=lambda a: {"goal_ids": a.extra["bulk_ids"], "action": "approve"},
        setup=_setup_reviewable, before_each=_resubmit, teardown=_remove_bench_goals,
        serial=True,
    ),
]  # fmt: skip


def actors_for(slug: str) -> Actors:
    """The org's admin, its first manager with reports, and one of that manager's reports."""
    members = Membership.objects.select_related("user", "org").filter(
        org__slug=slug, is_active=True
    )
    admin = members.filter(role="admin").first()
    employee = members.filter(role="employee", supervisor__role="manager").first()
    if admin is None or employee is None:
        raise LookupError(f"org {slug!r} needs an admin and a manager with reports: run seed")
    manager = members.get(pk=employee.supervisor_id)
    chosen = {"admin": admin, "manager": manager, "employee": employee}
    period = Period.objects.filter(org=admin.org, status="active").values_list("id", flat=True)
    return Actors(
        org_id=admin.org_id,
        slug=slug,
        tokens={
            role: access_token_encode(user_id=m.user_id, version=m.user.token_version)
            for role, m in chosen.items()
        },
        ids={role: m.pk for role, m in chosen.items()},
        period_id=period.first(),
    )


def _url(scenario: Scenario, actors: Actors) -> str:
    path = scenario.path.format(**actors.ids)
    return f"/api/org/{actors.slug}{path[4:]}" if path.startswith("/org/") else path


def run_in_process(scenario: Scenario, actors: Actors, *, requests: int, warmup: int) -> Result:
    if scenario.setup:
        scenario.setup(actors)
    try:
        return _run_in_process(scenario, actors, requests=requests, warmup=warmup)
    finally:
        if scenario.teardown:
            scenario.teardown(actors)


def _request_kwargs(scenario: Scenario, actors: Actors) -> dict[str, Any]:
    if scenario.body is None:
        return {}
    return {"data": json.dumps(scenario.body(actors)), "content_type": "application/json"}


def _run_in_process(scenario: Scenario, actors: Actors, *, requests: int, warmup: int) -> Result:
    client = Client()
    result = Result(scenario.name)
    url = _url(scenario, actors)
    auth: dict[str, Any] = {}
    if scenario.actor:
        auth["HTTP_AUTHORIZATION"] = f"Bearer {actors.tokens[scenario.actor]}"
    extra = scenario.headers(actors, client) if scenario.headers else {}
    extra.update(_request_kwargs(scenario, actors))
    if scenario.before_each:
        scenario.before_each(actors)
    probe = client.generic(scenario.method, url, **auth, **extra)
    if probe.status_code in (404, 405) and "Organization" not in probe.content.decode():
        result.skipped = f"endpoint answers {probe.status_code}"
        return result
    for _ in range(warmup):
        if scenario.before_each:
            scenario.before_each(actors)
        client.generic(scenario.method, url, **auth, **extra)
    started = time.perf_counter()
    for _ in range(requests):
        if scenario.before_each:
            scenario.before_each(actors)
        begin = time.perf_counter()
        response = client.generic(scenario.method, url, **auth, **extra)
        result.latencies_ms.append((time.perf_counter() - begin) * 1000)
        _record(result, response.status_code, response.get("Server-Timing", ""))
    result.wall_seconds = time.perf_counter() - started
    return result


def _record(result: Result, status: int, server_timing: str) -> None:
    result.statuses[status] = result.statuses.get(status, 0) + 1
    match = _QUERIES.search(server_timing)
    result.queries.append(int(match.group(1)) if match else 0)


def run_http(scenario: Scenario, actors: Actors, **options: Any) -> Result:
    if scenario.setup:
        scenario.setup(actors)
    try:
        if scenario.serial:
            options["concurrency"] = 1
        return _run_http(scenario, actors, **options)
    finally:
        if scenario.teardown:
            scenario.teardown(actors)


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
    url = _url(scenario, actors)
    headers = {"Accept": "application/json"}
    if scenario.actor:
        headers["Authorization"] = f"Bearer {actors.tokens[scenario.actor]}"
    if scenario.headers:
        extra = scenario.headers(actors, Client())
        headers.update({"If-None-Match": extra.get("HTTP_IF_NONE_MATCH", "")})
    payload = json.dumps(scenario.body(actors)).encode() if scenario.body else None
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
        for latency, status, timing in batch:
            result.latencies_ms.append(latency)
            _record(result, status, timing)
    if result.statuses and set(result.statuses) <= {404, 405}:
        result.skipped = f"endpoint answers {next(iter(result.statuses))}"
    return result


def load_budgets(path: Path = BUDGETS_FILE) -> dict[str, dict[str, Any]]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


@dataclass
class Verdict:
    result: Result
    budget: dict[str, Any]
    ratio: float
    failures: list[str]

    @property
    def status(self) -> str:
        if self.result.skipped:
            return "SKIP"
        return "FAIL" if self.failures else "PASS"


def judge(
    results: list[Result], budgets: dict[str, dict[str, Any]], *, check_ratios: bool
) -> list[Verdict]:
    floor = next((r for r in results if r.name == "floor"), None)
    floor_p95 = floor.percentile(95) if floor and floor.latencies_ms else 0.0
    verdicts = []
    for result in results:
        budget = budgets.get(result.name, {})
        ratio = result.percentile(95) / floor_p95 if floor_p95 else 0.0
        failures = []
        if not result.skipped:
            if "max_queries" in budget and result.steady_queries > budget["max_queries"]:
                failures.append(f"queries {result.steady_queries} > {budget['max_queries']}")
            if check_ratios and "p95_ratio" in budget and ratio > budget["p95_ratio"]:
                failures.append(f"p95 ratio {ratio:.1f} > {budget['p95_ratio']}")
            errors = {status: n for status, n in result.statuses.items() if status >= 400}
            if errors:
                failures.append(f"error responses {errors}")
        verdicts.append(Verdict(result, budget, ratio, failures))
    return verdicts


def report_rows(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    rows = []
    for v in verdicts:
        r = v.result
        rows.append(
            {
                "scenario": r.name,
                "requests": len(r.latencies_ms),
                "p50_ms": round(r.percentile(50), 2),
                "p95_ms": round(r.percentile(95), 2),
                "p99_ms": round(r.percentile(99), 2),
                "rps": round(r.rps, 1),
                "queries": r.steady_queries,
                "p95_ratio": round(v.ratio, 2),
                "budget": {k: v.budget[k] for k in sorted(v.budget)},
                "status": v.status,
                "notes": r.skipped or "; ".join(v.failures),
                "latencies_ms": [round(x, 3) for x in r.latencies_ms],
                "mean_ms": round(statistics.fmean(r.latencies_ms), 2) if r.latencies_ms else 0,
            }
        )
    return rows


def html_report(rows: list[dict[str, Any]], title: str) -> str:
    """A self-contained page: the table and, per scenario, an inline SVG latency histogram."""
    parts = [
        "<!doctype html><meta charset=utf-8><title>Cadence bench</title>",
        "<style>body{font:14px system-ui;margin:2em}td,th{padding:4px 8px;border-bottom:1px "
        "solid #ddd;text-align:right}td:first-child{text-align:left}.FAIL{color:#b00}"
        ".PASS{color:#070}svg{margin:4px 0 16px}</style>",
        f"<h1>{title}</h1><table><tr><th>scenario<th>requests<th>p50<th>p95<th>p99<th>req/s"
        "<th>queries<th>p95/floor<th>budget<th>status</tr>",
    ]
    parts.extend(
        f"<tr><td>{row['scenario']}<td>{row['requests']}<td>{row['p50_ms']}"
        f"<td>{row['p95_ms']}<td>{row['p99_ms']}<td>{row['rps']}<td>{row['queries']}"
        f"<td>{row['p95_ratio']}<td>{json.dumps(row['budget'])}"
        f"<td class={row['status']}>{row['status']} {row['notes']}</tr>"
        for row in rows
    )
    parts.append("</table><h2>Latency distribution (ms)</h2>")
    parts.extend(f"<h3>{row['scenario']}</h3>{_histogram_svg(row['latencies_ms'])}" for row in rows)
    return "".join(parts)


def _histogram_svg(values: list[float], width: int = 600, height: int = 120) -> str:
    if not values:
        return "<p>no samples</p>"
    top = sorted(values)[max(0, int(len(values) * 0.99) - 1)] or 1.0
    bins = [0] * 40
    for value in values:
        bins[min(39, int(value / top * 39))] += 1
    peak = max(bins) or 1
    bar = width / len(bins)
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - 20 - count / peak * (height - 30):.1f}" '
        f'width="{bar - 1:.1f}" height="{count / peak * (height - 30):.1f}" fill="#4a7fd4"/>'
        for i, count in enumerate(bins)
    )
    axis = (
        f'<text x="0" y="{height - 5}" font-size="11">0</text>'
        f'<text x="{width - 80}" y="{height - 5}" font-size="11">{top:.1f} ms (p99)</text>'
    )
    return f'<svg width="{width}" height="{height}" role="img">{rects}{axis}</svg>'
