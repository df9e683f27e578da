"""`manage.py bench --ws` end to end: a real uvicorn, a client process, writes through the
services (DESIGN.md §10). The expected deliveries are recomputed here from the org's roles,
not taken from the bench: every write must reach exactly the sockets allowed to see it."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from goals.models import Goal
from orgs.models import Membership
from orgs.tests.factories import MembershipFactory
from perf.bench.ws import WS_TITLE

pytestmark = pytest.mark.usefixtures("transactional_db")  # the server reads what we commit


def _allowed(watcher: Membership, owner: Membership) -> bool:
    """Goal changes (DESIGN.md §10): admins, the owner, the owner's manager."""
    return (
        watcher.role == Membership.Role.ADMIN
        or watcher.pk == owner.pk
        or (watcher.role == Membership.Role.MANAGER and owner.supervisor_id == watcher.pk)
    )


def test_bench_ws_delivers_every_write_to_exactly_the_sockets_allowed_to_see_it(
    admin, manager, employee, period, tmp_path
):
    other_manager = MembershipFactory(org=admin.org, role=Membership.Role.MANAGER)
    MembershipFactory(org=admin.org, role=Membership.Role.EMPLOYEE, supervisor=other_manager)
    MembershipFactory(org=admin.org, role=Membership.Role.EMPLOYEE)  # no manager
    out = tmp_path / "ws.json"

    call_command(
        "bench", "--ws", f"--slug={admin.org.slug}", "--sockets=50", "--writes=20",
        "--write-rate=0", f"--json={out}", stdout=open("/dev/null", "w"),  # noqa: SIM115
    )  # fmt: skip

    report = json.loads(out.read_text())
    members = {m.pk: m for m in Membership.objects.filter(org=admin.org)}
    sockets = [members[pk] for pk in report["sockets"]["member_ids"]]
    owners = [members[pk] for pk in report["writes"]["owners"]]
    expected = sum(_allowed(watcher, owner) for owner in owners for watcher in sockets)
    assert len(sockets) == report["sockets"]["opened"] == 50
    assert {m.pk for m in sockets} == set(members)  # 6 members, each with several sockets
    assert report["sockets"]["ws_max_per_user"] == 9
    assert len(owners) == report["writes"]["count"] == 20
    assert len(report["writes"]["seqs"]) == 20
    assert report["deliveries"] == {
        "expected": expected,
        "delivered": expected,
        "missing": 0,
        "unexpected": 0,
        "duplicates": 0,
    }
    assert report["sockets"]["closed_by_server"] == {}
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert report["messages_per_second"] > 0
    assert report["memory"]["rss_after_kb"] > 0
    assert [b["name"] for b in report["budgets"]] == [
        "commit→delivery p95 (ms)",
        "memory per idle socket (KB)",
    ]
    assert {b["status"] for b in report["budgets"]} <= {"PASS", "FAIL"}
    assert not Goal.objects.filter(org=admin.org, title__startswith=WS_TITLE).exists()


def test_bench_ws_refuses_an_unknown_org(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no active org"):
        call_command("bench", "--ws", "--slug=no-such-org", stdout=open("/dev/null", "w"))  # noqa: SIM115
