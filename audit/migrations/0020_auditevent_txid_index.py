"""The (txid, id) index readers of the audit log walk in commit order, built without locking
out writers on PostgreSQL (CREATE INDEX CONCURRENTLY, outside a transaction)."""

from django.db import migrations, models


def create_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS audit_event_txid_id "
        "ON audit_auditevent (txid, id)"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS audit_event_txid_id")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audit", "0019_auditevent_txid")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(fields=["txid", "id"], name="audit_event_txid_id"),
                ),
            ],
            database_operations=[migrations.RunPython(create_index, drop_index, atomic=False)],
        ),
    ]
