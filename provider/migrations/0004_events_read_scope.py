"""The management API's new permission ``events:read`` (the events feed). The API's row was
created once by migration 0002, so a new entry in ``PERMISSIONS`` reaches existing databases
only through a migration like this one (docs/events.md, T21)."""

from django.db import migrations

SCOPE = "events:read"
DESCRIPTION = "Read the events feed (an organization's app: its organization's events)"


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
    dependencies = [("provider", "0003_grant_replayed_at")]
    operations = [migrations.RunPython(add_scope, remove_scope)]
