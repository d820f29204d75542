"""Emails speak Gatehouse's words in both parts: the plain text and subjects of allauth's emails
are Gatehouse's own templates, not allauth's defaults ("Hello from …!", "Please Confirm Your
Email Address")."""

from __future__ import annotations

from pathlib import Path

import allauth
import pytest
from django.core import mail
from django.template.backends.django import Template as DjangoTemplate
from django.template.loader import get_template
from django.test import Client

from tests.conftest import links_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

ALLAUTH_TEMPLATES = Path(allauth.__file__).parent / "templates"
# The emails of the allauth apps Gatehouse installs (account, socialaccount; not mfa).
ALLAUTH_EMAILS = sorted(
    str(path.relative_to(ALLAUTH_TEMPLATES))
    for folder in ("account/email", "socialaccount/email")
    for path in (ALLAUTH_TEMPLATES / folder).glob("*.txt")
)
OWN_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Phrases of allauth's English defaults that Gatehouse does not use.
ALLAUTH_WORDING = (
    "Hello from",
    "Thank you for using",
    "You're receiving this email because user",
    "You're receiving this email because you or someone else",
    "You are receiving this",
    "listed below",
    "This mail can be safely ignored",
    "password forgotten procedure",
    "proper security precautions",
)


@pytest.mark.parametrize("name", ALLAUTH_EMAILS)
def test_every_allauth_text_template_is_overridden_by_gatehouse(name):
    template = get_template(name)
    assert isinstance(template, DjangoTemplate)
    origin = Path(template.origin.name)
    assert origin.is_relative_to(OWN_TEMPLATES), origin


def _assert_gatehouse_words(message) -> None:
    for phrase in ALLAUTH_WORDING:
        assert phrase not in message.body, (message.subject, phrase)
    # Sentence case, like every title in Gatehouse.
    assert message.subject == message.subject[0] + message.subject[1:].lower(), message.subject
    # The text part carries the links of the HTML part.
    html = message.alternatives[0][0]
    for link in links_in(message):
        assert link in html, (message.subject, link)


def test_sign_up_password_reset_and_login_code_emails_read_as_gatehouse():
    client = Client()
    client.post("/accounts/signup/", {"email": "ada@example.com", "password1": DEFAULT_PASSWORD})
    user = UserFactory(email="grace@example.com")
    client.post("/accounts/password/reset/", {"email": user.email})
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    Client().post("/accounts/login/code/", {"email": user.email})

    by_subject = {m.subject: m for m in mail.outbox}
    assert set(by_subject) >= {
        "Confirm your email address",
        "Reset your password",
        "No account for this address",
        "Your sign-in code",
    }, sorted(by_subject)
    for message in mail.outbox:
        _assert_gatehouse_words(message)
    confirm = by_subject["Confirm your email address"].body
    assert "gave this email address to register an account" in confirm
    assert confirm.rstrip().endswith("Gatehouse · testserver")
