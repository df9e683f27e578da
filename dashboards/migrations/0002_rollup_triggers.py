"""The triggers that keep the rollups exact (dashboards.models), and the rollups of existing data.

One statement-level AFTER trigger per table and event, with its transition tables (the rows the
statement inserted, or the rows before and after it updated or deleted them): each computes the
rows' contributions to the rollups, before (-1) and after (+1), sums them per rollup key and
applies the sums with INSERT … ON CONFLICT DO UPDATE SET n = n + Δ, in the writing
transaction. Increments commute, so concurrent writers need no lock on the rollup beyond the
row lock of the upsert itself, and a rolled-back write takes its delta with it.

What each table contributes:
- orgs_membership → MemberRollup of (org, department); when a member's department changes, the
  goals they own (with their evaluations) move between GoalRollup rows of every period.
- goals_goal → GoalRollup of (org, period, owner's department): the goal's counts, and those of
  its self-assessment and feedback when they exist (a goal deleted before them takes them along;
  their own delete then finds no goal and contributes nothing).
- evaluations_selfassessment / _supervisorfeedback → the self / feedback columns of their
  goal's GoalRollup row.
- orgs_organization (delete) → its rollup rows go, last (the org foreign key has no cascade).

Races: a contribution is keyed by the owner's department as the trigger reads it. The goal and
evaluation triggers read the owner (and the goal) FOR SHARE, so a concurrent department change
of that member waits for them, or they wait for it and read the new department; the department
change's own trigger then sees their committed rows (READ COMMITTED: every statement takes a
new snapshot). Locks are taken in key order.

`SET LOCAL cadence.rollups_paused = on` skips the triggers for the rest of a transaction that
rebuilds the rollups of what it wrote at its end (the seed: dashboards.rollups.rollups_paused).

The SQL is generated here, from names frozen in this file: a later change of the rollups is a
new migration that replaces these functions, never an edit of this one.
"""

# ruff: noqa: S608 - SQL generated from the fixed names of this file; no input reaches it
from django.db import migrations

STATUSES = ("draft", "submitted", "approved", "rejected")
CATEGORIES = ("performance", "competency", "core_value")
RATINGS = range(1, 11)
MEMBER_COLUMNS = ("members", "active_members", "active_admins", "active_managers",
                  "active_employees")  # fmt: skip
GOAL_COLUMNS = (
    "goals",
    "weight_sum",
    *(f"status_{s}" for s in STATUSES),
    *(f"category_{c}" for c in CATEGORIES),
    "self_assessed",
    "feedback_published",
    *(f"self_rating_{r}" for r in RATINGS),
    *(f"feedback_rating_{r}" for r in RATINGS),
)
MEMBER_KEY = ("org_id", "department_key")
GOAL_KEY = ("org_id", "period_id", "department_key")


def _flag(condition: str) -> str:
    return f"COALESCE({condition}, false)::int"


def goal_terms(goal: str | None, assessment: str | None, feedback: str | None) -> str:
    """The GOAL_COLUMNS of one row, from the aliases given (None: that part counts 0)."""
    terms = {name: "0" for name in GOAL_COLUMNS}
    if goal:
        terms["goals"] = "1"
        terms["weight_sum"] = f"{goal}.weight::bigint"
        for s in STATUSES:
            terms[f"status_{s}"] = _flag(f"{goal}.status = '{s}'")
        for c in CATEGORIES:
            terms[f"category_{c}"] = _flag(f"{goal}.category = '{c}'")
    if assessment:
        submitted = f"{assessment}.status = 'submitted'"
        terms["self_assessed"] = _flag(submitted)
        for r in RATINGS:
            terms[f"self_rating_{r}"] = _flag(f"{submitted} AND {assessment}.rating = {r}")
    if feedback:
        published = f"{feedback}.status = 'published'"
        terms["feedback_published"] = _flag(published)
        for r in RATINGS:
            terms[f"feedback_rating_{r}"] = _flag(f"{published} AND {feedback}.rating = {r}")
    return ", ".join(f"{expression} AS {name}" for name, expression in terms.items())


def member_terms(member: str) -> str:
    active = f"{member}.is_active"
    return ", ".join(
        [
            "1 AS members",
            f"{active}::int AS active_members",
            *(
                f"({active} AND {member}.role = '{role}')::int AS active_{role}s"
                for role in ("admin", "manager", "employee")
            ),
        ]
    )


def apply_deltas(*, table: str, key: tuple[str, ...], columns: tuple[str, ...], rows: str,
                 with_: str = "") -> str:  # fmt: skip
    """One statement adding the signed `rows` (sign, *key, *columns) into `table`, per key."""
    keys = ", ".join(key)
    sums = ", ".join(f"SUM(sign * {c})::bigint AS {c}" for c in columns)
    nonzero = " OR ".join(f"SUM(sign * {c}) <> 0" for c in columns)
    increments = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in columns)
    return f"""
    {with_}
    INSERT INTO {table} AS r ({keys}, {", ".join(columns)})
    SELECT {keys}, {sums} FROM ({rows}) AS delta
    GROUP BY {keys} HAVING {nonzero} ORDER BY {keys}
    ON CONFLICT ({keys}) DO UPDATE SET {increments};"""


GOAL_ROLLUP = {"table": "dashboards_goalrollup", "key": GOAL_KEY, "columns": GOAL_COLUMNS}
MEMBER_ROLLUP = {"table": "dashboards_memberrollup", "key": MEMBER_KEY, "columns": MEMBER_COLUMNS}

# Owners of the goals in `source` (a relation with org_id, owner_id), locked in key order. The
# keys as arrays (= ANY): a transition table has no statistics, and with a semi-join the planner
# chose a sequential scan of the memberships for a 100-goal bulk action (7 of its 9 ms).
OWNERS = """owners AS MATERIALIZED (
        SELECT m.org_id, m.id, m.department_id FROM orgs_membership m
        WHERE m.id = ANY (ARRAY(SELECT owner_id FROM {source}))
          AND m.org_id = ANY (ARRAY(SELECT org_id FROM {source}))
        ORDER BY m.org_id, m.id FOR SHARE OF m)"""


def goal_contributions(sign: int, rows: str) -> str:
    return f"""
        SELECT {sign} AS sign, g.org_id, g.period_id, COALESCE(m.department_id, 0)
               AS department_key, {goal_terms("g", "sa", "fb")}
        FROM {rows} g
        JOIN owners m ON m.org_id = g.org_id AND m.id = g.owner_id
        LEFT JOIN evaluations_selfassessment sa ON sa.org_id = g.org_id AND sa.goal_id = g.id
        LEFT JOIN evaluations_supervisorfeedback fb
               ON fb.org_id = g.org_id AND fb.goal_id = g.id"""


# A goal's counts change with these columns only (a title edit costs one empty comparison).
GOAL_CHANGED = "(o.org_id, o.period_id, o.owner_id, o.status, o.category, o.weight) IS DISTINCT FROM (n.org_id, n.period_id, n.owner_id, n.status, n.category, n.weight)"

GOAL_UPDATED = f"""WITH
        before AS MATERIALIZED (SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id
                                WHERE {GOAL_CHANGED}),
        after AS MATERIALIZED (SELECT n.* FROM old_rows o JOIN new_rows n ON n.id = o.id
                               WHERE {GOAL_CHANGED}),
        {
    OWNERS.format(
        source="(SELECT org_id, owner_id FROM before UNION "
        "SELECT org_id, owner_id FROM after) AS changed"
    )
}"""
GOAL_INSERT = apply_deltas(
    **GOAL_ROLLUP,
    with_="WITH " + OWNERS.format(source="new_rows"),
    rows=goal_contributions(1, "new_rows"),
)
GOAL_DELETE = apply_deltas(
    **GOAL_ROLLUP,
    with_="WITH " + OWNERS.format(source="old_rows"),
    rows=goal_contributions(-1, "old_rows"),
)
GOAL_UPDATE = apply_deltas(
    **GOAL_ROLLUP,
    with_=GOAL_UPDATED,
    rows=goal_contributions(-1, "before") + " UNION ALL " + goal_contributions(1, "after"),
)
GOAL_FUNCTION = f"""
CREATE FUNCTION dashboards_rollup_goals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('cadence.rollups_paused', true) = 'on' THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN {GOAL_INSERT}
    ELSIF TG_OP = 'DELETE' THEN {GOAL_DELETE}
    ELSE {GOAL_UPDATE}
    END IF;
    RETURN NULL;
END $$;
"""


def evaluation_contributions(sign: int, rows: str, kind: str) -> str:
    terms = goal_terms(None, "e", None) if kind == "self" else goal_terms(None, None, "e")
    return f"""
        SELECT {sign} AS sign, g.org_id, g.period_id, g.department_key, {terms}
        FROM {rows} e
        JOIN goals g ON g.org_id = e.org_id AND g.id = e.goal_id"""


def evaluation_function(name: str, kind: str) -> str:
    """The trigger function of one evaluation table: its rows' goals and their owners are read
    FOR SHARE (in key order), then the deltas applied."""

    def locked(source: str) -> str:
        # `goals` carries the owner's department, so the contributions join one relation.
        return f"""WITH
        locked_goals AS MATERIALIZED (
            SELECT g.org_id, g.id, g.period_id, g.owner_id FROM goals_goal g
            WHERE g.id = ANY (ARRAY(SELECT goal_id FROM {source}))
              AND g.org_id = ANY (ARRAY(SELECT org_id FROM {source}))
            ORDER BY g.org_id, g.id FOR SHARE OF g),
        {OWNERS.format(source="locked_goals")},
        goals AS MATERIALIZED (
            SELECT lg.org_id, lg.id, lg.period_id, COALESCE(m.department_id, 0) AS department_key
            FROM locked_goals lg JOIN owners m ON m.org_id = lg.org_id AND m.id = lg.owner_id)"""

    changed = (
        "(o.org_id, o.goal_id, o.status, o.rating) IS DISTINCT FROM "
        "(n.org_id, n.goal_id, n.status, n.rating)"
    )
    changed_ids = f"SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {changed}"
    changed_goals = (
        f"(SELECT org_id, goal_id FROM old_rows WHERE id IN ({changed_ids}) UNION "
        f"SELECT org_id, goal_id FROM new_rows WHERE id IN ({changed_ids})) AS changed"
    )
    insert = apply_deltas(
        **GOAL_ROLLUP, with_=locked("new_rows"), rows=evaluation_contributions(1, "new_rows", kind)
    )
    delete = apply_deltas(
        **GOAL_ROLLUP, with_=locked("old_rows"), rows=evaluation_contributions(-1, "old_rows", kind)
    )
    update = apply_deltas(
        **GOAL_ROLLUP,
        with_=locked(changed_goals),
        rows=(
            f"{evaluation_contributions(-1, 'old_rows', kind)} WHERE e.id IN ({changed_ids}) "
            f"UNION ALL {evaluation_contributions(1, 'new_rows', kind)} "
            f"WHERE e.id IN ({changed_ids})"
        ),
    )
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('cadence.rollups_paused', true) = 'on' THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN {insert}
    ELSIF TG_OP = 'DELETE' THEN {delete}
    ELSE {update}
    END IF;
    RETURN NULL;
END $$;
"""


def member_contributions(sign: int, rows: str) -> str:
    return f"""
        SELECT {sign} AS sign, m.org_id, COALESCE(m.department_id, 0) AS department_key,
               {member_terms("m")}
        FROM {rows} m"""


MEMBER_CHANGED = "(o.org_id, o.department_id, o.role, o.is_active) IS DISTINCT FROM (n.org_id, n.department_id, n.role, n.is_active)"

# A member who changes department takes their goals (and evaluations) along, in every period.
MOVED_GOALS = f"""
        SELECT s.sign, g.org_id, g.period_id,
               COALESCE(CASE WHEN s.sign < 0 THEN mv.old_department ELSE mv.new_department END, 0)
               AS department_key, {goal_terms("g", "sa", "fb")}
        FROM moved mv
        CROSS JOIN (VALUES (-1), (1)) AS s (sign)
        JOIN goals_goal g ON g.org_id = mv.org_id AND g.owner_id = mv.id
        LEFT JOIN evaluations_selfassessment sa ON sa.org_id = g.org_id AND sa.goal_id = g.id
        LEFT JOIN evaluations_supervisorfeedback fb
               ON fb.org_id = g.org_id AND fb.goal_id = g.id"""

MEMBERS_CHANGED = f"""WITH changed AS MATERIALIZED (
            SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {MEMBER_CHANGED})"""
MOVED = """WITH moved AS MATERIALIZED (
            SELECT n.org_id, n.id, o.department_id AS old_department,
                   n.department_id AS new_department
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.department_id IS DISTINCT FROM n.department_id)"""
MEMBER_INSERT = apply_deltas(**MEMBER_ROLLUP, rows=member_contributions(1, "new_rows"))
MEMBER_DELETE = apply_deltas(**MEMBER_ROLLUP, rows=member_contributions(-1, "old_rows"))
MEMBER_UPDATE = apply_deltas(
    **MEMBER_ROLLUP,
    with_=MEMBERS_CHANGED,
    rows=(
        member_contributions(-1, "old_rows")
        + " WHERE m.id IN (SELECT id FROM changed) UNION ALL "
        + member_contributions(1, "new_rows")
        + " WHERE m.id IN (SELECT id FROM changed)"
    ),
) + apply_deltas(**GOAL_ROLLUP, with_=MOVED, rows=MOVED_GOALS)
MEMBER_FUNCTION = f"""
CREATE FUNCTION dashboards_rollup_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('cadence.rollups_paused', true) = 'on' THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN {MEMBER_INSERT}
    ELSIF TG_OP = 'DELETE' THEN {MEMBER_DELETE}
    ELSE {MEMBER_UPDATE}
    END IF;
    RETURN NULL;
END $$;
"""

ORG_FUNCTION = """
CREATE FUNCTION dashboards_rollup_orgs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dashboards_goalrollup WHERE org_id IN (SELECT id FROM old_rows);
    DELETE FROM dashboards_memberrollup WHERE org_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
"""

TABLES = {
    "orgs_membership": "dashboards_rollup_members",
    "goals_goal": "dashboards_rollup_goals",
    "evaluations_selfassessment": "dashboards_rollup_self_assessments",
    "evaluations_supervisorfeedback": "dashboards_rollup_feedback",
}
TRANSITIONS = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}


def _triggers() -> str:
    statements = [
        f"CREATE TRIGGER dashboards_rollup_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
        for table, function in TABLES.items()
        for event, transition in TRANSITIONS.items()
    ]
    statements.append(
        "CREATE TRIGGER dashboards_rollup_delete AFTER DELETE ON orgs_organization "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION dashboards_rollup_orgs_deleted();"
    )
    return "\n".join(statements)


INSTALL = "\n".join(
    [
        MEMBER_FUNCTION,
        GOAL_FUNCTION,
        evaluation_function("dashboards_rollup_self_assessments", "self"),
        evaluation_function("dashboards_rollup_feedback", "feedback"),
        ORG_FUNCTION,
        _triggers(),
    ]
)
UNINSTALL = "\n".join(
    [
        *(
            f"DROP TRIGGER IF EXISTS dashboards_rollup_{event.lower()} ON {table};"
            for table in (*TABLES, "orgs_organization")
            for event in TRANSITIONS
        ),
        *(f"DROP FUNCTION IF EXISTS {function}();" for function in TABLES.values()),
        "DROP FUNCTION IF EXISTS dashboards_rollup_orgs_deleted();",
    ]
)


def build_existing(apps, schema_editor):
    # The one recompute that `rollups --rebuild` and `--verify` use (dashboards.rollups), of
    # this migration's tables: a later rollup's table may not exist yet (its migration fills it).
    from dashboards.rollups import rollups_rebuild

    rollups_rebuild(using=schema_editor.connection.alias, kinds=("member", "goal"))


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0001_initial"),
        ("goals", "0001_initial"),
        ("evaluations", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(INSTALL, UNINSTALL),
        migrations.RunPython(build_existing, migrations.RunPython.noop),
    ]
