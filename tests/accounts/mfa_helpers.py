"""Helpers shared by the MFA tests: real TOTP codes, enrolled factors, logins."""

from __future__ import annotations

import base64
import time

import pyotp
from django.test import Client
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import DEFAULT_PASSWORD


def totp_now(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for ``device``, computed independently by pyotp."""
    totp = pyotp.TOTP(base64.b32encode(device.bin_key).decode(), interval=device.step)
    return totp.at(time.time() + steps_ahead * device.step)


def unused_totp(device: TOTPDevice) -> str:
    """The code for the first time step ``device`` has not taken a code for, computed by pyotp:
    what a second login in the same test types. "The next step's code" is not always it: a
    code accepted from the step before (typed as the step turned) moves the device's drift,
    and the device then refuses a code two steps ahead of its own clock."""
    device.refresh_from_db()
    clock = int(time.time() - device.t0) // device.step + device.drift
    totp = pyotp.TOTP(base64.b32encode(device.bin_key).decode(), interval=device.step)
    return totp.generate_otp(max(clock, device.last_t + 1))


def enroll_totp(user, name: str = "Phone") -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name=name, confirmed=True)


def enroll_email(user) -> EmailDevice:
    return EmailDevice.objects.create(user=user, name="Email code", email=None, confirmed=True)


def password_step(client: Client, user, password: str = DEFAULT_PASSWORD, next_url: str = ""):
    data = {"login": user.email, "password": password}
    url = "/accounts/login/"
    if next_url:
        data["next"] = next_url
        url += f"?next={next_url}"
    return client.post(url, data)


def is_logged_in(client: Client, user) -> bool:
    return client.session.get("_auth_user_id") == str(user.pk)
