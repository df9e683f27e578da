import json

import pytest
from django.core.management import call_command


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
