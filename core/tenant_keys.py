"""Keys Citus accepts (DESIGN.md §2, §9): a tenant table's primary key is (org_id, id), and a
foreign key between tenant tables is (org_id, x_id) → (org_id, id), so each table can be
distributed by `org_id` (`create_distributed_table` wants the distribution column in every
primary key and unique index, and in every foreign key between distributed tables).

Design decisions (the django-multitenant approach, not Django 5.2's `CompositePrimaryKey`):
- Django's model state keeps `id` as the primary key. A `CompositePrimaryKey` model cannot be
  the target of a ForeignKey in Django 5.2, the admin cannot address its rows (one URL segment
  per object), and every `pk=` in services, selectors and caches would change. The database
  alone has PRIMARY KEY (org_id, id) (`org_primary_key`, a migration operation), plus a plain,
  non-unique index on `id` (declared in the model's Meta) for what looks rows up by id alone:
  the admin, Django's joins on `x_id = id`, the ORM's own `pk=` updates.
- A ForeignKey between tenant models is declared `db_constraint=False` (Django still indexes
  the column and emulates on_delete in Python, as before), and the constraint that PostgreSQL
  enforces is `SameOrgForeignKey` in the model's Meta: the composite key, DEFERRABLE INITIALLY
  DEFERRED as Django creates its own (a row and its referent may be written in either order
  inside one transaction), NO ACTION on delete (Django's collector has already cascaded or
  nulled the referencing rows). MATCH SIMPLE: a null `x_id` is not checked, so a nullable
  reference stays optional. The database now also refuses a reference into another org,
  which services already refuse (CROSS_ORG).
- Swapping a primary key needs the single-column foreign keys that point at it dropped first;
  the migration of the referenced table drops them (`DropForeignKeysTo`), whichever app they
  belong to, and its reverse recreates them as Django names them. The referencing app's own
  migration then declares its `SameOrgForeignKey` (it depends on the referenced app's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations
from django.db.backends.ddl_references import Statement, Table
from django.db.models import BaseConstraint

ORG_COLUMN = "org_id"


class SameOrgForeignKey(BaseConstraint):
    """FOREIGN KEY (org_id, <field>_id) REFERENCES <target> (org_id, id) for a ForeignKey
    `field` of a tenant model declared with `db_constraint=False`."""

    def __init__(self, *, field: str, name: str) -> None:
        super().__init__(name=name)
        self.field = field

    def _definition(self, model: Any, schema_editor: Any) -> str:
        field = model._meta.get_field(self.field)
        target = field.related_model._meta
        quote = schema_editor.quote_name
        columns = ", ".join(map(quote, (ORG_COLUMN, field.column)))
        target_columns = ", ".join(map(quote, (ORG_COLUMN, target.pk.column)))
        return (
            f"FOREIGN KEY ({columns}) REFERENCES {quote(target.db_table)} ({target_columns}) "
            "DEFERRABLE INITIALLY DEFERRED"
        )

    def constraint_sql(self, model: Any, schema_editor: Any) -> None:
        # Inside CREATE TABLE the target's (org_id, id) key may not exist yet (a self reference,
        # or a table whose key is swapped later in the migration): added when the migration's
        # schema editor closes, as Django adds its own foreign keys.
        schema_editor.deferred_sql.append(self.create_sql(model, schema_editor))
        return None

    def create_sql(self, model: Any, schema_editor: Any) -> Statement:
        return Statement(
            "ALTER TABLE %(table)s ADD CONSTRAINT %(name)s %(definition)s",
            table=Table(model._meta.db_table, schema_editor.quote_name),
            name=schema_editor.quote_name(self.name),
            definition=self._definition(model, schema_editor),
        )

    def remove_sql(self, model: Any, schema_editor: Any) -> Statement:
        return Statement(
            "ALTER TABLE %(table)s DROP CONSTRAINT %(name)s",
            table=Table(model._meta.db_table, schema_editor.quote_name),
            name=schema_editor.quote_name(self.name),
        )

    def validate(self, model: Any, instance: Any, exclude: Any = None, using: Any = None) -> None:
        """Nothing in Python: model `clean()` and the services check the org (no query added to
        a form's validation); the database checks at commit."""

    def deconstruct(self) -> tuple[str, tuple, dict[str, Any]]:
        path, args, kwargs = super().deconstruct()
        kwargs["field"] = self.field
        return path, args, kwargs

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SameOrgForeignKey):
            return self.name == other.name and self.field == other.field
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash((self.name, self.field))

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}: field={self.field!r} name={self.name!r}>"


def org_primary_key(table: str) -> migrations.RunSQL:
    """PRIMARY KEY (org_id, id) in place of (id), under the same name; reversible. Foreign keys
    that reference the old key must be gone first (`DropForeignKeysTo`)."""
    pkey = f"{table}_pkey"
    return migrations.RunSQL(
        sql=[
            f"ALTER TABLE {table} DROP CONSTRAINT {pkey}",
            f"ALTER TABLE {table} ADD CONSTRAINT {pkey} PRIMARY KEY ({ORG_COLUMN}, id)",
        ],
        reverse_sql=[
            f"ALTER TABLE {table} DROP CONSTRAINT {pkey}",
            f"ALTER TABLE {table} ADD CONSTRAINT {pkey} PRIMARY KEY (id)",
        ],
    )


_FOREIGN_KEY_NAMES = """
SELECT c.conname FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND c.confrelid = %s::regclass
  AND cardinality(c.conkey) = 1 AND a.attname = %s
"""


class DropForeignKeysTo(migrations.operations.base.Operation):
    """Drops Django's single-column foreign key constraints `(table, column, target)`, each
    `column` → `target.id`, found by introspection (Django's names carry a hash); the reverse
    recreates them under the names Django gives them. Database only: the fields' state
    (`db_constraint=False`) is each app's own migration's."""

    reduces_to_sql = False
    reversible = True

    def __init__(self, keys: Sequence[tuple[str, str, str]]) -> None:
        self.keys = [tuple(key) for key in keys]

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        for table, column, target in self.keys:
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(_FOREIGN_KEY_NAMES, [table, target, column])
                names = [name for (name,) in cursor.fetchall()]
            if len(names) != 1:
                raise ValueError(
                    f"expected one foreign key {table}.{column} → {target}, found {names}"
                )
            schema_editor.execute(
                f"ALTER TABLE {schema_editor.quote_name(table)} "
                f"DROP CONSTRAINT {schema_editor.quote_name(names[0])}"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        quote = schema_editor.quote_name
        for table, column, target in self.keys:
            # Django's own name (BaseDatabaseSchemaEditor._fk_constraint_name).
            name = schema_editor._create_index_name(table, [column], suffix=f"_fk_{target}_id")
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} "
                f"FOREIGN KEY ({quote(column)}) REFERENCES {quote(target)} ({quote('id')}) "
                "DEFERRABLE INITIALLY DEFERRED"
            )

    def describe(self) -> str:
        return f"Drop {len(self.keys)} single-column foreign key(s) to be replaced by org keys"
