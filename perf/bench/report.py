"""The verdicts on a bench run and their reports: budget checks against `perf/budgets.toml`,
the text table, the JSON file and a self-contained HTML page.

Each scenario's p95 is judged as a ratio to the p95 of `floor` (one `SELECT 1` through the
same stack) of the same run, so budgets hold on noisy machines (DESIGN.md §6).
"""

from __future__ import annotations

import json
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perf.bench.runners import Result

BUDGETS_FILE = Path(__file__).resolve().parent.parent / "budgets.toml"


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
                "queries": result.steady_queries,
                "p95_ratio": round(verdict.ratio, 2),
                "budget": dict(sorted(verdict.budget.items())),
                "status": verdict.status,
                "notes": result.skipped or "; ".join(verdict.failures),
                "latencies_ms": [round(x, 3) for x in latencies],
                "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0,
            }
        )
    return rows


def table_lines(rows: list[dict[str, Any]], mode: str) -> list[str]:
    lines = [
        f"mode: {mode}",
        f"{'scenario':<22}{'reqs':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>9}"
        f"{'SQL':>5}{'ratio':>7}  {'budget (q / ratio)':<20}status",
    ]
    for row in rows:
        budget = row["budget"]
        budget_text = f"{budget.get('max_queries', '-')} / {budget.get('p95_ratio', '-')}"
        lines.append(
            f"{row['scenario']:<22}{row['requests']:>6}{row['p50_ms']:>8.2f}"
            f"{row['p95_ms']:>8.2f}{row['p99_ms']:>8.2f}{row['rps']:>9.1f}"
            f"{row['queries']:>5}{row['p95_ratio']:>7.2f}  {budget_text:<20}"
            f"{row['status']} {row['notes']}"
        )
    return lines


def json_report(rows: list[dict[str, Any]], mode: str) -> str:
    return json.dumps({"mode": mode, "rows": rows})


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
