"""Checkpoint keys over time (rotation), and TRUNCATE refused on the audit tables.

PostgreSQL only for the triggers (no-op elsewhere):

- ``core_checkpointkey`` joins the append-only tables (row trigger on UPDATE/DELETE);
- every audit table gets a statement trigger ``BEFORE TRUNCATE`` that refuses it. Like the
  row triggers it is an ordinary (origin) trigger, so it does not fire in a session with
  ``session_replication_role = replica``, which only a superuser may set: the test runner
  (connected as the database superuser) empties tables that way, and so could a DBA. The
  application's role must not be a superuser nor own the tables (docs/operations.md).
"""

from django.db import migrations, models

APPEND_ONLY = [
    "core_auditentry",
    "core_auditseal",
    "core_merklenode",
    "core_checkpoint",
    "core_checkpointkey",
]

TRUNCATE_FUNCTION = """
CREATE OR REPLACE FUNCTION tambo_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tambo: TRUNCATE on % refused: the audit log is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE TRIGGER core_checkpointkey_append_only BEFORE UPDATE OR DELETE ON "
        "core_checkpointkey FOR EACH ROW EXECUTE FUNCTION tambo_append_only()"
    )
    schema_editor.execute(TRUNCATE_FUNCTION, params=None)
    for table in APPEND_ONLY:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION tambo_no_truncate()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS tambo_no_truncate()")
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS core_checkpointkey_append_only ON core_checkpointkey"
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0003_append_only")]

    operations = [
        migrations.CreateModel(
            name="CheckpointKey",
            fields=[
                ("key_id", models.CharField(max_length=16, primary_key=True, serialize=False)),
                (
                    "public_key",
                    models.CharField(help_text="raw Ed25519 public key, base64", max_length=64),
                ),
                ("valid_from", models.DateTimeField()),
            ],
            options={"ordering": ["valid_from"]},
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
