"""POST /members/import (DESIGN.md §11) run by a real worker: all rows land or none, each
refused row named with its line."""

from __future__ import annotations

import pytest

from core.inputs import NUL_CHARACTER
from jobs.imports import BAD_EMAIL, BAD_ROLE, EMAIL_TWICE
from jobs.models import Job
from jobs.services.imports import CSV_ONLY, UNKNOWN_SUPERVISOR
from orgs.models import AuditEvent, Change, Department, Membership
from orgs.services.members import ALREADY_MEMBER
from orgs.tests.factories import MembershipFactory
from users.models import User

from .support import HEADER, csv_file, import_post, job_wait, member_lines, wait_for

JOB_KEYS = {
    "id",
    "kind",
    "status",
    "progress",
    "result",
    "error",
    "created_at",
    "started_at",
    "finished_at",
}


def _counts():
    return (
        User.objects.count(),
        Membership.objects.count(),
        Department.objects.count(),
        AuditEvent.objects.count(),
        Change.objects.count(),
    )


def test_an_import_of_10_rows_lands_with_departments_supervisors_and_the_log(
    api, admin, department, outsider, live_worker
):
    boss = MembershipFactory(org=admin.org, role=Membership.Role.MANAGER)
    lines = [
        f"ann@import.example,Ann Lead,manager,{department.name},{boss.user.email},Head",
        "bob@import.example,Bob,employee,Research,ann@import.example,Analyst",
        "cy@import.example,Cy,employee,Research,bob@import.example,",
        "dee@import.example,Dee,admin,,,",
        f"{outsider.user.email.upper()},Not Used,employee,,,",  # an existing user joins unchanged
        *[f"e{i}@import.example,E {i},employee,Ops,ann@import.example,Clerk" for i in range(5)],
    ]
    before = api.get(admin, "/changes").json()["last_seq"]

    response = import_post(api, admin, csv_file(lines))

    assert response.status_code == 202, response.content
    queued = response.json()
    assert set(queued) == JOB_KEYS
    assert queued["kind"] == "members.import"
    assert queued["status"] in ("queued", "running", "succeeded")
    assert queued["error"] is None
    job = job_wait(api, admin, queued["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == {"done": 10, "total": 10}
    assert job["result"] == {"created": 10, "existing_users": 1, "departments_created": 2}
    assert job["started_at"] and job["finished_at"] and job["error"] is None

    members = {
        m.user.email: m
        for m in Membership.objects.filter(org=admin.org, user__email__endswith="@import.example")
    }
    assert len(members) == 9
    ann, bob, cy, dee = (members[f"{n}@import.example"] for n in ("ann", "bob", "cy", "dee"))
    assert (ann.role, ann.department_id, ann.supervisor_id, ann.title) == (
        "manager",
        department.pk,
        boss.pk,
        "Head",
    )
    assert bob.supervisor_id == ann.pk and cy.supervisor_id == bob.pk
    assert bob.department.name == "Research" and cy.title == ""
    assert dee.department_id is None and dee.supervisor_id is None and dee.role == "admin"
    assert not ann.user.has_usable_password()  # password-less: set on first login or by an admin
    joined = Membership.objects.get(org=admin.org, user=outsider.user)
    assert joined.user.full_name == outsider.user.full_name  # name untouched
    assert {d.name for d in Department.objects.filter(org=admin.org)} == {
        department.name,
        "Research",
        "Ops",
    }

    actions = list(
        AuditEvent.objects.filter(org=admin.org).values_list("action", "actor_id", "request_id")
    )
    assert sorted(a for a, _, _ in actions).count("member.create") == 10
    assert [a for a, _, _ in actions].count("department.create") == 2
    assert [a for a, _, _ in actions].count("members.import") == 1
    assert {actor for _, actor, _ in actions} == {admin.pk}
    assert len({request_id for _, _, request_id in actions}) == 1  # the POST's request id
    # The feed's head is published to Redis just after the worker's commit: a moment later.
    feed = wait_for(
        lambda: api.get(admin, "/changes", {"after": before, "limit": 500}).json()["items"]
    )
    types = [item["type"] for item in feed]
    assert types.count("member.created") == 10 and types[-1] == "members.import"
    assert [item["seq"] for item in feed] == sorted(item["seq"] for item in feed)


@pytest.mark.parametrize(
    ("bad_line", "field", "message"),
    [
        ("x@import.example,Bad Email,employee,,,", None, None),  # replaced below: a bad email
        ("nobody@import.example,No Boss,employee,,ghost@import.example,", "supervisor_email",
         UNKNOWN_SUPERVISOR),
        ("imp1@import.example,Twice,employee,,,", "email", EMAIL_TWICE.format(line=3)),
        ("{existing},Already,employee,,,", "email", ALREADY_MEMBER),
        ("role@import.example,Bad Role,boss,,,", "role", BAD_ROLE),
        ("nul@import.example,Nul\x00Name,employee,,,", "full_name", NUL_CHARACTER),
    ],
    ids=["bad-email", "unknown-supervisor", "duplicate-in-file", "existing-member", "bad-role",
         "nul-byte"],
)  # fmt: skip
def test_an_invalid_row_fails_the_job_with_its_line_and_nothing_is_created(
    api, admin, employee, live_worker, bad_line, field, message
):
    if field is None:
        bad_line, field, message = "not-an-email,Bad Email,employee,,,", "email", BAD_EMAIL
    bad_line = bad_line.format(existing=employee.user.email)
    lines = member_lines(4)
    lines.insert(3, bad_line)  # the header is line 1: the bad row is line 5
    before = _counts()

    response = import_post(api, admin, csv_file(lines))

    assert response.status_code == 202
    job = job_wait(api, admin, response.json()["id"])
    assert job["status"] == "failed"
    assert {"line": 5, "field": field, "msg": message} in job["error"]["rows"]
    assert job["error"]["message"]
    assert job["result"] is None
    assert _counts() == before


def test_errors_list_the_first_100_rows_in_line_order(api, admin, live_worker):
    lines = [f"bad{i},Name,employee,,," for i in range(150)]

    job = job_wait(api, admin, import_post(api, admin, csv_file(lines)).json()["id"])

    assert job["status"] == "failed"
    rows = job["error"]["rows"]
    assert len(rows) == 100
    assert [row["line"] for row in rows] == list(range(2, 102))
    assert "150" in job["error"]["message"]


def test_a_file_without_the_header_is_422(api, admin):
    assert import_post(api, admin, b"").status_code == 415  # no body: no content type either
    for data in (b"x,y,z\na@b.example,A,employee\n", csv_file([], header="email,role"), b"\n"):
        response = import_post(api, admin, data)
        assert response.status_code == 422, data
        assert response.json()["details"][0]["loc"] == ["body"]
    assert not Job.objects.exists()
    bom = b"\xef\xbb\xbf" + csv_file(member_lines(1)).replace(b"\n", b"\r\n")
    assert import_post(api, admin, bom).status_code == 202  # a spreadsheet's export


def test_a_body_over_10_mib_is_413_and_one_over_1_mib_is_accepted(api, admin):
    limit = 10 * 1024 * 1024
    big = csv_file(member_lines(1))
    big += b"#" * (limit + 1 - len(big))

    refused = import_post(api, admin, big)

    assert refused.status_code == 413
    assert refused.json()["error"] == "payload_too_large"
    assert not Job.objects.exists()
    lines = member_lines(30_000, prefix="mib")  # ~2 MiB: over MAX_BODY_BYTES, under its own
    data = csv_file(lines)
    assert 1024 * 1024 < len(data) < limit
    accepted = import_post(api, admin, data)
    assert accepted.status_code == 202
    assert bytes(Job.objects.get().data) == data


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data"])
def test_a_body_that_is_not_text_csv_is_415(api, admin, content_type):
    response = import_post(api, admin, HEADER.encode(), content_type=content_type)

    assert response.status_code == 415
    assert response.json()["message"] == CSV_ONLY
    assert not Job.objects.exists()


def test_a_json_body_over_1_mib_on_the_import_path_is_413(api, admin):
    response = import_post(api, admin, b"[" + b"1," * 600_000 + b"1]", "application/json")
    assert response.status_code == 413


def test_jobs_are_for_admins_403_for_other_members_404_for_strangers(
    api, admin, manager, employee, outsider
):
    job = import_post(api, admin, csv_file(member_lines(1))).json()
    for member in (manager, employee):
        assert import_post(api, member, csv_file(member_lines(1))).status_code == 403
        assert api.get(member, "/jobs").status_code == 403
        assert api.get(member, f"/jobs/{job['id']}").status_code == 403
    for path in ("/members/import", "/jobs", f"/jobs/{job['id']}"):
        url = f"/api/org/{admin.org.slug}{path}"
        method = "POST" if path.endswith("import") else "GET"
        response = api.request(method, outsider.user, url, data="x")
        assert response.status_code == 404, path
    assert api.get(outsider, f"/jobs/{job['id']}").status_code == 404  # another org's job


def test_jobs_list_newest_first_with_a_cursor(api, admin):
    ids = [import_post(api, admin, csv_file(member_lines(1))).json()["id"] for _ in range(3)]

    first = api.get(admin, "/jobs", {"limit": 2}).json()
    second = api.get(admin, "/jobs", {"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [job["id"] for job in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    assert api.get(admin, "/jobs", {"status": "failed"}).json()["items"] == []


def test_the_job_is_enqueued_in_the_requests_transaction(admin):
    """Rolled back with the job row: no queue entry without its Job (and none the other way)."""
    from django.db import connection, transaction

    from jobs.services import members_import_start

    def queued() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM procrastinate_jobs")
            return cursor.fetchone()[0]

    with pytest.raises(RuntimeError), transaction.atomic():
        members_import_start(
            org=admin.org, actor=admin, data=csv_file(member_lines(1)), content_type="text/csv"
        )
        assert queued() == 1 and Job.objects.count() == 1
        raise RuntimeError("the write fails after the enqueue")
    assert not Job.objects.exists()
    assert queued() == 0
