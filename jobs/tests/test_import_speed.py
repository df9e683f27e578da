"""Import time (DESIGN.md §11: 20,000 rows in ≤ 30 s on the reference machine), with a real
worker into an empty org. `JOBS_MEASURE=1` also measures 5,000 and 50,000 rows (README)."""

from __future__ import annotations

import os
import time

import pytest

from core.tests.servers import process_stop
from orgs.models import Membership
from orgs.tests.factories import MembershipFactory, OrganizationFactory

from .support import csv_file, import_post, job_wait, member_lines, worker_start

pytestmark = pytest.mark.usefixtures("transactional_db")
SIZES = [5_000, 20_000, 50_000] if os.environ.get("JOBS_MEASURE") else [20_000]


@pytest.fixture(scope="module")
def speed_worker(django_db_setup):
    process = worker_start()
    yield process
    process_stop(process)


@pytest.mark.parametrize("rows", SIZES)
def test_an_import_into_an_empty_org_is_fast(api, speed_worker, rows):
    org = OrganizationFactory(slug=f"speed-{rows}")
    admin = MembershipFactory(org=org, role=Membership.Role.ADMIN)
    data = csv_file(member_lines(rows, prefix=f"s{rows}-"))

    started = time.monotonic()
    job_id = import_post(api, admin, data).json()["id"]
    job = job_wait(api, admin, job_id, timeout=120)
    elapsed = time.monotonic() - started

    assert job["status"] == "succeeded", job["error"]
    assert Membership.objects.filter(org=org).count() == rows + 1
    print(f"import of {rows:,} rows ({len(data) / 2**20:.1f} MiB): {elapsed:.1f} s")
    if rows <= 20_000:
        assert elapsed <= 30
