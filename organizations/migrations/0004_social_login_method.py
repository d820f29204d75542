"""Social login becomes a sign-in method of its own ("social"). An organization that allowed
every method there was (the default) keeps allowing every method; one that chose a list keeps
its list, so its governed members cannot sign in with a social provider until it allows it."""

from django.db import migrations

BEFORE = {"password", "code", "passkey", "sso"}


def allow_social_where_everything_was_allowed(apps, schema_editor):
    policies = apps.get_model("organizations", "OrganizationPolicy")
    for policy in policies.objects.all().only("pk", "allowed_login_methods"):
        methods = set(policy.allowed_login_methods or [])
        if methods >= BEFORE and "social" not in methods:
            policy.allowed_login_methods = sorted(methods | {"social"})
            policy.save(update_fields=["allowed_login_methods"])


class Migration(migrations.Migration):
    dependencies = [("organizations", "0003_organizationpolicy_audit_retention_days")]

    operations = [
        migrations.RunPython(allow_social_where_everything_was_allowed, migrations.RunPython.noop)
    ]
