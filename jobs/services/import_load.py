"""Member imports, the load (DESIGN.md §11): the rows checked against the org, then written
in ONE transaction in batches — users (password-less), memberships, supervisors named in the
file, the departments it names that the org lacks, and the audit and change-log entries (one per
member and department, plus one for the import). jobs.services.imports runs it for the worker.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction
from django.utils import timezone

from jobs.imports import (
    ImportRow,
    refuse_rows,
    row_error,
)
from jobs.models import Job
from orgs.audit import AuditEntry, audit_record_many
from orgs.cache import member_entries_forget_on_commit
from orgs.models import Department, Membership, Organization
from orgs.services.members import (
    ALREADY_MEMBER,
    INACTIVE_SUPERVISOR,
    OWN_SUPERVISOR,
    SUPERVISOR_CYCLE,
)
from users.models import User

logger = structlog.get_logger("cadence.jobs")
UNKNOWN_SUPERVISOR = "No member of the organization or row of the file has this email."
IMPORT_ACTION = "members.import"  # the import's own entry: change type `members.import`


@dataclass(slots=True)
class _Plan:
    """The rows, checked against the org: what each one points to."""

    rows: Sequence[ImportRow]
    org_supervisors: dict[str, int]  # supervisor email → member id (members already in the org)


def _check_against_org(*, org: Organization, rows: Sequence[ImportRow]) -> _Plan:
    """Members already in the org (409-like rows), supervisors by email (the file's own rows
    or the org's members, active), loops among the file's supervisors. Two queries."""
    emails = {row.email: row.line for row in rows}
    supervisor_emails = {row.supervisor_email for row in rows if row.supervisor_email}
    found = Membership.objects.filter(
        org=org, user__email__in=set(emails) | supervisor_emails
    ).values_list("user__email", "pk", "is_active")
    org_members = {email: (pk, is_active) for email, pk, is_active in found}
    errors = [
        row_error(row.line, "email", ALREADY_MEMBER) for row in rows if row.email in org_members
    ]
    for row in rows:
        supervisor = row.supervisor_email
        if not supervisor:
            continue
        if supervisor == row.email:
            errors.append(row_error(row.line, "supervisor_email", OWN_SUPERVISOR))
        elif supervisor in emails:
            continue
        elif supervisor not in org_members:
            errors.append(row_error(row.line, "supervisor_email", UNKNOWN_SUPERVISOR))
        elif not org_members[supervisor][1]:
            errors.append(row_error(row.line, "supervisor_email", INACTIVE_SUPERVISOR))
    errors += _supervisor_loops(rows, emails)
    refuse_rows(errors)
    return _Plan(rows=rows, org_supervisors={email: pk for email, (pk, _) in org_members.items()})


def _supervisor_loops(rows: Sequence[ImportRow], emails: dict[str, int]) -> list[dict[str, Any]]:
    """Rows on a loop of supervisors inside the file (A → B → A). Linear: each row is walked
    once (each has at most one supervisor, so the rows form chains and loops)."""
    supervisor_of = {
        row.email: row.supervisor_email
        for row in rows
        if row.supervisor_email in emails and row.supervisor_email != row.email
    }
    state: dict[str, int] = {}  # 1: on the current walk, 2: done
    looped: set[str] = set()
    for start in supervisor_of:
        path = []
        current: str | None = start
        while current is not None and current not in state:
            state[current] = 1
            path.append(current)
            current = supervisor_of.get(current)
        if current is not None and state[current] == 1:  # came back onto this walk: a loop
            looped.update(path[path.index(current) :])
        for email in path:
            state[email] = 2
    return [row_error(emails[email], "supervisor_email", SUPERVISOR_CYCLE) for email in looped]


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_INSERT_USERS = """
INSERT INTO users_user (password, last_login, is_superuser, email, full_name, is_active,
                        is_staff, created_at, token_version)
SELECT password, NULL, false, email, full_name, true, false, %(now)s, 1
FROM unnest(%(passwords)s::text[], %(emails)s::text[], %(names)s::text[])
     AS t(password, email, full_name)
ON CONFLICT DO NOTHING
RETURNING id, email
"""
_INSERT_MEMBERS = """
INSERT INTO orgs_membership (org_id, user_id, role, department_id, supervisor_id, title,
                             is_active, created_at)
SELECT %(org)s, user_id, role, department_id, supervisor_id, title, true, %(now)s
FROM unnest(%(users)s::bigint[], %(roles)s::text[], %(departments)s::bigint[],
            %(supervisors)s::bigint[], %(titles)s::text[])
     AS t(user_id, role, department_id, supervisor_id, title)
ON CONFLICT (org_id, user_id) DO NOTHING
RETURNING id, user_id
"""
_SET_SUPERVISORS = """
UPDATE orgs_membership m SET supervisor_id = t.supervisor_id
FROM unnest(%(ids)s::bigint[], %(supervisors)s::bigint[]) AS t(id, supervisor_id)
WHERE m.id = t.id AND m.org_id = %(org)s
"""


def _unusable_password() -> str:
    """What `set_unusable_password` stores ("!" + random), without its 40 calls to
    `secrets.choice` per row (a second for 50,000 rows)."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def members_load(
    *,
    job: Job,
    org: Organization,
    actor: Membership,
    rows: Sequence[ImportRow],
    progress: Callable[[int], None],
) -> dict[str, Any]:
    """Everything in one transaction: on any exception nothing stays."""
    batch_size = max(settings.IMPORT_BATCH_ROWS, 1)
    throttle = settings.IMPORT_THROTTLE_SECONDS
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        if settings.JOBS_STATEMENT_TIMEOUT_MS:  # a bulk load is not a request
            cursor.execute(
                f"SET LOCAL statement_timeout = {int(settings.JOBS_STATEMENT_TIMEOUT_MS)}"
            )
        plan = _check_against_org(org=org, rows=rows)
        departments, created_departments = _departments_ensure(org=org, rows=rows, now=now)
        member_of: dict[str, int] = {}  # email → new member id
        user_of: dict[str, int] = {}
        existing_users = 0
        for batch in _batches(rows, batch_size):
            users, existing = _users_ensure(cursor, batch=batch, now=now)
            existing_users += existing
            user_of.update(users)
            cursor.execute(
                _INSERT_MEMBERS,
                {
                    "org": org.pk,
                    "now": now,
                    "users": [users[row.email] for row in batch],
                    "roles": [row.role for row in batch],
                    "departments": [departments.get(row.department) for row in batch],
                    "supervisors": [
                        plan.org_supervisors.get(row.supervisor_email) for row in batch
                    ],
                    "titles": [row.title for row in batch],
                },
            )
            inserted = {user_id: member_id for member_id, user_id in cursor.fetchall()}
            # Made members by another write since the check: the import is refused.
            refuse_rows(
                [
                    row_error(row.line, "email", ALREADY_MEMBER)
                    for row in batch
                    if users[row.email] not in inserted
                ]
            )
            member_of.update((row.email, inserted[users[row.email]]) for row in batch)
            progress(len(member_of))
            if throttle:
                time.sleep(throttle)
        in_file = [
            (member_of[row.email], member_of[row.supervisor_email])
            for row in rows
            if row.supervisor_email in member_of
        ]
        if in_file:
            cursor.execute(
                _SET_SUPERVISORS,
                {
                    "org": org.pk,
                    "ids": [member for member, _ in in_file],
                    "supervisors": [supervisor for _, supervisor in in_file],
                },
            )
        result = {
            "created": len(rows),
            "existing_users": existing_users,
            "departments_created": len(created_departments),
        }
        _audit(
            org=org,
            actor=actor,
            job=job,
            rows=rows,
            member_of=member_of,
            departments=departments,
            org_supervisors=plan.org_supervisors,
            created_departments=created_departments,
            result=result,
            batch_size=batch_size,
        )
        member_entries_forget_on_commit((org.pk, user_id) for user_id in user_of.values())
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.SUCCEEDED,
            progress_done=len(rows),
            result=result,
            error=None,
            finished_at=timezone.now(),
            data=b"",
        )
    return result


def _users_ensure(cursor, *, batch: Sequence[ImportRow], now) -> tuple[dict[str, int], int]:
    """email → user id for the batch, creating the users that do not exist (password-less);
    and how many existed (they join unchanged: name and password untouched)."""
    emails = [row.email for row in batch]
    users = dict(User.objects.filter(email__in=emails).values_list("email", "pk"))
    existing = len(users)
    # In email order: two imports sharing new emails insert them in the same order, so one
    # waits for the other instead of each holding a row the other needs (a deadlock).
    new = sorted({row.email: row for row in batch if row.email not in users}.values(),
                 key=lambda row: row.email)  # fmt: skip
    if new:
        cursor.execute(
            _INSERT_USERS,
            {
                "now": now,
                "passwords": [_unusable_password() for _ in new],
                "emails": [row.email for row in new],
                "names": [row.full_name for row in new],
            },
        )
        created = {email: pk for pk, email in cursor.fetchall()}
        raced = [row.email for row in new if row.email not in created]
        if raced:  # created by another write since: they join as existing users
            created.update(User.objects.filter(email__in=raced).values_list("email", "pk"))
            existing += len(raced)
        users.update(created)
    return users, existing


_INSERT_DEPARTMENTS = """
INSERT INTO orgs_department (org_id, name, created_at)
SELECT %(org)s, name, %(now)s FROM unnest(%(names)s::text[]) AS t(name)
ON CONFLICT (org_id, name) DO NOTHING
RETURNING id, name
"""


def _departments_ensure(
    *, org: Organization, rows: Sequence[ImportRow], now
) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """name → department id for every name in the file, creating the missing ones; and the
    (id, name) of those created here."""
    names = {row.department for row in rows if row.department}
    if not names:
        return {}, []
    known = dict(Department.objects.filter(org=org, name__in=names).values_list("name", "pk"))
    missing = sorted(names - known.keys())
    created: list[tuple[int, str]] = []
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_DEPARTMENTS, {"org": org.pk, "now": now, "names": missing})
            created = sorted(cursor.fetchall())
        known.update((name, pk) for pk, name in created)
        raced = [name for name in missing if name not in known]
        if raced:  # created by another write since: used as they are
            known.update(
                Department.objects.filter(org=org, name__in=raced).values_list("name", "pk")
            )
    return known, created


def _audit(
    *,
    org: Organization,
    actor: Membership,
    job: Job,
    rows: Sequence[ImportRow],
    member_of: dict[str, int],
    departments: dict[str, int],
    org_supervisors: dict[str, int],
    created_departments: list[tuple[int, str]],
    result: dict[str, Any],
    batch_size: int,
) -> None:
    """The audit and change-log entries of what landed: each department created, each member
    (as POST /members/bulk writes them), and one for the import (its job). Last in the
    transaction, as every write appends: the org's log is locked from here to the commit."""
    entries = [
        AuditEntry(
            action="department.create",
            entity_type="department",
            entity_id=pk,
            changes={"name": [None, name]},
        )
        for pk, name in created_departments
    ]
    for row in rows:
        member_id = member_of[row.email]
        supervisor = member_of.get(row.supervisor_email) or org_supervisors.get(
            row.supervisor_email
        )
        entries.append(
            AuditEntry(
                action="member.create",
                entity_type="membership",
                entity_id=member_id,
                owner_id=member_id,
                changes={
                    "email": [None, row.email],
                    "role": [None, row.role],
                    "department_id": [None, departments.get(row.department)],
                    "supervisor_id": [None, supervisor],
                    "title": [None, row.title],
                },
            )
        )
    entries.append(
        AuditEntry(
            action=IMPORT_ACTION,
            entity_type="job",
            entity_id=job.pk,
            owner_id=actor.pk,  # seen by admins (and the importer), not by every member
            changes={name: [None, value] for name, value in result.items()},
        )
    )
    for batch in _batches(entries, batch_size):
        audit_record_many(org=org, actor=actor, entries=batch)
