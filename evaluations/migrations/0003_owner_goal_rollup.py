"""The team page's rollup (evaluations.models.OwnerGoalRollup): its table, the triggers that keep
it exact, and its rows for the data that exists.

The pattern and its reasons are those of dashboards 0002 (its docstring): one statement-level
AFTER trigger per table and event, with its transition tables; each computes the rows'
contributions before (-1) and after (+1), sums them per key and applies the sums with INSERT …
ON CONFLICT DO UPDATE SET n = n + Δ (keys in order), in the writing transaction;
`cadence.rollups_paused = on` skips them (the seed rebuilds at its end). The key here is the
goal's own (org, period, owner), so no membership is read or locked.

What each table contributes:
- goals_goal → its row: goals, goals by status, and its self-assessment's and feedback's counts
  when they exist (a goal deleted before them takes them along; their own delete then finds no
  goal and contributes nothing). A change of status, weight, owner or period moves them.
- evaluations_selfassessment → self_assessed of its goal's row (while submitted).
- evaluations_supervisorfeedback → feedback_published, score_points (weight × rating) and
  score_weight (weight) of its goal's row (while published).
- orgs_organization (delete) → its rows go, last (the org foreign key has no cascade).

Races: an evaluation's contribution is keyed and weighted by its goal as the trigger reads it,
FOR SHARE (goals in key order): a concurrent change of that goal's owner, period or weight waits
for the evaluation's transaction, or the evaluation's trigger waits for it and reads the new
row; the goal's own trigger then sees the committed evaluations (READ COMMITTED: every
statement takes a new snapshot).

The rows of existing data are the goals' contributions as if each were inserted now, in one
INSERT … SELECT … GROUP BY (~1 s for 240,000 goals); `manage.py rollups --verify` compares them
with a recompute written apart from this file (dashboards.rollups).

The SQL is generated here, from names frozen in this file: a later change of the rollup is a
new migration that replaces these functions, never an edit of this one.
"""

# ruff: noqa: S608 - SQL generated from the fixed names of this file; no input reaches it
import django.db.models.deletion
from django.db import migrations, models

TABLE = "evaluations_ownergoalrollup"
KEY = ("org_id", "period_id", "owner_id")
STATUSES = ("draft", "submitted", "approved", "rejected")
COLUMNS = (
    "goals",
    *(f"status_{s}" for s in STATUSES),
    "self_assessed",
    "feedback_published",
    "score_points",
    "score_weight",
)


def _flag(condition: str) -> str:
    return f"COALESCE({condition}, false)::int"


def rollup_terms(
    *, goal: str = "", assessment: str = "", feedback: str = "", weight: str = ""
) -> str:
    """The COLUMNS of one row, from the aliases given (none: that part counts 0). `weight`
    weighs the feedback when no goal alias is given (an evaluation's own trigger)."""
    terms = {name: "0" for name in COLUMNS}
    if goal:
        terms["goals"] = "1"
        for s in STATUSES:
            terms[f"status_{s}"] = _flag(f"{goal}.status = '{s}'")
        weight = f"{goal}.weight"
    if assessment:
        terms["self_assessed"] = _flag(f"{assessment}.status = 'submitted'")
    if feedback:
        published = f"{feedback}.status = 'published'"
        terms["feedback_published"] = _flag(published)
        terms["score_points"] = (
            f"CASE WHEN {published} THEN {weight}::bigint * {feedback}.rating ELSE 0 END"
        )
        terms["score_weight"] = f"CASE WHEN {published} THEN {weight}::bigint ELSE 0 END"
    return ", ".join(f"{expression} AS {name}" for name, expression in terms.items())


def apply_deltas(*, rows: str, with_: str = "") -> str:
    """One statement adding the signed `rows` (sign, *KEY, *COLUMNS) into the rollup, per key."""
    keys = ", ".join(KEY)
    sums = ", ".join(f"SUM(sign * {c})::bigint AS {c}" for c in COLUMNS)
    nonzero = " OR ".join(f"SUM(sign * {c}) <> 0" for c in COLUMNS)
    increments = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in COLUMNS)
    return f"""
    {with_}
    INSERT INTO {TABLE} AS r ({keys}, {", ".join(COLUMNS)})
    SELECT {keys}, {sums} FROM ({rows}) AS delta
    GROUP BY {keys} HAVING {nonzero} ORDER BY {keys}
    ON CONFLICT ({keys}) DO UPDATE SET {increments};"""


def goal_contributions(sign: int, rows: str) -> str:
    return f"""
        SELECT {sign} AS sign, g.org_id, g.period_id, g.owner_id,
               {rollup_terms(goal="g", assessment="sa", feedback="fb")}
        FROM {rows} g
        LEFT JOIN evaluations_selfassessment sa ON sa.org_id = g.org_id AND sa.goal_id = g.id
        LEFT JOIN evaluations_supervisorfeedback fb
               ON fb.org_id = g.org_id AND fb.goal_id = g.id"""


# A goal's contribution changes with these columns only (a title edit costs one comparison).
GOAL_CHANGED = (
    "(o.org_id, o.period_id, o.owner_id, o.status, o.weight) IS DISTINCT FROM "
    "(n.org_id, n.period_id, n.owner_id, n.status, n.weight)"
)
GOAL_UPDATED = f"""WITH
        before AS MATERIALIZED (SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id
                                WHERE {GOAL_CHANGED}),
        after AS MATERIALIZED (SELECT n.* FROM old_rows o JOIN new_rows n ON n.id = o.id
                               WHERE {GOAL_CHANGED})"""
GOAL_FUNCTION = f"""
CREATE FUNCTION evaluations_owner_rollup_goals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('cadence.rollups_paused', true) = 'on' THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN {apply_deltas(rows=goal_contributions(1, "new_rows"))}
    ELSIF TG_OP = 'DELETE' THEN {apply_deltas(rows=goal_contributions(-1, "old_rows"))}
    ELSE {
    apply_deltas(
        with_=GOAL_UPDATED,
        rows=goal_contributions(-1, "before") + " UNION ALL " + goal_contributions(1, "after"),
    )
}
    END IF;
    RETURN NULL;
END $$;
"""


def evaluation_function(name: str, kind: str) -> str:
    """The trigger function of one evaluation table ("self" or "feedback"): its rows' goals are
    read FOR SHARE (in key order, looked up by key arrays as in dashboards 0003), then the
    deltas applied."""

    def locked(source: str) -> str:
        return f"""WITH
        goals AS MATERIALIZED (
            SELECT g.org_id, g.id, g.period_id, g.owner_id, g.weight FROM goals_goal g
            WHERE g.id = ANY (ARRAY(SELECT goal_id FROM {source}))
              AND g.org_id = ANY (ARRAY(SELECT org_id FROM {source}))
            ORDER BY g.org_id, g.id FOR SHARE OF g)"""

    def contributions(sign: int, rows: str) -> str:
        terms = (
            rollup_terms(assessment="e")
            if kind == "self"
            else rollup_terms(feedback="e", weight="g.weight")
        )
        return f"""
        SELECT {sign} AS sign, g.org_id, g.period_id, g.owner_id, {terms}
        FROM {rows} e
        JOIN goals g ON g.org_id = e.org_id AND g.id = e.goal_id"""

    # A self-assessment counts by its status alone; feedback by its status and rating.
    counted = "o.org_id, o.goal_id, o.status" + (", o.rating" if kind == "feedback" else "")
    changed = f"({counted}) IS DISTINCT FROM ({counted.replace('o.', 'n.')})"
    changed_ids = f"SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {changed}"
    changed_goals = (
        f"(SELECT org_id, goal_id FROM old_rows WHERE id IN ({changed_ids}) UNION "
        f"SELECT org_id, goal_id FROM new_rows WHERE id IN ({changed_ids})) AS changed"
    )
    insert = apply_deltas(with_=locked("new_rows"), rows=contributions(1, "new_rows"))
    delete = apply_deltas(with_=locked("old_rows"), rows=contributions(-1, "old_rows"))
    update = apply_deltas(
        with_=locked(changed_goals),
        rows=(
            f"{contributions(-1, 'old_rows')} WHERE e.id IN ({changed_ids}) "
            f"UNION ALL {contributions(1, 'new_rows')} WHERE e.id IN ({changed_ids})"
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


ORG_FUNCTION = f"""
CREATE FUNCTION evaluations_owner_rollup_orgs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {TABLE} WHERE org_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
"""

FUNCTIONS = {
    "goals_goal": "evaluations_owner_rollup_goals",
    "evaluations_selfassessment": "evaluations_owner_rollup_self_assessments",
    "evaluations_supervisorfeedback": "evaluations_owner_rollup_feedback",
}
TRANSITIONS = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}


def _triggers() -> str:
    statements = [
        f"CREATE TRIGGER evaluations_owner_rollup_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
        for table, function in FUNCTIONS.items()
        for event, transition in TRANSITIONS.items()
    ]
    statements.append(
        "CREATE TRIGGER evaluations_owner_rollup_delete AFTER DELETE ON orgs_organization "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION evaluations_owner_rollup_orgs_deleted();"
    )
    return "\n".join(statements)


INSTALL = "\n".join(
    [
        GOAL_FUNCTION,
        evaluation_function(FUNCTIONS["evaluations_selfassessment"], "self"),
        evaluation_function(FUNCTIONS["evaluations_supervisorfeedback"], "feedback"),
        ORG_FUNCTION,
        _triggers(),
    ]
)
UNINSTALL = "\n".join(
    [
        *(
            f"DROP TRIGGER IF EXISTS evaluations_owner_rollup_{event.lower()} ON {table};"
            for table in FUNCTIONS
            for event in TRANSITIONS
        ),
        "DROP TRIGGER IF EXISTS evaluations_owner_rollup_delete ON orgs_organization;",
        *(f"DROP FUNCTION IF EXISTS {function}();" for function in FUNCTIONS.values()),
        "DROP FUNCTION IF EXISTS evaluations_owner_rollup_orgs_deleted();",
    ]
)
# Existing goals, as if each were inserted now; then statistics for the team page's lookups.
FILL = apply_deltas(rows=goal_contributions(1, "goals_goal")) + f"\nANALYZE {TABLE};"


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0002_org_in_keys"),
        ("orgs", "0009_member_team_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="OwnerGoalRollup",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "org_id",
                        "period_id",
                        "owner_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("period_id", models.BigIntegerField()),
                (
                    "owner_id",
                    models.BigIntegerField(help_text="the goals' owner (a membership id)"),
                ),
                ("goals", models.BigIntegerField(default=0)),
                ("status_draft", models.BigIntegerField(default=0)),
                ("status_submitted", models.BigIntegerField(default=0)),
                ("status_approved", models.BigIntegerField(default=0)),
                ("status_rejected", models.BigIntegerField(default=0)),
                (
                    "self_assessed",
                    models.BigIntegerField(default=0, help_text="submitted self-assessments"),
                ),
                ("feedback_published", models.BigIntegerField(default=0)),
                (
                    "score_points",
                    models.BigIntegerField(
                        default=0, help_text="Σ weight × rating over goals with published feedback"
                    ),
                ),
                (
                    "score_weight",
                    models.BigIntegerField(
                        default=0, help_text="Σ weight over goals with published feedback"
                    ),
                ),
                (
                    "org",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="orgs.organization",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(INSTALL, UNINSTALL),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
