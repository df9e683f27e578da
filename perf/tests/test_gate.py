"""The CI perf gate (`make bench-ci`): p95 ratios judged as the median over interleaved rounds.
It fails on an injected regression, and one slow round does not fail it."""

import json

import pytest
from django.core.management import call_command

from perf.bench.report import judge_rounds, load_budgets, report_rows, table_lines
from perf.bench.runners import Result
from perf.tests import regressed_urls

BUDGETS = {
    "floor": {"max_queries": 1, "p95_ratio": 1.5},
    "page": {"max_queries": 2, "p95_ratio": 4},
}


def _round(floor_ms, page_ms, *, queries=2):
    page = Result("page", latencies_ms=[page_ms] * 20, queries=[queries] * 20)
    page.statuses = {200: 20}
    page.floor_ms = [floor_ms] * 40
    floor = Result("floor", latencies_ms=[floor_ms] * 40, queries=[1] * 40)
    floor.statuses = {200: 40}
    return [floor, page]


def _verdicts(rounds, budgets=BUDGETS):
    return {v.result.name: v for v in judge_rounds(rounds, budgets, check_ratios=True)}


def test_the_ratio_is_the_median_over_rounds_of_p95_over_the_floor_measured_around_it():
    # Round 2's floor was slow (the machine was busy): its ratio is low, not the verdict.
    rounds = [_round(1.0, 3.0), _round(4.0, 5.0), _round(1.0, 3.5)]

    page = _verdicts(rounds)["page"]

    assert page.round_ratios == pytest.approx([3.0, 1.25, 3.5])
    assert page.ratio == pytest.approx(3.0)
    assert page.status == "PASS"


def test_one_slow_round_does_not_fail_the_gate_and_most_rounds_over_budget_do():
    noisy = [_round(1.0, 3.0), _round(1.0, 30.0), _round(1.0, 3.2), _round(1.0, 2.9)]
    slower = [_round(1.0, 4.5), _round(1.0, 30.0), _round(1.0, 5.0), _round(1.0, 2.9)]

    assert _verdicts(noisy)["page"].status == "PASS"  # median 3.1
    failed = _verdicts(slower)["page"]  # median 4.75
    assert failed.status == "FAIL"
    assert failed.failures == ["p95 ratio 4.8 > 4"]
    rows = report_rows(list(_verdicts(slower).values()))
    assert rows[1]["round_ratios"] == [4.5, 30.0, 5.0, 2.9]
    assert "2.9–30.0" in table_lines(rows, "in-process")[3]


def test_queries_are_judged_on_every_round_pooled():
    rounds = [_round(1.0, 3.0, queries=3), _round(1.0, 3.0, queries=3), _round(1.0, 3.0)]

    assert _verdicts(rounds)["page"].failures == ["queries 3 > 2"]


@pytest.mark.django_db(transaction=True)
def test_the_gate_fails_an_injected_slowdown_and_extra_query_and_passes_the_rest(
    settings, tmp_path
):
    """A measured run, the real budgets: `org/me` 150 ms slower and the team page one query
    heavier (perf/tests/regressed_urls.py) fail; the floor and untouched pages pass."""
    call_command(
        "seed", "--members=20", "--goals-per-member=3", "--small-orgs=0", "--departments=2",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )  # fmt: skip
    settings.ROOT_URLCONF = regressed_urls.__name__
    out = tmp_path / "gate.json"

    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "bench", "--scenarios=org_me,members_list,team_page", "--rounds=3",
            "--requests=10", "--warmup=1", f"--json={out}",
            stdout=open("/dev/null", "w"),  # noqa: SIM115
        )  # fmt: skip

    assert exit_info.value.code == 1
    rows = {row["scenario"]: row for row in json.loads(out.read_text())["rows"]}
    budgets = load_budgets()
    org_me = rows["org_me"]
    assert org_me["status"] == "FAIL", org_me["round_ratios"]
    assert org_me["p95_ratio"] > budgets["org_me"]["p95_ratio"]
    assert org_me["notes"].startswith("p95 ratio ")
    assert org_me["notes"].endswith(f" > {budgets['org_me']['p95_ratio']}")
    assert org_me["p95_ms"] >= regressed_urls.SLEEP_SECONDS * 1000
    assert rows["team_page"]["status"] == "FAIL"
    # The injected query is what must fail it; its ratio may fail too (the extra round trip
    # weighs on a 10-request p95 against a budget of 4).
    assert rows["team_page"]["notes"].split("; ")[0] == "queries 3 > 2"
    # The controls, untouched: the floor passes; the members page runs its budgeted query and
    # no more, and its ratio stays far below the injected slowdown's. Its ratio is not held to
    # its 4× target here: a p95 of 10 samples a round is their maximum (it measured 4.5 once
    # on a clean CI run); bench-ci's 9 × 20 judges that.
    assert rows["floor"]["status"] == "PASS", rows["floor"]
    members = rows["members_list"]
    assert "queries" not in members["notes"], members
    assert members["p95_ratio"] * 5 < org_me["p95_ratio"], (members, org_me)
    assert len(org_me["round_ratios"]) == 3
