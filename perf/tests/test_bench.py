import json

import pytest
from django.core.management import call_command

from perf.bench.report import judge, median_round, rps_ratios, server_summary, servers_table
from perf.bench.runners import Result


@pytest.fixture
def small_org(db):
    call_command(
        "seed", "--members=20", "--goals-per-member=3", "--small-orgs=0", "--departments=2",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )  # fmt: skip


def _bench(*args, tmp_path):
    out = tmp_path / "bench.json"
    call_command(
        "bench",
        "--requests=5",
        "--warmup=1",
        "--scenarios=org_me,dashboard_stats_warm,page_304",
        f"--json={out}",
        f"--html={tmp_path / 'bench.html'}",
        *args,
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )
    return json.loads(out.read_text())


def test_bench_passes_the_query_budgets_and_writes_its_reports(small_org, tmp_path):
    report = _bench("--no-ratios", tmp_path=tmp_path)

    rows = {row["scenario"]: row for row in report["rows"]}
    assert set(rows) == {"floor", "org_me", "dashboard_stats_warm", "page_304"}
    assert rows["floor"]["queries"] == 1
    assert rows["org_me"]["queries"] == 0
    assert all(row["status"] == "PASS" for row in rows.values())
    assert "<svg" in (tmp_path / "bench.html").read_text()


def test_bench_exits_1_when_a_budget_is_broken(small_org, tmp_path):
    budgets = tmp_path / "tiny.toml"
    budgets.write_text("[floor]\nmax_queries = 0\n")

    with pytest.raises(SystemExit) as exit_info:
        _bench(f"--budgets={budgets}", tmp_path=tmp_path)
    assert exit_info.value.code == 1


def test_http_runs_report_medians_of_interleaved_rounds_and_the_section_6_ratios():
    def round_(floor, bare, org_me):
        return [
            _result("floor", rps=floor),
            _result("bare", rps=bare),
            _result("org_me", rps=org_me),
        ]

    rounds = [round_(100, 200, 90), round_(300, 360, 270), round_(200, 250, 100)]

    assert [r.rps for r in median_round(rounds)] == [200, 250, 100]
    ratios = rps_ratios(rounds)
    assert ratios["bare"] == pytest.approx(1.25)  # medians of 2.0, 1.2, 1.25
    assert ratios["org_me"] == pytest.approx(0.9)  # of 0.9, 0.9, 0.5
    verdicts = judge(median_round(rounds), {}, check_ratios=True, throughput=ratios)
    by_name = {v.result.name: v for v in verdicts}
    assert by_name["floor"].status == "PASS"  # 1 / 1.25 = 0.8 ≥ 0.75 of bare
    assert by_name["org_me"].status == "PASS"
    assert by_name["org_me"].rps_ratio == pytest.approx(0.9)
    slow = judge(median_round(rounds), {}, check_ratios=True, throughput={**ratios, "bare": 2})
    assert [v.failures for v in slow if v.result.name == "floor"] == [["req/s 0.50× bare < 0.75"]]
    table = servers_table([server_summary("granian (WSGI)", rounds, ratios)])
    assert table[0].startswith("| server | floor req/s | bare req/s | org_me req/s |")
    assert table[2] == "| granian (WSGI) | 200 | 250 | 100 | 0.80 | 0.90 |"


def _result(name, *, rps):
    return Result(name, latencies_ms=[1.0] * rps, statuses={200: rps}, wall_seconds=1.0)


@pytest.mark.django_db(
    transaction=True
)  # the servers read the seeded rows over their own connections
def test_bench_http_serves_floor_and_bare_from_each_server_class(tmp_path):
    call_command(
        "seed", "--members=20", "--goals-per-member=1", "--small-orgs=0", "--departments=2",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )  # fmt: skip
    out = tmp_path / "bench.json"

    call_command(
        "bench", "--http", "--worker-class=sync,uvicorn,granian", "--scenarios=org_me",
        "--concurrency=4", "--warmup=4", "--max-requests=40", "--duration=10", "--no-ratios",
        f"--json={out}", stdout=open("/dev/null", "w"),  # noqa: SIM115
    )  # fmt: skip

    report = json.loads(out.read_text())
    rows = {(row["server"], row["scenario"]): row for row in report["rows"]}
    assert set(rows) == {
        (server, scenario)
        for server in ("sync", "uvicorn", "granian")
        for scenario in ("floor", "bare", "org_me")
    }
    for row in rows.values():
        assert row["requests"] == 40, row
        assert row["status"] == "PASS", row
        assert row["rps"] > 0
    assert {rows[server, "floor"]["queries"] for server in ("sync", "uvicorn", "granian")} == {1}
    assert {rows[server, "org_me"]["queries"] for server in ("sync", "uvicorn", "granian")} == {0}
    summary = {s["server"]: s for s in report["servers"]}
    assert set(summary) == {"gunicorn sync", "gunicorn + uvicorn (ASGI)", "granian (WSGI)"}
    assert all(s["ratios"]["floor ÷ bare"] > 0 for s in summary.values())
