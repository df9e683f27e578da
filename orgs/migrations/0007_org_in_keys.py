"""Keys Citus accepts (issue #17 item 3; DESIGN.md §2, §9): the tenant tables of orgs get
PRIMARY KEY (org_id, id), and their foreign keys to other tenant tables become
(org_id, x_id) → (org_id, id).

Why this shape (the django-multitenant approach) and not Django 5.2's `CompositePrimaryKey`:
a `CompositePrimaryKey` model cannot be the target of a ForeignKey in Django 5.2, the admin
cannot address its rows, and every `pk=` lookup and cache key would change with it. So Django
keeps `id` as the primary key of its model state, while the database has PRIMARY KEY
(org_id, id) plus a plain index on `id` (Meta `*_id` indexes: the admin's and Django's lookups
and joins by id alone). ForeignKeys between tenant models are `db_constraint=False` in Django,
and `core.tenant_keys.SameOrgForeignKey` constraints are the composite foreign keys,
DEFERRABLE INITIALLY DEFERRED and NO ACTION as Django creates its own (Django emulates
on_delete in Python). `makemigrations --check` stays clean: the field changes are state only
(their old constraints are dropped here, by introspection), the rest is ordinary operations.

Order across apps: a primary key cannot be swapped while single-column foreign keys reference
it, so this migration runs after every migration creating one that points at orgs tables
(goals, evaluations, jobs 0001) and drops them all (`DropForeignKeysTo`); goals 0002,
evaluations 0002 and jobs 0002 then declare their composite keys. Each reverse undoes its own
step: the composite keys go, the primary key is (id) again, Django's foreign keys come back.
Measured on the reference data set: README "Scale-out path".
"""

import django.db.models.deletion
from django.db import migrations, models

from core.tenant_keys import DropForeignKeysTo, SameOrgForeignKey, org_primary_key


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0006_auditevent_staff_actor"),
        # Their foreign keys to orgs_membership / orgs_department must exist to be replaced.
        ("goals", "0001_initial"),
        ("evaluations", "0001_initial"),
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="actor",
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
                    model_name="change",
                    name="actor",
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
                    model_name="change",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="orgs.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="membership",
                    name="department",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="members",
                        to="orgs.department",
                    ),
                ),
                migrations.AlterField(
                    model_name="membership",
                    name="supervisor",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="reports",
                        to="orgs.membership",
                    ),
                ),
            ],
        ),
        DropForeignKeysTo(
            [
                ("orgs_membership", "department_id", "orgs_department"),
                ("orgs_membership", "supervisor_id", "orgs_membership"),
                ("orgs_auditevent", "actor_id", "orgs_membership"),
                ("orgs_change", "actor_id", "orgs_membership"),
                ("orgs_change", "owner_id", "orgs_membership"),
                ("goals_goal", "owner_id", "orgs_membership"),
                ("goals_goal", "reviewed_by_id", "orgs_membership"),
                ("evaluations_supervisorfeedback", "author_id", "orgs_membership"),
                ("jobs_job", "created_by_id", "orgs_membership"),
                ("jobs_webhook", "created_by_id", "orgs_membership"),
            ]
        ),
        org_primary_key("orgs_department"),
        org_primary_key("orgs_membership"),
        org_primary_key("orgs_auditevent"),
        org_primary_key("orgs_change"),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["id"], name="orgs_auditevent_id"),
        ),
        migrations.AddIndex(
            model_name="change",
            index=models.Index(fields=["id"], name="orgs_change_id"),
        ),
        migrations.AddIndex(
            model_name="department",
            index=models.Index(fields=["id"], name="orgs_department_id"),
        ),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["id"], name="orgs_membership_id"),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=SameOrgForeignKey(field="actor", name="orgs_audit_actor_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="change",
            constraint=SameOrgForeignKey(field="actor", name="orgs_change_actor_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="change",
            constraint=SameOrgForeignKey(field="owner", name="orgs_change_owner_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=SameOrgForeignKey(field="department", name="orgs_member_department_org_fk"),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=SameOrgForeignKey(field="supervisor", name="orgs_member_supervisor_org_fk"),
        ),
    ]
