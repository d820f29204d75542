from __future__ import annotations

import time
from unittest import mock

import pyotp
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.test_login_code import code_from
from tests.accounts.test_password import follow_to_form, reset_link
from tests.factories import DEFAULT_PASSWORD


def totp_for(user):
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return device, pyotp.TOTP(__import__("base64").b32encode(device.bin_key).decode())


def test_password_login_stops_at_second_factor(client, user):
    device, totp = totp_for(user)
    r = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/accounts/2fa/", r.get("Location")
    assert "_auth_user_id" not in client.session
    assert client.get("/account/").status_code == 302
    r = client.post("/accounts/2fa/", {"code": "000000" if totp.now() != "000000" else "111111"})
    assert r.status_code == 400
    r = client.post("/accounts/2fa/", {"code": totp.now()})
    assert r.status_code == 400  # throttled: 1 s after one failure, even the right code is refused
    device.refresh_from_db(); print("THROTTLE", device.throttling_failure_count)
    time.sleep(1.1)
    r = client.post("/accounts/2fa/", {"code": totp.now()})
    assert r.status_code == 302, r.content[:300]
    assert r["Location"] == "/account/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session["otp_device_id"] == device.persistent_id
    print("RECORDS", client.session["account_authentication_methods"])


def test_same_totp_code_works_once(user):
    device, totp = totp_for(user)
    code = totp.now()
    c1, c2 = Client(), Client()
    for c in (c1, c2):
        c.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert c1.post("/accounts/2fa/", {"code": code}).status_code == 302
    # wait for next throttle window not needed: failure count 0
    assert c2.post("/accounts/2fa/", {"code": code}).status_code == 400


def test_login_by_code_then_second_factor(client, user):
    totp_for(user)
    client.post("/accounts/login/code/", {"email": user.email})
    r = client.post("/accounts/login/code/confirm/", {"code": code_from(mail.outbox[0])})
    assert r["Location"] == "/accounts/2fa/", r.get("Location")
    assert "_auth_user_id" not in client.session


def test_password_reset_login_on_reset_still_needs_second_factor(client, user, settings):
    settings.ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
    totp_for(user)
    form_path = follow_to_form(client, reset_link(client, user.email))
    r = client.post(form_path, {"password1": "brand-New-pass-9931", "password2": "brand-New-pass-9931"})
    assert r["Location"] == "/accounts/2fa/", (r.status_code, r.get("Location"))
    assert "_auth_user_id" not in client.session


def test_half_login_expires(client, user, settings):
    device, totp = totp_for(user)
    client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    real = time.time
    with mock.patch("time.time", lambda: real() + 301):
        r = client.post("/accounts/2fa/", {"code": totp.now()})
    assert r.status_code == 302 and r["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_logout_clears_half_login(client, user):
    device, totp = totp_for(user)
    client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    client.post("/accounts/logout/")
    r = client.post("/accounts/2fa/", {"code": totp.now()})
    assert r["Location"] == "/accounts/login/"
