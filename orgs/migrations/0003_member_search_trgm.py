"""Trigram indexes for the member search of GET /members (orgs.selectors._member_search).

`search` is a case-insensitive substring match on email or full name, spelled
`users_user.email LIKE '%term%' OR LOWER(users_user.full_name) LIKE '%term%'` (emails are
stored lower-cased). GIN trigram indexes on exactly those expressions serve it. They need
the pg_trgm extension, which the embedded development PostgreSQL (pgserver) lacks: there
the migration does nothing and search falls back to a scan of the org's members.
"""

from django.db import migrations

INDEXES = {
    "users_user_email_trgm": "email gin_trgm_ops",
    "users_user_full_name_lower_trgm": "(lower(full_name)) gin_trgm_ops",
}


def _trgm_available(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    return cursor.fetchone() is not None


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not _trgm_available(cursor):
            return
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, expression in INDEXES.items():
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON users_user USING gin ({expression})"
            )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0002_audit_event"),
        ("users", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
