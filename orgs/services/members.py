"""Member writes (admin only): bulk create (all or nothing) and PATCH, keeping the org's last
admin."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DatabaseError, transaction
from django.utils import timezone

from core.errors import Conflict, NotFound, Unprocessable, detail
from orgs.audit import AuditEntry, audit_record_many, changes_between, record_change
from orgs.cache import member_entries_forget_on_commit
from orgs.models import Department, Membership, Organization
from orgs.permissions import Actor, ensure_admin
from orgs.selectors import member_item, supervisor_chain_check
from users.models import User, normalize_email
from users.services import password_hash_provisional

EMAIL_TWICE = "This email appears more than once in the batch."
ALREADY_MEMBER = "This email is already a member of the organization."
UNKNOWN_SUPERVISOR = "No member or batch row has this email."
OWN_SUPERVISOR = "A member cannot supervise themselves."
UNKNOWN_DEPARTMENT = "No department with this id in the organization."
UNKNOWN_MEMBER = "Member not found."
UNKNOWN_SUPERVISOR_ID = "No member with this id in the organization."
INACTIVE_SUPERVISOR = "This member is deactivated and cannot supervise."
SUPERVISOR_CYCLE = "This member already supervises that one, directly or not."
NOT_NULL = "This field cannot be null."
LAST_ADMIN = "The organization must keep at least one active admin."


@dataclass(slots=True)
class MemberRow:
    email: str
    full_name: str
    role: str
    department_id: int | None = None
    supervisor_email: str | None = None
    title: str = ""
    password: str | None = None


def _bulk_validate(
    *, org: Organization, rows: Sequence[MemberRow]
) -> tuple[list[str], dict[str, int]]:
    """Emails, existing users by email, org members by email; raises 422 then 409."""
    loc = lambda i, name: ["body", "members", i, name]  # noqa: E731
    emails = [normalize_email(row.email) for row in rows]
    errors: list[dict[str, Any]] = []
    first_seen: dict[str, int] = {}
    for i, email in enumerate(emails):
        if email in first_seen:
            errors.append(detail(loc(i, "email"), EMAIL_TWICE))
        first_seen.setdefault(email, i)

    department_ids = {row.department_id for row in rows if row.department_id is not None}
    known_departments = (
        set(Department.objects.filter(org=org, pk__in=department_ids).values_list("pk", flat=True))
        if department_ids
        else set()
    )
    supervisor_emails = {
        normalize_email(row.supervisor_email) for row in rows if row.supervisor_email
    }
    # One query: existing members among the batch's emails and its supervisors' emails.
    found = Membership.objects.filter(
        org=org, user__email__in=set(emails) | supervisor_emails
    ).values_list("user__email", "pk", "is_active")
    org_members = {email: pk for email, pk, _ in found}
    inactive = {email for email, _, is_active in found if not is_active}
    for i, row in enumerate(rows):
        if row.department_id is not None and row.department_id not in known_departments:
            errors.append(detail(loc(i, "department_id"), UNKNOWN_DEPARTMENT))
        if row.supervisor_email:
            supervisor = normalize_email(row.supervisor_email)
            if supervisor == emails[i]:
                errors.append(detail(loc(i, "supervisor_email"), OWN_SUPERVISOR))
            elif supervisor not in first_seen and supervisor not in org_members:
                errors.append(detail(loc(i, "supervisor_email"), UNKNOWN_SUPERVISOR))
            elif supervisor not in first_seen and supervisor in inactive:
                errors.append(detail(loc(i, "supervisor_email"), INACTIVE_SUPERVISOR))
    errors += _batch_supervisor_loops(emails=emails, rows=rows)
    if errors:
        raise Unprocessable(details=errors)

    conflicts = [
        detail(loc(i, "email"), ALREADY_MEMBER)
        for i, email in enumerate(emails)
        if email in org_members
    ]
    if conflicts:
        raise Conflict(ALREADY_MEMBER, details=conflicts)
    return emails, org_members


def _batch_supervisor_loops(*, emails: list[str], rows: Sequence[MemberRow]) -> list[dict]:
    """Rows whose supervisor chain inside the batch comes back to them (A → B → A).

    Only batch rows can close a loop: members already in the org have no batch supervisor."""
    supervisor_of = {
        email: normalize_email(row.supervisor_email)
        for email, row in zip(emails, rows, strict=True)
        if row.supervisor_email
    }
    errors = []
    for i, email in enumerate(emails):
        seen = {email}
        current = supervisor_of.get(email)
        while current is not None and current not in seen:
            seen.add(current)
            current = supervisor_of.get(current)
        if current == email and supervisor_of.get(email) != email:
            errors.append(detail(["body", "members", i, "supervisor_email"], SUPERVISOR_CYCLE))
    return errors


T = TypeVar("T")
# What a write that raced another one ends in: a unique violation (the other request inserted
# the same user or membership first), a deadlock, a serialization failure.
RACE_SQLSTATES = frozenset({"23505", "40P01", "40001"})
RACE_ATTEMPTS = 3


def _retry_race(attempt: Callable[[], T]) -> T:
    """Runs `attempt` (one transaction, or a savepoint inside the caller's) again when it lost
    a race: the next try reads what the winner committed, so its own checks answer with the
    proper 409 (an email now a member of the org) or succeed (a user that now exists joins)."""
    for remaining in range(RACE_ATTEMPTS - 1, -1, -1):
        try:
            return attempt()
        except DatabaseError as exc:
            if not remaining or getattr(exc.__cause__, "sqlstate", None) not in RACE_SQLSTATES:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def member_bulk_create(
    *, org: Organization, actor: Membership, rows: Sequence[MemberRow]
) -> list[dict[str, Any]]:
    """All rows joined to the org, or none (422/409 with per-row details).

    A constant number of queries whatever the batch size: departments (if any are named),
    org members among the emails, existing users, INSERT users (if any are new), INSERT
    memberships, UPDATE supervisors named inside the batch (if any), INSERT audit events.
    An existing user (by email, ignoring case) joins unchanged: name and password untouched.
    Validation errors (422: an email twice, unknown supervisor or department) are reported
    before conflicts (409: an email already a member), each with every offending row's loc.
    Supervisor loops inside the batch (A → B → A) are 422 rows too.

    Concurrent batches with the same new email: the INSERT of the later one waits for the
    earlier one's commit, then fails on the unique email (or org and user); that transaction
    (a savepoint under an outer one) is rolled back and run again on what is now committed:
    in the same org the email is then an ALREADY_MEMBER row (409), in another org the user
    the winner created joins. Nothing extra runs when there is no race.
    """
    ensure_admin(actor)
    return _retry_race(lambda: _member_bulk_create(org=org, actor=actor, rows=rows))


@transaction.atomic
def _member_bulk_create(
    *, org: Organization, actor: Membership, rows: Sequence[MemberRow]
) -> list[dict[str, Any]]:
    emails, org_members = _bulk_validate(org=org, rows=rows)
    users = {user.email: user for user in User.objects.filter(email__in=emails)}
    new_users = []
    for email, row in zip(emails, rows, strict=True):
        if email in users:
            continue
        user = User(email=email, full_name=row.full_name)
        if row.password:
            user.password = password_hash_provisional(row.password)
        else:
            user.set_unusable_password()
        new_users.append(user)
    if new_users:
        # In email order: two batches sharing new emails insert them in the same order, so one
        # waits for the other instead of each holding a row the other needs (a deadlock).
        User.objects.bulk_create(sorted(new_users, key=lambda user: user.email))
        users.update((user.email, user) for user in new_users)

    now = timezone.now()
    members = [
        Membership(
            org=org,
            user=users[email],
            role=row.role,
            department_id=row.department_id,
            supervisor_id=org_members.get(normalize_email(row.supervisor_email or "")),
            title=row.title,
            created_at=now,
        )
        for email, row in zip(emails, rows, strict=True)
    ]
    Membership.objects.bulk_create(members)
    by_email = dict(zip(emails, members, strict=True))
    in_batch = []
    for member, row in zip(members, rows, strict=True):
        supervisor = by_email.get(normalize_email(row.supervisor_email or ""))
        if supervisor is not None:
            member.supervisor_id = supervisor.pk
            in_batch.append(member)
    if in_batch:
        Membership.objects.bulk_update(in_batch, ["supervisor"])

    audit_record_many(
        org=org,
        actor=actor,
        entries=[
            AuditEntry(
                action="member.create",
                entity_type="membership",
                entity_id=member.pk,
                owner_id=member.pk,
                changes={
                    "email": [None, member.user.email],
                    "role": [None, member.role],
                    "department_id": [None, member.department_id],
                    "supervisor_id": [None, member.supervisor_id],
                    "title": [None, member.title],
                },
            )
            for member in members
        ],
    )
    # bulk_create sends no signals: a cached "not a member" for these users must go.
    member_entries_forget_on_commit((org.id, member.user_id) for member in members)
    return [member_item(member) for member in members]


MEMBER_PATCH_FIELDS = ("role", "department_id", "supervisor_id", "title", "is_active")


@transaction.atomic
def member_update(
    *, org: Organization, actor: Actor, member_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Changes any of MEMBER_PATCH_FIELDS; `data` holds only the fields the client sent.

    Platform staff (a PlatformActor) may run it too: the admin's edits and its "deactivate" /
    "reactivate" support actions, under the same rules (the last admin stays).

    Saved with `.save()` so the post_save signal drops the member's cached entry: a deactivated
    member's next request to the org is a 404.

    Locks, in this order: the org's active admins (by id, only when the change may take a
    role or activity away), then the member. Two admins demoting each other both take the
    admins first, so the second waits for the first to commit and then sees one admin fewer;
    locking the member first would have each hold a row the other waits for (a deadlock).
    FOR NO KEY UPDATE: the foreign keys that other writes check on these rows (an audit
    event's actor, a goal's owner) take KEY SHARE, which it does not block.
    """
    ensure_admin(actor)
    admin_ids = _active_admins_lock(org=org) if _may_lose_admin(data) else []
    member = (
        Membership.objects.select_for_update(of=("self",), no_key=True)
        .select_related("user")
        .filter(org=org, pk=member_id)
        .first()
    )
    if member is None:
        raise NotFound(UNKNOWN_MEMBER)
    errors = [
        detail(["body", name], NOT_NULL)
        for name in ("role", "title", "is_active")
        if name in data and data[name] is None
    ]
    department_id = data.get("department_id")
    if (
        department_id is not None
        and not Department.objects.filter(org=org, pk=department_id).exists()
    ):
        errors.append(detail(["body", "department_id"], UNKNOWN_DEPARTMENT))
    supervisor_id = data.get("supervisor_id")
    if supervisor_id is not None:
        if supervisor_id == member.pk:
            errors.append(detail(["body", "supervisor_id"], OWN_SUPERVISOR))
        else:
            exists, active, cycle = supervisor_chain_check(
                org=org, supervisor_id=supervisor_id, member_id=member.pk
            )
            if not exists:
                errors.append(detail(["body", "supervisor_id"], UNKNOWN_SUPERVISOR_ID))
            elif not active:
                errors.append(detail(["body", "supervisor_id"], INACTIVE_SUPERVISOR))
            elif cycle:
                errors.append(detail(["body", "supervisor_id"], SUPERVISOR_CYCLE))
    if errors:
        raise Unprocessable(details=errors)

    fields = [name for name in MEMBER_PATCH_FIELDS if name in data]
    before = {name: getattr(member, name) for name in fields}
    after = {name: data[name] for name in fields}
    changes = changes_between(before, after)
    if _loses_admin(member, after) and not any(pk != member.pk for pk in admin_ids):
        raise Conflict(LAST_ADMIN)
    if changes:
        for name in changes:
            setattr(member, name, after[name])
        member.save(update_fields=[name.removesuffix("_id") for name in changes])
        record_change(
            org=org,
            actor=actor,
            action="member.update",
            entity_type="membership",
            entity_id=member.pk,
            changes=changes,
            owner_id=member.pk,
        )
    return member_item(member)


def _loses_admin(member: Membership, after: dict[str, Any]) -> bool:
    was_admin = member.is_active and member.role == Membership.Role.ADMIN
    stays_admin = (
        after.get("is_active", member.is_active)
        and after.get("role", member.role) == Membership.Role.ADMIN
    )
    return was_admin and not stays_admin


def _may_lose_admin(data: dict[str, Any]) -> bool:
    """Whether the change, applied to an active admin, would leave them no longer one."""
    return ("role" in data and data["role"] != Membership.Role.ADMIN) or (
        "is_active" in data and not data["is_active"]
    )


def _active_admins_lock(*, org: Organization) -> list[int]:
    """The ids of the org's active admins, each row locked, in id order (one order for every
    caller). A row that a concurrent demotion changed is re-checked once it is committed, so
    the list is what remains after that demotion."""
    return list(
        Membership.objects.select_for_update(no_key=True)
        .filter(org=org, role=Membership.Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
