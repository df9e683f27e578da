"""Keys Citus accepts (DESIGN.md §2, §9; README "Scale-out path"), checked on the live schema.

`create_distributed_table(t, 'org_id')` refuses a table whose primary key or any unique index
lacks the distribution column, and a foreign key between distributed tables must carry it on
both sides. These are those preconditions, read from pg_catalog of the migrated test database
(so a migration, raw SQL or a model alike is held to them), without a Citus server:

- a tenant table is any table with an `org_id` column; the org table (`orgs_organization`) is
  distributed by its own `id`, so a foreign key to it must be `org_id` → `id`;
- every tenant table has a primary key, and it and every unique index include `org_id`;
- every foreign key from a tenant table to another includes `org_id` on both sides, paired;
- a table outside the tenancy (Citus: a reference or local table) references no tenant table,
  and what a tenant table references outside the tenancy is a reference table in the README.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.test.utils import isolate_apps

from core.tenant_keys import SameOrgForeignKey
from orgs.models import Membership, Organization

ORG_TABLE = "orgs_organization"
ORG_COLUMN = "org_id"
README = Path(settings.BASE_DIR) / "README.md"

_TENANT_TABLES = """
SELECT c.relname
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = %s AND NOT a.attisdropped
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY 1
"""
# Key columns only (an index's INCLUDE columns are no part of its uniqueness).
_UNIQUE_INDEXES = """
SELECT t.relname, x.relname, i.indisprimary,
       ARRAY(SELECT a.attname
             FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(num, pos)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
             ORDER BY k.pos)
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_class x ON x.oid = i.indexrelid
WHERE i.indisunique AND t.relnamespace = current_schema()::regnamespace
ORDER BY 1, 2
"""
_PRIMARY_KEYS = """
SELECT conrelid::regclass::text FROM pg_constraint
WHERE contype = 'p' AND connamespace = current_schema()::regnamespace
"""
_FOREIGN_KEYS = """
SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num
             ORDER BY k.pos),
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num
             ORDER BY k.pos)
FROM pg_constraint c
WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
ORDER BY 2, 1
"""


def tenant_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(_TENANT_TABLES, [ORG_COLUMN])
        return {name for (name,) in cursor.fetchall()} - {ORG_TABLE}


def citus_key_violations(*, reference_tables: set[str]) -> list[str]:
    """Every precondition of `create_distributed_table` the live schema breaks, one line each."""
    tenants = tenant_tables()
    with connection.cursor() as cursor:
        cursor.execute(_PRIMARY_KEYS)
        with_primary_key = {name for (name,) in cursor.fetchall()}
        cursor.execute(_UNIQUE_INDEXES)
        unique_indexes = cursor.fetchall()
        cursor.execute(_FOREIGN_KEYS)
        foreign_keys = cursor.fetchall()

    problems = [f"{table}: no primary key" for table in sorted(tenants - with_primary_key)]
    for table, index, is_primary, columns in unique_indexes:
        if table in tenants and ORG_COLUMN not in columns:
            kind = "primary key" if is_primary else "unique index"
            problems.append(f"{table}: {kind} {index} {columns} lacks {ORG_COLUMN}")
    for name, table, target, columns, target_columns in foreign_keys:
        pairs = list(zip(columns, target_columns, strict=True))
        if table in tenants and target in tenants:
            if (ORG_COLUMN, ORG_COLUMN) not in pairs:
                problems.append(
                    f"{table}: foreign key {name} {columns} → {target} {target_columns} "
                    f"does not pair {ORG_COLUMN} with {ORG_COLUMN}"
                )
        elif table in tenants and target == ORG_TABLE:
            if pairs != [(ORG_COLUMN, "id")]:
                problems.append(
                    f"{table}: foreign key {name} {columns} → {target} must be {ORG_COLUMN} → id"
                )
        elif table in tenants:
            if target not in reference_tables:
                problems.append(
                    f"{table}: foreign key {name} → {target}, which is neither a tenant table "
                    "nor a reference table"
                )
        elif target in tenants or target == ORG_TABLE:
            problems.append(
                f"{table}: foreign key {name} → {target}: a table outside the tenancy "
                "references a distributed one"
            )
    return problems


def readme_citus_step() -> dict[str, set[str]]:
    """The tables the README's Citus step distributes by org_id, by id, and makes reference."""
    text = README.read_text()
    return {
        "org_id": set(re.findall(r"create_distributed_table\('(\w+)', 'org_id'", text)),
        "id": set(re.findall(r"create_distributed_table\('(\w+)', 'id'", text)),
        "reference": set(re.findall(r"create_reference_table\('(\w+)'\)", text)),
    }


@pytest.mark.django_db
def test_the_schema_has_the_tenant_tables_to_check():
    assert {"orgs_membership", "goals_goal", "evaluations_supervisorfeedback", "jobs_delivery"} <= (
        tenant_tables()
    )


@pytest.mark.django_db
def test_every_tenant_table_has_keys_citus_accepts():
    problems = citus_key_violations(reference_tables=readme_citus_step()["reference"])
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_the_readme_distributes_every_tenant_table():
    step = readme_citus_step()

    assert step["id"] == {ORG_TABLE}
    missing = tenant_tables() - step["org_id"]
    assert not missing, f"README's Citus step lacks create_distributed_table for {sorted(missing)}"
    assert step["org_id"] <= tenant_tables(), "README distributes a table that is not a tenant"


@pytest.mark.django_db
def test_the_checker_names_every_precondition_a_table_breaks():
    # Throwaway tables in the test's transaction (rolled back with it), each breaking one rule.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TABLE probe_parent (id bigint PRIMARY KEY, org_id bigint NOT NULL);
            CREATE TABLE probe_child (
                id bigint NOT NULL,
                org_id bigint NOT NULL REFERENCES orgs_organization (id),
                other_org_id bigint REFERENCES orgs_organization (id),
                parent_id bigint REFERENCES probe_parent (id),
                code text UNIQUE,
                PRIMARY KEY (org_id, id)
            );
            CREATE TABLE probe_outside (id bigint PRIMARY KEY,
                                        parent_id bigint REFERENCES probe_parent (id));
            CREATE TABLE probe_loose (org_id bigint NOT NULL);
            """
        )

    problems = [
        line for line in citus_key_violations(reference_tables=set()) if line.startswith("probe_")
    ]

    assert problems == [
        "probe_loose: no primary key",
        "probe_child: unique index probe_child_code_key ['code'] lacks org_id",
        "probe_parent: primary key probe_parent_pkey ['id'] lacks org_id",
        "probe_child: foreign key probe_child_other_org_id_fkey ['other_org_id'] → "
        "orgs_organization must be org_id → id",
        "probe_child: foreign key probe_child_parent_id_fkey ['parent_id'] → probe_parent ['id'] "
        "does not pair org_id with org_id",
        "probe_outside: foreign key probe_outside_parent_id_fkey → probe_parent: a table outside "
        "the tenancy references a distributed one",
    ]


def _checked_now() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred keys checked here, not at commit


@pytest.mark.django_db
def test_the_database_refuses_a_reference_into_another_org(employee, manager, outsider):
    """The composite keys are enforced (deferred, as Django's own): a supervisor in the org
    passes, one from another org fails, whatever the services would have said."""
    with transaction.atomic():
        Membership.objects.filter(pk=employee.pk).update(supervisor=manager)
        _checked_now()

    with pytest.raises(IntegrityError, match="orgs_member_supervisor_org_fk"):
        with transaction.atomic():
            Membership.objects.filter(pk=employee.pk).update(supervisor=outsider)
            _checked_now()


def _foreign_key_definitions(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = %s::regclass",
            [table],
        )
        return dict(cursor.fetchall())


@pytest.mark.django_db
@isolate_apps("config")
def test_a_new_tenant_model_gets_its_composite_key_from_its_meta():
    """What a future CreateModel does with a SameOrgForeignKey: the key is added when the schema
    editor closes (the target's (org_id, id) may be created later in the migration), and is
    removed by name."""

    class Pointer(models.Model):  # noqa: DJ008 - throwaway
        org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
        member = models.ForeignKey(
            Membership, on_delete=models.CASCADE, related_name="+", db_constraint=False
        )

        class Meta:
            app_label = "config"
            constraints = [SameOrgForeignKey(field="member", name="pointer_member_org_fk")]

    with connection.schema_editor() as editor:
        editor.create_model(Pointer)
    keys = _foreign_key_definitions(Pointer._meta.db_table)

    assert keys["pointer_member_org_fk"] == (
        "FOREIGN KEY (org_id, member_id) REFERENCES orgs_membership(org_id, id) "
        "DEFERRABLE INITIALLY DEFERRED"
    )
    with connection.schema_editor() as editor:
        editor.remove_constraint(Pointer, Pointer._meta.constraints[0])
    assert "pointer_member_org_fk" not in _foreign_key_definitions(Pointer._meta.db_table)
