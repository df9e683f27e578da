"""The rollups recomputed from the base tables: `rollups --verify` compares, `--rebuild` rewrites,
the seed and migration 0002 build them in one INSERT … SELECT … GROUP BY. Three rollups: the
dashboards' two (dashboards.models) and the team page's (evaluations.models.OwnerGoalRollup,
whose own migration fills it from its trigger's SQL: evaluations sits below dashboards).

The recompute is written independently of the triggers that maintain the rollups (migrations
dashboards 0002, evaluations 0003): plain GROUP BYs with FILTER, the shape the dashboards and the
team page used to run on every cold read. So a verify compares two implementations, not one
with itself.

Each comparison is one statement, so one snapshot: the base rows and the rollups it reads were
committed together (the triggers write in the writing transaction), and a verify while writes
go on (after a load test, during one) reports only real differences.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

from dashboards.models import (
    GOAL_CATEGORIES,
    GOAL_COUNTS,
    GOAL_STATUSES,
    MEMBER_COUNTS,
    RATINGS,
    GoalRollup,
    MemberRollup,
)
from evaluations.models import OWNER_GOAL_COUNTS, OwnerGoalRollup
from orgs.models import Organization

GOAL_TABLE = GoalRollup._meta.db_table
MEMBER_TABLE = MemberRollup._meta.db_table
OWNER_GOAL_TABLE = OwnerGoalRollup._meta.db_table
GOAL_KEY = ("org_id", "period_id", "department_key")
MEMBER_KEY = ("org_id", "department_key")
OWNER_GOAL_KEY = ("org_id", "period_id", "owner_id")


def _goal_aggregates() -> dict[str, str]:
    aggregates = {"goals": "count(*)", "weight_sum": "sum(g.weight)"}
    for status in GOAL_STATUSES:
        aggregates[f"status_{status}"] = f"count(*) FILTER (WHERE g.status = '{status}')"
    for category in GOAL_CATEGORIES:
        aggregates[f"category_{category}"] = f"count(*) FILTER (WHERE g.category = '{category}')"
    aggregates["self_assessed"] = "count(*) FILTER (WHERE sa.status = 'submitted')"
    aggregates["feedback_published"] = "count(*) FILTER (WHERE fb.status = 'published')"
    for rating in RATINGS:
        aggregates[f"self_rating_{rating}"] = (
            f"count(*) FILTER (WHERE sa.status = 'submitted' AND sa.rating = {rating})"
        )
        aggregates[f"feedback_rating_{rating}"] = (
            f"count(*) FILTER (WHERE fb.status = 'published' AND fb.rating = {rating})"
        )
    return {name: aggregates[name] for name in GOAL_COUNTS}


def _member_aggregates() -> dict[str, str]:
    aggregates = {
        "members": "count(*)",
        "active_members": "count(*) FILTER (WHERE m.is_active)",
        **{
            f"active_{role}s": f"count(*) FILTER (WHERE m.is_active AND m.role = '{role}')"
            for role in ("admin", "manager", "employee")
        },
    }
    return {name: aggregates[name] for name in MEMBER_COUNTS}


def _owner_goal_aggregates() -> dict[str, str]:
    published = "fb.status = 'published'"
    aggregates = {
        "goals": "count(*)",
        **{
            f"status_{status}": f"count(*) FILTER (WHERE g.status = '{status}')"
            for status in GOAL_STATUSES
        },
        "self_assessed": "count(*) FILTER (WHERE sa.status = 'submitted')",
        "feedback_published": f"count(*) FILTER (WHERE {published})",
        "score_points": f"COALESCE(sum(g.weight * fb.rating) FILTER (WHERE {published}), 0)",
        "score_weight": f"COALESCE(sum(g.weight) FILTER (WHERE {published}), 0)",
    }
    return {name: aggregates[name] for name in OWNER_GOAL_COUNTS}


def _select(aggregates: dict[str, str]) -> str:
    return ", ".join(f"({sql})::bigint AS {name}" for name, sql in aggregates.items())


# `%(orgs)s`: an array of org ids, or NULL for every org.
GOAL_RECOMPUTE = f"""
SELECT g.org_id, g.period_id, COALESCE(m.department_id, 0) AS department_key,
       {_select(_goal_aggregates())}
FROM goals_goal g
JOIN orgs_membership m ON m.org_id = g.org_id AND m.id = g.owner_id
LEFT JOIN evaluations_selfassessment sa ON sa.org_id = g.org_id AND sa.goal_id = g.id
LEFT JOIN evaluations_supervisorfeedback fb ON fb.org_id = g.org_id AND fb.goal_id = g.id
WHERE %(orgs)s::bigint[] IS NULL OR g.org_id = ANY(%(orgs)s::bigint[])
GROUP BY 1, 2, 3
"""  # noqa: S608 - names from dashboards.models, no input
OWNER_GOAL_RECOMPUTE = f"""
SELECT g.org_id, g.period_id, g.owner_id, {_select(_owner_goal_aggregates())}
FROM goals_goal g
LEFT JOIN evaluations_selfassessment sa ON sa.org_id = g.org_id AND sa.goal_id = g.id
LEFT JOIN evaluations_supervisorfeedback fb ON fb.org_id = g.org_id AND fb.goal_id = g.id
WHERE %(orgs)s::bigint[] IS NULL OR g.org_id = ANY(%(orgs)s::bigint[])
GROUP BY 1, 2, 3
"""  # noqa: S608
MEMBER_RECOMPUTE = f"""
SELECT m.org_id, COALESCE(m.department_id, 0) AS department_key, {_select(_member_aggregates())}
FROM orgs_membership m
WHERE %(orgs)s::bigint[] IS NULL OR m.org_id = ANY(%(orgs)s::bigint[])
GROUP BY 1, 2
"""  # noqa: S608


def _diff_sql(*, table: str, key: Sequence[str], counts: Sequence[str], recompute: str) -> str:
    """Rows where the stored rollup and the recompute differ (a row of zeros = no row)."""
    keys = ", ".join(key)
    stored = ", ".join(f"COALESCE(s.{c}, 0)" for c in counts)
    actual = ", ".join(f"COALESCE(a.{c}, 0)" for c in counts)
    any_count = " OR ".join(f"{c} <> 0" for c in counts)
    return f"""
    WITH actual AS ({recompute}),
    stored AS (
        SELECT {keys}, {", ".join(counts)} FROM {table}
        WHERE (%(orgs)s::bigint[] IS NULL OR org_id = ANY(%(orgs)s::bigint[])) AND ({any_count})
    )
    SELECT {keys}, ARRAY[{stored}], ARRAY[{actual}]
    FROM stored s FULL JOIN actual a USING ({keys})
    WHERE ROW({stored}) IS DISTINCT FROM ROW({actual})
    ORDER BY {keys}
    """  # noqa: S608 - names from dashboards.models, no input


# (kind, table, key, counts, recompute) of each rollup, in the order a rebuild locks them: the
# order the triggers reach them (dashboards' before evaluations' on the same table and event).
ROLLUPS = (
    ("member", MEMBER_TABLE, MEMBER_KEY, MEMBER_COUNTS, MEMBER_RECOMPUTE),
    ("goal", GOAL_TABLE, GOAL_KEY, GOAL_COUNTS, GOAL_RECOMPUTE),
    ("owner goal", OWNER_GOAL_TABLE, OWNER_GOAL_KEY, OWNER_GOAL_COUNTS, OWNER_GOAL_RECOMPUTE),
)
DIFFS = {
    kind: _diff_sql(table=table, key=key, counts=counts, recompute=recompute)
    for kind, table, key, counts, recompute in ROLLUPS
}


def _describe(kind: str, key_names: Sequence[str], row: tuple, counts: Sequence[str]) -> str:
    key = ", ".join(f"{name}={value}" for name, value in zip(key_names, row, strict=False))
    stored, actual = row[len(key_names)], row[len(key_names) + 1]
    changed = [
        f"{name} stored {s} actual {a}"
        for name, s, a in zip(counts, stored, actual, strict=True)
        if s != a
    ]
    return f"{kind} rollup ({key}): " + "; ".join(changed)


def rollups_verify(
    *, org_ids: Sequence[int] | None = None, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """Each difference between the stored rollups of `org_ids` (None: every org) and their
    recompute from the base tables, one line each; empty when they agree."""
    params = {"orgs": list(org_ids) if org_ids is not None else None}
    differences = []
    with connections[using].cursor() as cursor:
        for kind, _table, key, counts, _recompute in ROLLUPS:
            cursor.execute(DIFFS[kind], params)
            differences += [_describe(kind, key, row, counts) for row in cursor.fetchall()]
    return differences


def rollups_rebuild(
    *,
    org_ids: Sequence[int] | None = None,
    using: str = DEFAULT_DB_ALIAS,
    kinds: Sequence[str] | None = None,
) -> None:
    """Rewrites the rollups of `org_ids` (None: every org) from the base tables: those of
    `kinds` (None: every one; a migration names its own). The tables are locked against the
    triggers' upserts first (SHARE ROW EXCLUSIVE): writers that have touched them commit
    before the recompute's snapshot, later ones wait and add their delta on top of it. Run it
    inside a transaction (the lock lasts until its end)."""
    params = {"orgs": list(org_ids) if org_ids is not None else None}
    where = "%(orgs)s::bigint[] IS NULL OR org_id = ANY(%(orgs)s::bigint[])"
    rollups = [rollup for rollup in ROLLUPS if kinds is None or rollup[0] in kinds]
    with connections[using].cursor() as cursor:
        tables = ", ".join(table for _kind, table, *_ in rollups)
        cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
        for _kind, table, key, counts, recompute in rollups:
            cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
            columns = ", ".join((*key, *counts))
            cursor.execute(f"INSERT INTO {table} ({columns}) {recompute}", params)  # noqa: S608


@contextmanager
def rollups_paused(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside a transaction: the rollup triggers skip the statements run in the block, for
    bulk loads that rebuild the rollups of what they wrote at their end (one GROUP BY instead
    of one per COPY). `SET LOCAL`: a rollback or the commit ends it whatever happens."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("rollups_paused needs a transaction: it lasts until its end")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('cadence.rollups_paused', 'on', true)")
    yield
    # Not in a `finally`: after an error the transaction is rolled back (a savepoint's rollback
    # restores the setting too), and a statement now would fail in the aborted transaction.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('cadence.rollups_paused', 'off', true)")


def org_id_of(*, slug: str) -> int | None:
    return Organization.objects.filter(slug=slug).values_list("id", flat=True).first()
