"""The management API's new permission ``audit:read`` (checking an organization's audit log
against a checkpoint). The API's row was created once by migration 0002, so a new entry in
``PERMISSIONS`` reaches existing databases only through a migration like this one (T21)."""

from django.db import migrations

SCOPE = "audit:read"
DESCRIPTION = "Verify an organization's audit log against a checkpoint"


def add_scope(apps, schema_editor):
    Api = apps.get_model("provider", "Api")
    for api in Api.objects.filter(system=True):
        if SCOPE not in (api.scopes or {}):
            api.scopes = {**(api.scopes or {}), SCOPE: DESCRIPTION}
            api.save(update_fields=["scopes"])


def remove_scope(apps, schema_editor):
    Api = apps.get_model("provider", "Api")
    for api in Api.objects.filter(system=True):
        if SCOPE in (api.scopes or {}):
            api.scopes = {k: v for k, v in api.scopes.items() if k != SCOPE}
            api.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("provider", "0004_events_read_scope")]
    operations = [migrations.RunPython(add_scope, remove_scope)]
