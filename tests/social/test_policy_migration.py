"""The migration that adds the "social" sign-in method: organizations that allowed every method
keep allowing every method; a chosen list stays as it was."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.apps import apps

import organizations.migrations
from organizations.models import OrganizationPolicy
from tests.sso.builders import org_with_domain

pytestmark = pytest.mark.django_db

# Found by its name's end: the number in front changes when branches are merged.
_NAME = next(
    p.stem for p in Path(organizations.migrations.__path__[0]).glob("*social_login_method.py")
)
migration = importlib.import_module(f"organizations.migrations.{_NAME}")


def test_everything_allowed_stays_everything_and_a_chosen_list_stays_chosen():
    everything, _ = org_with_domain("acme", "acme.test")
    chosen, _ = org_with_domain("beta", "beta.test")
    OrganizationPolicy.objects.filter(organization=everything).update(
        allowed_login_methods=["code", "passkey", "password", "sso"]
    )
    OrganizationPolicy.objects.filter(organization=chosen).update(
        allowed_login_methods=["password", "sso"]
    )

    migration.allow_social_where_everything_was_allowed(apps, None)

    assert OrganizationPolicy.objects.get(organization=everything).allowed_login_methods == [
        "code",
        "passkey",
        "password",
        "social",
        "sso",
    ]
    assert OrganizationPolicy.objects.get(organization=chosen).allowed_login_methods == [
        "password",
        "sso",
    ]
