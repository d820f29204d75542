"""Consent fixtures: the default purposes (the data migration's, recreated after each test's
flush) and helpers to publish policy versions."""

from __future__ import annotations

import importlib
import itertools

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.test import Client

from consent import services
from consent.models import PolicyDocument, PolicyVersion, Purpose
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

_defaults = importlib.import_module("consent.migrations.0003_default_purposes")
_labels = itertools.count(1)


@pytest.fixture
def purposes() -> dict[str, Purpose]:
    _defaults.seed(apps, None)
    return {p.key: p for p in Purpose.objects.filter(organization__isnull=True)}


@pytest.fixture
def staff():
    return UserFactory(email="privacy-officer@gatehouse.test", is_staff=True)


def publish(
    document: str | PolicyDocument,
    content: str | None = None,
    *,
    reaccept: bool = False,
    actor=None,
    summary: str = "",
) -> PolicyVersion:
    doc = (
        document
        if isinstance(document, PolicyDocument)
        else PolicyDocument.objects.get(key=document, organization__isnull=True)
    )
    label = f"v{next(_labels)}"
    version = PolicyVersion.objects.create(
        document=doc,
        label=label,
        content=content if content is not None else f"{doc.title}, {label}.\nBe nice.",
        requires_reacceptance=reaccept,
        change_summary=summary,
    )
    return services.publish_version(version=version, actor=actor, reason="test")


@pytest.fixture
def published(purposes) -> dict[str, PolicyVersion]:
    """Terms and privacy policy, each with a first published version."""
    return {"terms": publish("terms"), "privacy": publish("privacy")}


# --- The consent API's callers (tests/consent/test_consent_api*.py) ------------------------------


def settle(user):
    """Accept whatever required policy the person still owes, so the gate lets them by."""
    from consent import selectors

    for purpose in selectors.pending_required(user):
        services.record_consent(user=user, purpose=purpose, decision="granted", method="settings")
    return user


@pytest.fixture
def person(published):
    return settle(UserFactory(email="ada@example.com"))


@pytest.fixture
def me(person) -> Client:
    """The person, signed in."""
    return signed_in(person)


@pytest.fixture
def operator(staff, published) -> Client:
    staff.user_permissions.add(Permission.objects.get(codename="manage_subject_consents"))
    settle(staff)
    return signed_in(staff)
