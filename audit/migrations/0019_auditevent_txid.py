"""The writing transaction's id on every new audit event (docs/events.md, T22).

The column is added NULL and its default set afterwards, so existing rows keep NULL: adding it
with the default in one step would make every old row read as this migration's transaction.
SQLite has no transaction ids; its column stays NULL (readers order by rowid there)."""

from django.db import migrations, models

import events.db


def add_column(apps, schema_editor):
    schema_editor.execute("ALTER TABLE audit_auditevent ADD COLUMN txid bigint NULL")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE audit_auditevent "
            "ALTER COLUMN txid SET DEFAULT pg_current_xact_id()::text::bigint"
        )


def drop_column(apps, schema_editor):
    schema_editor.execute("ALTER TABLE audit_auditevent DROP COLUMN txid")


class Migration(migrations.Migration):
    dependencies = [("audit", "0018_purge_audit_events")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="auditevent",
                    name="txid",
                    field=models.BigIntegerField(
                        blank=True,
                        db_default=events.db.CurrentTxid(),
                        editable=False,
                        null=True,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(add_column, drop_column)],
        ),
    ]
