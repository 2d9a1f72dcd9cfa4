"""Trigram index for accent- and case-insensitive catalogue search on PostgreSQL.

``search_text`` holds folded text and queries use ``LIKE '%word%'``; a GIN trigram index
makes that an index scan instead of a scan of every procedure. SQLite (the embedded
default, small catalogues) needs nothing.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # fastupdate off: catalogue loads insert in bursts, and a pending list the planner
    # cannot see into would make it scan the table instead (measured in bench/).
    "CREATE INDEX IF NOT EXISTS catalog_procedure_search_trgm ON catalog_procedure "
    "USING gin (search_text gin_trgm_ops) WITH (fastupdate = off)",
]
DROP = ["DROP INDEX IF EXISTS catalog_procedure_search_trgm"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
