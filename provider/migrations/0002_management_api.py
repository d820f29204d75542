"""Gatehouse's own management API (/api/v1/) as a resource server, so backends can ask for
tokens to call it. Its identifier is the public URL at the time of the migration; operators
who move Gatehouse change it in the admin."""

from django.conf import settings
from django.db import migrations

PERMISSIONS = {
    "users:read": "Search and read people's accounts, sessions and second factors",
    "users:write": "Create, change, block and unblock accounts; end sessions; reset factors",
    "organizations:read": "Read organizations, their members, invitations, domains and policy",
    "organizations:write": "Change organizations, their members, invitations, domains and policy",
    "consent:read": "Read people's consents and receipts",
    "consent:write": "Change the purpose catalogue and record consents",
    "clients:read": "Read the OAuth applications and APIs registered with Gatehouse",
    "clients:write": "Register and change OAuth applications and APIs; rotate client secrets",
}


def create(apps, schema_editor):
    Api = apps.get_model("provider", "Api")
    Api.objects.get_or_create(
        system=True,
        defaults={
            "identifier": settings.GATEHOUSE_PUBLIC_URL + "/api/v1/",
            "name": "Gatehouse management API",
            "scopes": PERMISSIONS,
            "access_token_lifetime": 600,
            "token_format": "jwt",
            "signing_alg": "ES256",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("provider", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
