"""The management API's permissions ``webhooks:read`` and ``webhooks:write`` (webhook
endpoints). The API's row was created once by migration 0002, so new entries in
``PERMISSIONS`` reach existing databases only through a migration like this one
(docs/events.md, T21)."""

from django.db import migrations

SCOPES = {
    "webhooks:read": "Read webhook endpoints and their deliveries",
    "webhooks:write": "Register, change and delete webhook endpoints; rotate their secrets; "
    "resend deliveries",
}


def add_scopes(apps, schema_editor):
    Api = apps.get_model("provider", "Api")
    for api in Api.objects.filter(system=True):
        missing = {k: v for k, v in SCOPES.items() if k not in (api.scopes or {})}
        if missing:
            api.scopes = {**(api.scopes or {}), **missing}
            api.save(update_fields=["scopes"])


def remove_scopes(apps, schema_editor):
    Api = apps.get_model("provider", "Api")
    for api in Api.objects.filter(system=True):
        if any(k in (api.scopes or {}) for k in SCOPES):
            api.scopes = {k: v for k, v in api.scopes.items() if k not in SCOPES}
            api.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("provider", "0004_events_read_scope")]
    operations = [migrations.RunPython(add_scopes, remove_scopes)]
