"""Keys Citus accepts for jobs' tenant tables (Job, Webhook, Delivery; procrastinate's own
tables are not tenant tables): PRIMARY KEY (org_id, id), composite foreign keys
(org_id, x_id) → (org_id, id). The approach and its reasons: orgs 0007's docstring and
core.tenant_keys. Their foreign keys to orgs_membership were dropped by orgs 0007."""

import django.db.models.deletion
from django.db import migrations, models

from core.tenant_keys import DropForeignKeysTo, SameOrgForeignKey, org_primary_key


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        ("orgs", "0007_org_in_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="job",
                    name="created_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="orgs.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="webhook",
                    name="created_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="orgs.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="webhook",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="jobs.webhook",
                    ),
                ),
            ],
        ),
        DropForeignKeysTo([("jobs_delivery", "webhook_id", "jobs_webhook")]),
        org_primary_key("jobs_job"),
        org_primary_key("jobs_webhook"),
        org_primary_key("jobs_delivery"),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["id"], name="jobs_job_id"),
        ),
        migrations.AddIndex(
            model_name="webhook",
            index=models.Index(fields=["id"], name="jobs_webhook_id"),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["id"], name="jobs_delivery_id"),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=SameOrgForeignKey(field="created_by", name="jobs_job_created_by_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="webhook",
            constraint=SameOrgForeignKey(field="created_by", name="jobs_webhook_created_by_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="delivery",
            constraint=SameOrgForeignKey(field="webhook", name="jobs_delivery_webhook_org_fk"),
        ),
    ]
