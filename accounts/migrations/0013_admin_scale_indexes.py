"""Indexes behind the admin's user list at a million people (config/admin_scale.py).

* ``accounts_user_joined`` (date_joined, id): the list's order, newest first, and its keyset
  pages.
* ``accounts_outbound_to`` (lower("to")): "did my email go out?" by address.
* ``accounts_user_name_prefix`` (lower(display_name) text_pattern_ops): the search box's prefix
  search by name (accounts/search.py). PostgreSQL only: an operator class is PostgreSQL's, and
  the embedded SQLite database is small.
"""

from django.db import migrations, models
from django.db.models.functions import Lower

NAME_PREFIX = "accounts_user_name_prefix"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME_PREFIX} "
            "ON accounts_user (lower(display_name) text_pattern_ops)"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME_PREFIX}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0012_impersonation")]

    operations = [
        migrations.AddIndex(
            model_name="user",
            index=models.Index(fields=["date_joined", "id"], name="accounts_user_joined"),
        ),
        migrations.AddIndex(
            model_name="outboundemail",
            index=models.Index(Lower("to"), name="accounts_outbound_to"),
        ),
        migrations.RunPython(forward, backward),
    ]
