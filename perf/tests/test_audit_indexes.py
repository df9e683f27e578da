import io

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.fixture
def large_org(db):
    # Over the 10,000-row threshold, so a sequential scan can be a finding.
    call_command(
        "seed", "--members=10500", "--goals-per-member=1", "--small-orgs=0", "--departments=5",
        stdout=io.StringIO(),
    )  # fmt: skip


def _audit(*args):
    out = io.StringIO()
    try:
        call_command("audit_indexes", "--slug=bigcorp", *args, stdout=out)
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    return code, out.getvalue()


def test_the_member_lookup_uses_its_index(large_org):
    code, report = _audit()

    assert code == 0
    assert "org_me" in report
    assert "sequential scan on orgs_membership" not in report


def test_strict_fails_when_an_index_is_dropped(large_org):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks before ALTER
        cursor.execute("ALTER TABLE orgs_membership DROP CONSTRAINT orgs_membership_unique_user")
        cursor.execute("DROP INDEX orgs_membership_user_id_ea921be1")  # the FK's own index
        cursor.execute("ANALYZE orgs_membership")

    code, report = _audit("--strict")

    assert code == 1
    assert "sequential scan on orgs_membership" in report
