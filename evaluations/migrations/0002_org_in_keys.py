"""Keys Citus accepts for evaluations' tenant tables: PRIMARY KEY (org_id, id), composite
foreign keys (org_id, x_id) → (org_id, id). The approach and its reasons: orgs 0007's
docstring and core.tenant_keys. No foreign key points at these tables; their own to goals_goal
were dropped by goals 0002 and to orgs_membership by orgs 0007."""

import django.db.models.deletion
from django.db import migrations, models

from core.tenant_keys import SameOrgForeignKey, org_primary_key


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0001_initial"),
        ("goals", "0002_org_in_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="selfassessment",
                    name="goal",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="self_assessments",
                        to="goals.goal",
                    ),
                ),
                migrations.AlterField(
                    model_name="supervisorfeedback",
                    name="goal",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="feedback",
                        to="goals.goal",
                    ),
                ),
                migrations.AlterField(
                    model_name="supervisorfeedback",
                    name="author",
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
        org_primary_key("evaluations_selfassessment"),
        org_primary_key("evaluations_supervisorfeedback"),
        migrations.AddIndex(
            model_name="selfassessment",
            index=models.Index(fields=["id"], name="evals_selfassessment_id"),
        ),
        migrations.AddIndex(
            model_name="supervisorfeedback",
            index=models.Index(fields=["id"], name="evals_feedback_id"),
        ),
        migrations.AddConstraint(
            model_name="selfassessment",
            constraint=SameOrgForeignKey(field="goal", name="evals_selfassessment_goal_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="supervisorfeedback",
            constraint=SameOrgForeignKey(field="goal", name="evals_feedback_goal_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="supervisorfeedback",
            constraint=SameOrgForeignKey(field="author", name="evals_feedback_author_org_fk"),
        ),
    ]
