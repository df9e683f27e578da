"""The verdicts on a bench run and their reports: budget checks against `perf/budgets.toml`,
the text table, the JSON file and a self-contained HTML page.

Each scenario's p95 is judged as a ratio to the p95 of `floor` (one `SELECT 1` through the
same stack) of the same run, so budgets hold on noisy machines (DESIGN.md §6). Over HTTP each
scenario's throughput is also a ratio to the floor's, and the floor's to `bare` (the same
`SELECT 1` in a Django view with no middleware, same server): DESIGN.md §6 sets minimums for
four of them (`HTTP_TARGETS`). With several rounds, the rounds' medians are reported.
"""

from __future__ import annotations

import json
import statistics
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perf.bench.runners import Result, percentile

BUDGETS_FILE = Path(__file__).resolve().parent.parent / "budgets.toml"

# DESIGN.md §6, over HTTP (2 workers, 32 connections, same run): a scenario's req/s at least
# this fraction of its reference's req/s.
HTTP_TARGETS: dict[str, tuple[str, float]] = {
    "floor": ("bare", 0.75),
    "org_me": ("floor", 0.8),
    "auth_me": ("floor", 0.8),
    "members_list": ("floor", 0.3),
}
SUMMARY_SCENARIOS = ["floor", "bare", "org_me", "auth_me", "members_list"]


def load_budgets(path: Path = BUDGETS_FILE) -> dict[str, dict[str, Any]]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


@dataclass
class Verdict:
    result: Result
    budget: dict[str, Any]
    ratio: float
    failures: list[str]
    rps_ratio: float = 0.0  # req/s ÷ the floor's req/s
    round_ratios: list[float] = field(default_factory=list)  # p95 ÷ floor, one per round

    @property
    def status(self) -> str:
        if self.result.skipped:
            return "SKIP"
        return "FAIL" if self.failures else "PASS"


def rps_ratios(rounds: list[list[Result]]) -> dict[str, float]:
    """Each scenario's req/s ÷ the floor's req/s of the same round; the median over rounds."""
    per_round: dict[str, list[float]] = {}
    for results in rounds:
        floor = next((r.rps for r in results if r.name == "floor"), 0.0)
        for result in results:
            if floor and result.rps:
                per_round.setdefault(result.name, []).append(result.rps / floor)
    return {name: statistics.median(values) for name, values in per_round.items()}


def pooled(rounds: list[list[Result]]) -> list[Result]:
    """Per scenario, its samples of every round together (the table's p50/p95/p99, the SQL
    count of the steady state and any error response of any round)."""
    merged = []
    for same_scenario in zip(*rounds, strict=True):
        result = Result(same_scenario[0].name)
        for one in same_scenario:
            result.absorb(one)
        merged.append(result)
    return merged


def ratios_by_round(rounds: list[list[Result]]) -> dict[str, list[float]]:
    """Per scenario, one value per round: its p95 ÷ the p95 of the floor requests measured
    alternately with it in that round (`Result.floor_ms`; without them, the round's floor)."""
    ratios: dict[str, list[float]] = {}
    for results in rounds:
        floor = next((r for r in results if r.name == "floor"), None)
        round_floor = floor.latencies_ms if floor else []
        for result in results:
            floor_p95 = percentile(result.floor_ms or round_floor, 95)
            if floor_p95 and result.latencies_ms:
                ratios.setdefault(result.name, []).append(result.percentile(95) / floor_p95)
    return ratios


def judge_rounds(
    rounds: list[list[Result]], budgets: dict[str, dict[str, Any]], *, check_ratios: bool
) -> list[Verdict]:
    """The gate (in process, `run_rounds`): a scenario's p95 ratio is the median over the
    rounds of its p95 ÷ the p95 of the floor measured alternately with it in that round, so
    a slow stretch of a shared machine moves one round's ratio, not the verdict: the budget
    fails only when the median is over it. Queries and errors: every round's requests."""
    per_round = ratios_by_round(rounds)
    return judge(
        pooled(rounds),
        budgets,
        check_ratios=check_ratios,
        p95_ratios={name: statistics.median(values) for name, values in per_round.items()},
        per_round=per_round,
    )


def median_round(rounds: list[list[Result]]) -> list[Result]:
    """Per scenario, the round whose req/s is the median (the lower one of an even count)."""
    chosen = []
    for same_scenario in zip(*rounds, strict=True):
        ordered = sorted(same_scenario, key=lambda r: r.rps)
        chosen.append(ordered[(len(ordered) - 1) // 2])
    return chosen


def http_target_ratio(name: str, ratios: dict[str, float]) -> tuple[str, float, float] | None:
    """(reference, measured fraction of the reference's req/s, minimum) for a §6 target."""
    if name not in HTTP_TARGETS or name not in ratios:
        return None
    reference, minimum = HTTP_TARGETS[name]
    if not ratios.get(reference):
        return None
    return reference, ratios[name] / ratios[reference], minimum


def judge(
    results: list[Result],
    budgets: dict[str, dict[str, Any]],
    *,
    check_ratios: bool,
    throughput: dict[str, float] | None = None,
    p95_ratios: dict[str, float] | None = None,
    per_round: dict[str, list[float]] | None = None,
) -> list[Verdict]:
    """`throughput` (HTTP mode: `rps_ratios` over the rounds) adds the §6 throughput targets
    to the ratio checks; without it the req/s ratios come from `results` alone. `p95_ratios`
    (`judge_rounds`: medians over rounds) replace the p95 ratios of `results` alone."""
    floor = next((r for r in results if r.name == "floor"), None)
    floor_p95 = floor.percentile(95) if floor and floor.latencies_ms else 0.0
    ratios = throughput or rps_ratios([results])
    verdicts = []
    for result in results:
        budget = budgets.get(result.name, {})
        if p95_ratios is not None:
            ratio = p95_ratios.get(result.name, 0.0)
        else:
            ratio = result.percentile(95) / floor_p95 if floor_p95 else 0.0
        failures = []
        if not result.skipped:
            if "max_queries" in budget and result.steady_queries > budget["max_queries"]:
                failures.append(f"queries {result.steady_queries} > {budget['max_queries']}")
            if check_ratios and "p95_ratio" in budget and ratio > budget["p95_ratio"]:
                failures.append(f"p95 ratio {ratio:.1f} > {budget['p95_ratio']}")
            target = http_target_ratio(result.name, ratios) if throughput else None
            if check_ratios and target and target[1] < target[2]:
                reference, measured, minimum = target
                failures.append(f"req/s {measured:.2f}× {reference} < {minimum}")
            errors = {status: n for status, n in result.statuses.items() if status >= 400}
            if errors:
                failures.append(f"error responses {errors}")
        verdicts.append(
            Verdict(
                result,
                budget,
                ratio,
                failures,
                ratios.get(result.name, 0.0),
                (per_round or {}).get(result.name, []),
            )
        )
    return verdicts


def report_rows(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    rows = []
    for verdict in verdicts:
        result = verdict.result
        latencies = result.latencies_ms
        rows.append(
            {
                "scenario": result.name,
                "requests": len(latencies),
                "p50_ms": round(result.percentile(50), 2),
                "p95_ms": round(result.percentile(95), 2),
                "p99_ms": round(result.percentile(99), 2),
                "rps": round(result.rps, 1),
                "rps_ratio": round(verdict.rps_ratio, 3),
                "queries": result.steady_queries,
                "p95_ratio": round(verdict.ratio, 2),
                "round_ratios": [round(x, 2) for x in verdict.round_ratios],
                "budget": dict(sorted(verdict.budget.items())),
                "status": verdict.status,
                "notes": result.skipped or "; ".join(verdict.failures),
                "latencies_ms": [round(x, 3) for x in latencies],
                "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0,
            }
        )
    return rows


def table_lines(rows: list[dict[str, Any]], mode: str, *, http: bool = False) -> list[str]:
    """The text table; over HTTP with a req/s ÷ floor column; with rounds (the gate), the
    ratio is the median over the rounds and `rounds` their lowest–highest ratio."""
    spread = any(len(row.get("round_ratios", [])) > 1 for row in rows)
    lines = [
        f"mode: {mode}",
        f"{'scenario':<22}{'reqs':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>9}"
        + (f"{'÷floor':>8}" if http else "")
        + f"{'SQL':>5}{'ratio':>7}"
        + (f"{'rounds':>14}" if spread else "")
        + f"  {'budget (q / ratio)':<20}status",
    ]
    for row in rows:
        budget = row["budget"]
        budget_text = f"{budget.get('max_queries', '-')} / {budget.get('p95_ratio', '-')}"
        each = row.get("round_ratios") or [0.0]
        lines.append(
            f"{row['scenario']:<22}{row['requests']:>6}{row['p50_ms']:>8.2f}"
            f"{row['p95_ms']:>8.2f}{row['p99_ms']:>8.2f}{row['rps']:>9.1f}"
            + (f"{row['rps_ratio']:>8.2f}" if http else "")
            + f"{row['queries']:>5}{row['p95_ratio']:>7.2f}"
            + (f"{f'{min(each):.1f}–{max(each):.1f}':>14}" if spread else "")
            + f"  {budget_text:<20}{row['status']} {row['notes']}"
        )
    return lines


def server_summary(
    label: str, rounds: list[list[Result]], ratios: dict[str, float]
) -> dict[str, Any]:
    """One server's line of the comparison: median req/s per scenario and the §6 ratios."""
    rps = {
        name: statistics.median(r.rps for results in rounds for r in results if r.name == name)
        for name in {r.name for results in rounds for r in results}
    }
    targets = {
        f"{name} ÷ {target[0]}": round(target[1], 2)
        for name in HTTP_TARGETS
        if (target := http_target_ratio(name, ratios))
    }
    return {"server": label, "rounds": len(rounds), "rps": rps, "ratios": targets}


def servers_table(summaries: list[dict[str, Any]]) -> list[str]:
    """A Markdown table, req/s (medians) and the §6 throughput ratios, one row per server."""
    names = [n for n in SUMMARY_SCENARIOS if any(n in s["rps"] for s in summaries)]
    ratio_names = [
        f"{name} ÷ {reference}"
        for name, (reference, _) in HTTP_TARGETS.items()
        if any(f"{name} ÷ {reference}" in s["ratios"] for s in summaries)
    ]
    minimum = {f"{n} ÷ {ref}": m for n, (ref, m) in HTTP_TARGETS.items()}
    header = [
        "server",
        *(f"{n} req/s" for n in names),
        *(f"{r} (≥ {minimum[r]})" for r in ratio_names),
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for summary in summaries:
        cells = [summary["server"]]
        cells += [f"{summary['rps'][n]:,.0f}" if n in summary["rps"] else "-" for n in names]
        cells += [
            f"{summary['ratios'][r]:.2f}" if r in summary["ratios"] else "-" for r in ratio_names
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def json_report(rows: list[dict[str, Any]], mode: str, **extra: Any) -> str:
    return json.dumps({"mode": mode, "rows": rows, **extra})


def html_report(rows: list[dict[str, Any]], title: str) -> str:
    """A self-contained page: the table and, per scenario, an inline SVG latency histogram."""
    return html_page([(title, rows)])


def html_page(sections: list[tuple[str, list[dict[str, Any]]]]) -> str:
    """One page, a table and latency histograms per section (one section per server)."""
    parts = [
        "<!doctype html><meta charset=utf-8><title>Cadence bench</title>",
        "<style>body{font:14px system-ui;margin:2em}td,th{padding:4px 8px;border-bottom:1px "
        "solid #ddd;text-align:right}td:first-child{text-align:left}.FAIL{color:#b00}"
        ".PASS{color:#070}svg{margin:4px 0 16px}</style>",
    ]
    for title, rows in sections:
        parts.append(
            f"<h1>{title}</h1><table><tr><th>scenario<th>requests<th>p50<th>p95<th>p99"
            "<th>req/s<th>req/s ÷ floor<th>queries<th>p95/floor<th>budget<th>status</tr>"
        )
        parts.extend(
            f"<tr><td>{row['scenario']}<td>{row['requests']}<td>{row['p50_ms']}"
            f"<td>{row['p95_ms']}<td>{row['p99_ms']}<td>{row['rps']}<td>{row['rps_ratio']}"
            f"<td>{row['queries']}<td>{row['p95_ratio']}<td>{json.dumps(row['budget'])}"
            f"<td class={row['status']}>{row['status']} {row['notes']}</tr>"
            for row in rows
        )
        parts.append("</table><h2>Latency distribution (ms)</h2>")
        parts.extend(
            f"<h3>{row['scenario']}</h3>{_histogram_svg(row['latencies_ms'])}" for row in rows
        )
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
