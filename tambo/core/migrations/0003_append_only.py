"""PostgreSQL: the audit tables refuse UPDATE and DELETE (a row trigger); no-op elsewhere.

TRUNCATE is left to the table owner (the test runner empties tables with it); the
application's database role should not own these tables in production.
"""

from django.db import migrations

APPEND_ONLY = ["core_auditentry", "core_auditseal", "core_merklenode", "core_checkpoint"]

FUNCTION = """
CREATE OR REPLACE FUNCTION tambo_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tambo: % on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in APPEND_ONLY:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION tambo_append_only()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS tambo_append_only()")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_merkle_tree")]

    operations = [migrations.RunPython(create_triggers, drop_triggers, elidable=False)]
