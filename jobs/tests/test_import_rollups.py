"""A members import (raw-SQL batches, jobs.services.import_load) keeps the dashboard rollups
exact: the triggers of dashboards count what its statements insert, in its transaction."""

from __future__ import annotations

import io

from django.core.management import call_command

from jobs.models import Job
from jobs.services.imports import members_import_run
from orgs.cache import org_versions_bump

from .support import csv_file, import_post, member_lines


def test_an_imported_batch_is_in_the_rollups(api, admin, department):
    lines = [*member_lines(12, department="Imported"),
             f"solo@import.example,Solo,admin,{department.name},,"]  # fmt: skip
    response = import_post(api, admin, csv_file(lines))
    assert response.status_code == 202, response.content

    # the worker's side, run here: the job's rows land in one transaction
    assert members_import_run(job_id=response.json()["id"], attempt=0) == "succeeded"

    assert Job.objects.get(pk=response.json()["id"]).status == Job.Status.SUCCEEDED
    out = io.StringIO()
    call_command("rollups", "--verify", "--org", admin.org.slug, stdout=out)
    assert "match" in out.getvalue()
    org_versions_bump({admin.org_id})
    stats = api.get(admin, "/dashboards/stats").json()
    assert stats["total_users"] == 1 + 13
    assert stats["admins"] == 2
    board = api.get(admin, "/dashboards/admin").json()
    imported = next(d for d in board["departments"] if d["name"] == "Imported")
    assert imported["members"] == 12
