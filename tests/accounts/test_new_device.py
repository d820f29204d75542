"""Sign-ins from a new browser: one email per device (never for the first sign-in or a known
device), a "This wasn't me" link that signs out everywhere and starts a reset, and the risk
signals on the sessions page."""

from __future__ import annotations

import re

import pytest
from allauth.usersessions.models import UserSession
from django.core import mail, signing
from django.test import Client, RequestFactory

from accounts.models import KnownSign, SignInRisk
from accounts.takeover import risk
from accounts.takeover.signin import DISOWN_SALT, disown_token
from audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def browser(user_agent: str = FIREFOX, ip: str = "198.51.100.7") -> Client:
    return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)


def sign_in(client: Client, user) -> None:
    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == "/account/"


def new_sign_in_emails() -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if "New sign-in" in str(m.subject)]


def disown_path(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/not-me/[^\s\"'<>]+/)", str(message.body))
    assert match, message.body
    return match.group(1)


def test_first_sign_in_sends_no_email_and_remembers_the_device(user):
    laptop = browser()
    sign_in(laptop, user)

    assert new_sign_in_emails() == []
    assert "gatehouse_device" in laptop.cookies
    cookie = laptop.cookies["gatehouse_device"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    kinds = sorted(KnownSign.objects.filter(user=user).values_list("kind", flat=True))
    assert kinds == ["device", "network"]
    # Only keyed hashes are kept: the cookie's id appears nowhere in the table.
    request = RequestFactory().get("/")
    request.COOKIES["gatehouse_device"] = cookie.value
    device_id, is_new = risk.device_id(request)
    assert not is_new
    assert not KnownSign.objects.filter(digest=device_id).exists()
    assert KnownSign.objects.filter(digest=risk.digest("device", device_id)).exists()
    [row] = SignInRisk.objects.filter(user=user)
    assert (row.new_device, row.new_network) == (False, False)  # the first is not "new"


def test_new_device_gets_one_email_and_a_known_one_none(user):
    laptop = browser()
    sign_in(laptop, user)
    laptop.post("/accounts/logout/")
    sign_in(laptop, user)  # the same browser again: known
    assert new_sign_in_emails() == []

    phone = browser(SAFARI_IPHONE, ip="203.0.113.50")
    sign_in(phone, user)
    [email] = new_sign_in_emails()
    body = str(email.body)
    assert email.to == [user.email]
    assert "Safari" in body
    assert "iPhone" in body
    assert "203.0.113.0/24" in body
    assert "/accounts/not-me/" in body
    assert AuditEvent.objects.filter(action="login.new_device_notice").count() == 1

    phone.post("/accounts/logout/")
    sign_in(phone, user)  # now known: no second email
    assert len(new_sign_in_emails()) == 1


def test_a_forged_device_cookie_counts_as_a_new_device(user):
    sign_in(browser(), user)
    forger = browser()
    forger.cookies["gatehouse_device"] = "not-a-signed-value"
    sign_in(forger, user)
    assert len(new_sign_in_emails()) == 1


def test_sessions_page_names_the_new_device_and_network(user):
    laptop = browser()
    sign_in(laptop, user)
    phone = browser(SAFARI_IPHONE, ip="203.0.113.50")
    sign_in(phone, user)

    page = laptop.get("/account/sessions/").content.decode()

    assert page.count('data-risk="new-device"') == 1
    assert page.count('data-risk="new-network"') == 1
    assert "New device" in page
    assert "New network" in page
    phone_risk = SignInRisk.objects.get(session_key=phone.session.session_key)
    assert (phone_risk.new_device, phone_risk.new_network) == (True, True)
    [event] = AuditEvent.objects.filter(action="login.succeeded", ip="203.0.113.50")
    assert event.data["risk"]["new_device"] is True
    assert event.data["risk"]["risky"] is True


def test_this_wasnt_me_signs_out_everywhere_and_starts_a_reset(user):
    laptop = browser()
    sign_in(laptop, user)
    phone = browser(SAFARI_IPHONE, ip="203.0.113.50")
    sign_in(phone, user)
    [email] = new_sign_in_emails()
    path = disown_path(email)
    mail.outbox.clear()

    # Opening the link (a mail scanner does) changes nothing: it asks first.
    confirm_page = Client().get(path)
    assert confirm_page.status_code == 200
    assert UserSession.objects.filter(user=user).count() == 2

    done = Client().post(path)

    assert done.status_code == 200
    assert b"Your account is secured" in done.content
    assert UserSession.objects.filter(user=user).count() == 0
    assert laptop.get("/account/")["Location"].startswith("/accounts/login/")
    assert phone.get("/account/")["Location"].startswith("/accounts/login/")
    user.refresh_from_db()
    assert not user.has_usable_password()
    [reset] = mail.outbox
    assert reset.to == [user.email]
    assert "/accounts/password/reset/key/" in str(reset.body)
    [event] = AuditEvent.objects.filter(action="login.disowned")
    assert event.data["sessions_ended"] == 2
    assert SignInRisk.objects.get(session_key__isnull=False, disowned_at__isnull=False)

    # Twice is harmless: nothing more is ended, sent or recorded.
    again = Client().post(path)
    assert again.status_code == 200
    assert b"already done" in again.content
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="login.disowned").count() == 1


BAD_TOKENS = {
    "garbage": lambda: "garbage",
    "another_purpose": lambda: signing.dumps({"u": 1, "s": "x"}, salt="another.purpose"),
    "wrong_shape": lambda: signing.dumps({"u": "1", "s": "x"}, salt=DISOWN_SALT),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_this_wasnt_me_link_is_a_clear_400(user, kind):
    token = BAD_TOKENS[kind]()
    response = Client().post(f"/accounts/not-me/{token}/")
    assert response.status_code == 400
    assert b"This link doesn" in response.content
    assert not AuditEvent.objects.filter(action="login.disowned").exists()


def test_an_expired_this_wasnt_me_link_is_refused(user, settings):
    token = disown_token(user=user, session_key="k")
    settings.GATEHOUSE_DISOWN_LINK_AGE = -1
    response = Client().post(f"/accounts/not-me/{token}/")
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.has_usable_password()


def test_new_device_emails_are_capped_per_hour(user, settings):
    settings.GATEHOUSE_NEW_DEVICE_EMAILS = (2, 3600)
    sign_in(browser(), user)
    for n in range(4):
        sign_in(browser(ip=f"203.0.113.{n + 1}"), user)
    assert len(new_sign_in_emails()) == 2
