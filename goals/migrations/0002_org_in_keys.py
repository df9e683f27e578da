"""Keys Citus accepts for goals' tenant tables: PRIMARY KEY (org_id, id), composite foreign
keys (org_id, x_id) → (org_id, id). The approach and its reasons: orgs 0007's docstring and
core.tenant_keys. Runs after orgs 0007 (the membership key it references) and after
evaluations 0001 (whose foreign keys to goals_goal it replaces)."""

import django.db.models.deletion
from django.db import migrations, models

from core.tenant_keys import DropForeignKeysTo, SameOrgForeignKey, org_primary_key


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0001_initial"),
        ("orgs", "0007_org_in_keys"),
        ("evaluations", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="goal",
                    name="owner",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="goals",
                        to="orgs.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="goal",
                    name="period",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="goals",
                        to="goals.period",
                    ),
                ),
                migrations.AlterField(
                    model_name="goal",
                    name="reviewed_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="orgs.membership",
                    ),
                ),
            ],
        ),
        DropForeignKeysTo(
            [
                ("goals_goal", "period_id", "goals_period"),
                ("evaluations_selfassessment", "goal_id", "goals_goal"),
                ("evaluations_supervisorfeedback", "goal_id", "goals_goal"),
            ]
        ),
        org_primary_key("goals_period"),
        org_primary_key("goals_competency"),
        org_primary_key("goals_corevalue"),
        org_primary_key("goals_goal"),
        migrations.AddIndex(
            model_name="competency",
            index=models.Index(fields=["id"], name="goals_competency_id"),
        ),
        migrations.AddIndex(
            model_name="corevalue",
            index=models.Index(fields=["id"], name="goals_corevalue_id"),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(fields=["id"], name="goals_goal_id"),
        ),
        migrations.AddIndex(
            model_name="period",
            index=models.Index(fields=["id"], name="goals_period_id"),
        ),
        migrations.AddConstraint(
            model_name="goal",
            constraint=SameOrgForeignKey(field="period", name="goals_goal_period_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="goal",
            constraint=SameOrgForeignKey(field="owner", name="goals_goal_owner_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="goal",
            constraint=SameOrgForeignKey(field="reviewed_by", name="goals_goal_reviewed_by_org_fk"),
        ),
    ]
