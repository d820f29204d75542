"""The purposes most operators need, ready to use: terms of service and privacy policy
(required, each with a document to publish versions of; nobody is asked until a first version
is published), marketing email and analytics (optional, unticked at sign-up), and California's
"do not sell or share my personal information" (an opt-out anyone can set)."""

from django.db import migrations

DOCUMENTS = [("terms", "Terms of service"), ("privacy", "Privacy policy")]
PURPOSES = [
    # key, name, description, required, lawful basis, kind, document, offered at sign-up
    ("terms", "Terms of service", "The terms you use this service under.", True, "contract",
     "consent", "terms", True),
    ("privacy", "Privacy policy", "How your personal data is used and your rights.", True,
     "legal_obligation", "consent", "privacy", True),
    ("marketing_email", "Marketing email", "News and offers by email. You can stop at any time.",
     False, "consent", "consent", None, True),
    ("analytics", "Product analytics", "Measuring how the product is used, to improve it.",
     False, "consent", "consent", None, True),
    ("do_not_sell", "Do not sell or share my personal information",
     "Under the CCPA/CPRA: your personal information is not sold or shared for cross-context "
     "behavioural advertising.", False, "legal_obligation", "opt_out", None, False),
]


def seed(apps, schema_editor):
    PolicyDocument = apps.get_model("consent", "PolicyDocument")
    Purpose = apps.get_model("consent", "Purpose")
    documents = {}
    for key, title in DOCUMENTS:
        documents[key], _ = PolicyDocument.objects.get_or_create(
            organization=None, key=key, defaults={"title": title}
        )
    for key, name, description, required, basis, kind, document, signup in PURPOSES:
        Purpose.objects.get_or_create(
            organization=None,
            key=key,
            defaults={
                "name": name,
                "description": description,
                "required": required,
                "lawful_basis": basis,
                "kind": kind,
                "document": documents.get(document),
                "offered_at_signup": signup,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_database_guards")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
