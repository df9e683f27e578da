"""The trigger functions of 0002 again, as 0002 now writes them: owners and goals looked up by
key arrays (= ANY) rather than a semi-join on the transition table, which the planner ran as a
sequential scan of the memberships on bulk actions. A database migrated before the change gets
the new text here; on a new one this replaces the functions with the same text."""

import importlib

from django.db import migrations

v2 = importlib.import_module("dashboards.migrations.0002_rollup_triggers")
FUNCTIONS = "\n".join(
    [
        v2.MEMBER_FUNCTION,
        v2.GOAL_FUNCTION,
        v2.evaluation_function("dashboards_rollup_self_assessments", "self"),
        v2.evaluation_function("dashboards_rollup_feedback", "feedback"),
    ]
).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0002_rollup_triggers")]

    operations = [migrations.RunSQL(FUNCTIONS, migrations.RunSQL.noop)]
