"""An index on LOWER(email) for allauth's address table, so that looking an address up without
regard to case (``accounts.models.address_is``) is an index scan, not a full one."""

from django.db import migrations

INDEX = "accounts_emailaddress_lower_email"


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_outboundemail_sending"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON account_emailaddress (LOWER(email))",
            f"DROP INDEX IF EXISTS {INDEX}",
        ),
    ]
