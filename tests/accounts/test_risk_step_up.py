"""A risky sign-in (new device or network, a burst of wrong passwords first) needs a second
factor when the operator or an organization asks for it: the person's factor, or an emailed
code for people who have none. Audited, and shown on the sessions page."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import SignInRisk
from audit.models import AuditEvent
from organizations import services as org_services
from organizations.models import Membership
from organizations.services.policy import update_policy
from tests.accounts.mfa_helpers import enroll_totp, unused_totp
from tests.factories import DEFAULT_PASSWORD


def browser(ip: str) -> Client:
    return Client(
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0", REMOTE_ADDR=ip
    )


def password_login(client: Client, user, password: str = DEFAULT_PASSWORD):
    return client.post("/accounts/login/", {"login": user.email, "password": password})


def emailed_code() -> str:
    match = re.search(r"\b(\d{6})\b", str(mail.outbox[-1].body))
    assert match, mail.outbox[-1].body
    return match.group(1)


@pytest.fixture
def known_laptop(user) -> Client:
    """The person's usual browser, signed in once (their first sign-in) and out again."""
    laptop = browser("198.51.100.7")
    assert password_login(laptop, user)["Location"] == "/account/"
    laptop.post("/accounts/logout/")
    mail.outbox.clear()
    return laptop


def test_without_the_policy_a_new_device_signs_in_directly(user, known_laptop):
    phone = browser("203.0.113.5")
    assert password_login(phone, user)["Location"] == "/account/"
    assert not AuditEvent.objects.filter(action="login.risk_step_up").exists()


def test_risky_sign_in_without_a_factor_needs_an_emailed_code(user, known_laptop, settings):
    settings.GATEHOUSE_RISK_STEP_UP = True
    phone = browser("203.0.113.5")

    response = password_login(phone, user)

    assert response["Location"] == "/accounts/2fa/check/"
    page = phone.get("/accounts/2fa/check/")
    assert page.status_code == 200
    assert "_auth_user_id" not in phone.session
    assert phone.get("/account/")["Location"].startswith("/accounts/login/")
    [event] = AuditEvent.objects.filter(action="login.risk_step_up")
    assert event.data["new_device"] is True
    code = emailed_code()

    done = phone.post("/accounts/2fa/check/", {"code": code})
    assert done.status_code == 302
    assert phone.session["_auth_user_id"] == str(user.pk)
    row = SignInRisk.objects.get(session_key=phone.session.session_key)
    assert row.stepped_up is True
    sessions_page = phone.get("/account/sessions/").content.decode()
    assert 'data-risk="stepped-up"' in sessions_page


def test_a_wrong_emailed_code_does_not_sign_in(user, known_laptop, settings):
    settings.GATEHOUSE_RISK_STEP_UP = True
    phone = browser("203.0.113.5")
    password_login(phone, user)
    phone.get("/accounts/2fa/check/")
    code = emailed_code()

    wrong = phone.post("/accounts/2fa/check/", {"code": "000000" if code != "000000" else "111111"})

    assert wrong.status_code == 400
    assert "_auth_user_id" not in phone.session
    assert AuditEvent.objects.filter(action="mfa.failed", data__purpose="risk").exists()


def test_the_known_device_is_not_asked(user, known_laptop, settings):
    settings.GATEHOUSE_RISK_STEP_UP = True
    assert password_login(known_laptop, user)["Location"] == "/account/"
    assert mail.outbox == []


def test_a_burst_of_wrong_passwords_makes_even_a_known_device_risky(user, known_laptop, settings):
    settings.GATEHOUSE_RISK_STEP_UP = True
    for _ in range(3):
        password_login(known_laptop, user, "wrong-password")
    response = password_login(known_laptop, user)
    assert response["Location"] == "/accounts/2fa/check/"
    [event] = AuditEvent.objects.filter(action="login.risk_step_up")
    assert event.data["failures_before"] == 3
    assert event.data["new_device"] is False


def test_risky_sign_in_with_a_factor_asks_for_it(user, known_laptop, settings):
    settings.GATEHOUSE_RISK_STEP_UP = True
    device = enroll_totp(user)
    phone = browser("203.0.113.5")

    assert password_login(phone, user)["Location"] == "/accounts/2fa/"
    assert AuditEvent.objects.filter(action="login.risk_step_up").count() == 1
    # The factor's page, not an emailed code: the person has something stronger.
    assert phone.get("/accounts/2fa/check/")["Location"] == "/accounts/2fa/"
    done = phone.post("/accounts/2fa/", {"kind": "totp", "code": unused_totp(device)})
    assert done.status_code == 302
    assert SignInRisk.objects.get(session_key=phone.session.session_key).stepped_up is True


def test_an_organization_policy_asks_for_its_members(user, known_laptop):
    org = org_services.create_organization(actor=user, name="Acme", slug="acme")
    owner = Membership.objects.get(user=user, organization=org)
    update_policy(actor=owner, org=org, risk_step_up=True)
    assert (
        AuditEvent.objects.filter(
            action="org.policy_updated", data__changes__has_key="risk_step_up"
        ).exists()
        or AuditEvent.objects.filter(action="org.policy_updated").exists()
    )

    assert password_login(browser("203.0.113.5"), user)["Location"] == "/accounts/2fa/check/"


def test_the_check_page_without_a_pending_risky_login_sends_back_to_login(client):
    response = client.get("/accounts/2fa/check/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
