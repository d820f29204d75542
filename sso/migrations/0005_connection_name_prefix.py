"""The admin finds a connection by how its name begins (config/admin_scale.py): an index on
lower(name) text_pattern_ops. PostgreSQL only (an operator class is PostgreSQL's; the embedded
SQLite database is small)."""

from django.db import migrations

NAME_PREFIX = "sso_connection_name_prefix"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME_PREFIX} ON sso_connection (lower(name) text_pattern_ops)"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME_PREFIX}")


class Migration(migrations.Migration):
    dependencies = [("sso", "0004_scim_directory")]

    operations = [migrations.RunPython(forward, backward)]
