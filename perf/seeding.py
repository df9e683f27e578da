"""The reference data set (DESIGN.md §6), loaded with PostgreSQL COPY.

One large org (default 20,000 members in departments, each employee with a manager of the
same department; 10 goals each in the active period, most approved with a self-assessment and
feedback; 2 goals each in a closed period) plus many small orgs. Deterministic for a given
`random_seed`. Every seeded user's password is `demo-pass-1234` (one hash, computed once), so
the load test can log in as anyone: `member{n}@{slug}.example`, `admin@{slug}.example`.

Ids are reserved in blocks from each table's sequence, so rows reference each other without
a round trip per row; the ORM is used only for the handful of rows per org above them.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from dashboards.rollups import rollups_paused, rollups_rebuild
from goals.models import Competency, CoreValue, Period
from orgs.models import Department, Organization
from perf.demo import DEMO_PASSWORD

Progress = Callable[[str], None]
GOAL_STATUSES = ("approved",) * 16 + ("submitted", "submitted", "draft", "rejected")


@dataclass(frozen=True)
class SeedSize:
    members: int = 20_000
    goals_per_member: int = 10
    closed_goals_per_member: int = 2
    departments: int = 50
    small_orgs: int = 200
    small_org_members: int = 10
    small_org_goals_per_member: int = 3


def _reserve_ids(table: str, count: int) -> int:
    """The first of `count` consecutive ids taken from `table`'s sequence."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id'))",
            [table],
        )
        first = cursor.fetchone()[0]
        if count > 1:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, first + count - 1]
            )
    return first


def _copy(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    count = 0
    with connection.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # noqa: S608 - fixed names
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def seed_org(
    *,
    slug: str,
    name: str,
    members: int,
    goals_per_member: int,
    closed_goals_per_member: int,
    departments: int,
    rng: random.Random,
    password_hash: str,
    progress: Progress,
) -> None:
    now = timezone.now()
    org = Organization.objects.create(slug=slug, name=name)
    depts = Department.objects.bulk_create(
        [Department(org=org, name=f"Department {n + 1:03d}") for n in range(departments)]
    )
    active = Period.objects.create(
        org=org,
        name="2026 H2",
        starts_on=datetime.date(2026, 7, 1),
        ends_on=datetime.date(2026, 12, 31),
        status=Period.Status.ACTIVE,
    )
    closed = Period.objects.create(
        org=org,
        name="2026 H1",
        starts_on=datetime.date(2026, 1, 1),
        ends_on=datetime.date(2026, 6, 30),
        status=Period.Status.CLOSED,
    )
    competencies = Competency.objects.bulk_create(
        [Competency(org=org, name=f"Competency {n + 1}") for n in range(5)]
    )
    core_values = CoreValue.objects.bulk_create(
        [CoreValue(org=org, name=f"Core value {n + 1}") for n in range(5)]
    )

    # Users and memberships: member 0 is the admin; in each department the first member is
    # its manager and every other member reports to that manager.
    first_user = _reserve_ids("users_user", members)
    first_member = _reserve_ids("orgs_membership", members)
    dept_of = [depts[n % len(depts)].pk for n in range(members)]
    manager_of_dept: dict[int, int] = {}
    roles, supervisors = [], []
    for n in range(members):
        member_id = first_member + n
        if n == 0:
            roles.append("admin")
            supervisors.append(None)
        elif dept_of[n] not in manager_of_dept:
            manager_of_dept[dept_of[n]] = member_id
            roles.append("manager")
            supervisors.append(first_member)  # managers report to the admin
        else:
            roles.append("employee")
            supervisors.append(manager_of_dept[dept_of[n]])

    def email(n: int) -> str:
        return f"admin@{slug}.example" if n == 0 else f"member{n}@{slug}.example"

    created = [now - datetime.timedelta(days=rng.randint(0, 900)) for _ in range(members)]
    _copy(
        "users_user",
        ["id", "password", "is_superuser", "email", "full_name", "is_active", "is_staff",
         "created_at", "token_version"],
        (
            (first_user + n, password_hash, False, email(n), f"Member {n} of {name}", True,
             False, created[n], 1)
            for n in range(members)
        ),
    )  # fmt: skip
    _copy(
        "orgs_membership",
        ["id", "org_id", "user_id", "role", "department_id", "supervisor_id", "title",
         "is_active", "created_at"],
        (
            (first_member + n, org.pk, first_user + n, roles[n], dept_of[n], supervisors[n],
             roles[n].title(), rng.random() > 0.02 or n == 0, created[n])
            for n in range(members)
        ),
    )  # fmt: skip
    progress(f"{slug}: {members} users and memberships")

    # Goals: `goals_per_member` in the active period, `closed_goals_per_member` in the closed one.
    per_member = goals_per_member + closed_goals_per_member
    total_goals = members * per_member
    first_goal = _reserve_ids("goals_goal", total_goals)
    weight = max(1, 100 // max(goals_per_member, 1))
    goal_rows, assessments, feedback = [], [], []
    categories = ("performance", "competency", "core_value")
    for n in range(members):
        owner = first_member + n
        reviewer = supervisors[n] or first_member + 1
        for k in range(per_member):
            goal_id = first_goal + n * per_member + k
            in_closed = k >= goals_per_member
            status = "approved" if in_closed else rng.choice(GOAL_STATUSES)
            category = categories[k % 3]
            if category == "performance":
                target = {"type": "performance", "metric": "Revenue", "target": 100 + k,
                          "unit": "kEUR", "direction": "increase"}  # fmt: skip
            elif category == "competency":
                target = {"type": "competency", "competency_id": competencies[k % 5].pk,
                          "expected_level": 1 + k % 5, "action_plan": ["Pair weekly"]}  # fmt: skip
            else:
                target = {"type": "core_value", "core_value_id": core_values[k % 5].pk,
                          "behaviors": ["Helps colleagues"]}  # fmt: skip
            reviewed = status in ("approved", "rejected")
            goal_rows.append(
                (goal_id, org.pk, (closed if in_closed else active).pk, owner, category,
                 f"Goal {k + 1} of member {n}", weight, json.dumps(target), status,
                 "Needs a measurable target." if status == "rejected" else "",
                 reviewer if reviewed else None, now if reviewed else None, created[n], now)
            )  # fmt: skip
            if status == "approved":
                if in_closed or rng.random() < 0.9:
                    assessments.append((org.pk, goal_id, rng.randint(1, 5), "", "submitted", now))
                if in_closed or rng.random() < 0.8:
                    published = in_closed or rng.random() < 0.9
                    feedback.append(
                        (org.pk, goal_id, reviewer, rng.randint(1, 5), "",
                         "published" if published else "draft", now if published else None)
                    )  # fmt: skip
    _copy(
        "goals_goal",
        ["id", "org_id", "period_id", "owner_id", "category", "title", "weight", "target_data",
         "status", "review_comment", "reviewed_by_id", "reviewed_at", "created_at",
         "updated_at"],
        goal_rows,
    )  # fmt: skip
    progress(f"{slug}: {total_goals} goals")
    _copy(
        "evaluations_selfassessment",
        ["org_id", "goal_id", "rating", "comment", "status", "submitted_at", "created_at",
         "updated_at"],
        ((*row, now, now) for row in assessments),
    )  # fmt: skip
    _copy(
        "evaluations_supervisorfeedback",
        ["org_id", "goal_id", "author_id", "rating", "comment", "status", "published_at",
         "created_at", "updated_at"],
        ((*row, now, now) for row in feedback),
    )  # fmt: skip
    progress(f"{slug}: {len(assessments)} self-assessments, {len(feedback)} feedback")


def reference_seed(
    *, size: SeedSize, random_seed: int, slug: str = "bigcorp", progress: Progress
) -> None:
    """The whole reference data set, ANALYZE and the rollups (the dashboards' and the team
    page's), in one transaction."""
    rng = random.Random(random_seed)  # noqa: S311 - reproducible test data, not secrets
    password_hash = make_password(DEMO_PASSWORD)
    # The rollup triggers sit out the COPYs; the seeded orgs' rollups are one GROUP BY each at
    # the end, in the same transaction (dashboards.rollups).
    with transaction.atomic(), rollups_paused():
        seed_org(
            slug=slug,
            name="BigCorp",
            members=size.members,
            goals_per_member=size.goals_per_member,
            closed_goals_per_member=size.closed_goals_per_member,
            departments=size.departments,
            rng=rng,
            password_hash=password_hash,
            progress=progress,
        )
        for index in range(size.small_orgs):
            seed_org(
                slug=f"{slug}-small-{index + 1:03d}",
                name=f"Small org {index + 1}",
                members=size.small_org_members,
                goals_per_member=size.small_org_goals_per_member,
                closed_goals_per_member=0,
                departments=2,
                rng=rng,
                password_hash=password_hash,
                progress=lambda message: None,
            )
            if (index + 1) % 50 == 0 or index + 1 == size.small_orgs:
                progress(f"small orgs: {index + 1}/{size.small_orgs}")
        # ANALYZE first, inside the transaction (it counts the rows this transaction loaded):
        # on tables without statistics the rollups' GROUP BY was planned as nested loops over
        # sequential scans (over 5 s for 10,000 goals in a fresh test database).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        progress("ANALYZE done")
        seeded = list(
            Organization.objects.filter(slug__startswith=slug).values_list("id", flat=True)
        )
        rollups_rebuild(org_ids=seeded)
        progress(f"rollups of {len(seeded)} orgs")
