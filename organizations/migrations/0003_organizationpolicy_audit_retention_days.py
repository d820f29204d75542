"""Audit retention per organization. Organizations that exist keep their log for ever (the
column is added empty); new ones keep a year unless their admins choose otherwise."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0002_invitation_sent_by_app'),
    ]

    operations = [
        migrations.AddField(
            model_name='organizationpolicy',
            name='audit_retention_days',
            field=models.PositiveIntegerField(blank=True, default=None, help_text='Audit events older than this are deleted every night (empty: kept for ever).', null=True),
            preserve_default=False,
        ),
        # Only the model's default changes: the database keeps no default, rows stay empty.
        migrations.AlterField(
            model_name='organizationpolicy',
            name='audit_retention_days',
            field=models.PositiveIntegerField(blank=True, default=365, help_text='Audit events older than this are deleted every night (empty: kept for ever).', null=True),
        ),
    ]
