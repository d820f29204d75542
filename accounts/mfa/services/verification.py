"""Using a second factor: checking a code, emailing one, and recording the outcome of checks
made elsewhere (passkey ceremonies, the step-up password).

Every outcome is audited, failures included, and a failure is never rolled back: a service
that refuses a code returns (its transaction commits the failure and the throttle's count)
rather than raising.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_otp import verify_token as otp_verify_token
from django_otp.plugins.otp_email.models import EmailDevice

from accounts import ratelimits
from accounts.mfa import policy
from accounts.mfa.policy import Kind
from accounts.mfa.services.notices import notify
from accounts.models import User
from accounts.services import outside_a_request
from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import service

EMAIL_CODE_LENGTH = 6
# The unconfirmed email device a step-up by emailed code uses, for an account with nothing but
# a mailbox (no password, no factor).
STEPUP_DEVICE = "gatehouse:stepup-email"
# Purposes for which that device serves: a step-up, and the emailed code a risky sign-in of a
# person without a factor is asked for (accounts/takeover/).
MAILBOX_ONLY_PURPOSES = ("stepup", "risk")


def code_is_right(user: User, device: Any, code: str) -> bool:
    """Whether ``code`` passes ``device`` (spending it: a code counts once)."""
    # django_otp.verify_token locks the device row (select_for_update) for the check, so the
    # same code posted twice at once is accepted once; TOTP refuses a time step already used.
    return otp_verify_token(user, device.persistent_id, str(code).strip()) is not None


def throttled_until(device: Any) -> Any:
    """When ``device`` takes codes again after too many wrong ones; None if it takes them now."""
    allowed, info = device.verify_is_allowed()
    if allowed:
        return None
    return (info or {}).get("locked_until") or timezone.now()


# --- Codes ----------------------------------------------------------------------------------


def _devices_for(user: User, kind: Kind, purpose: str) -> list[Any]:
    """The user's devices of ``kind`` that may take a code for ``purpose``."""
    if kind in (Kind.PASSKEY, Kind.PASSWORD):
        return []  # checked by their own ceremonies
    model = policy.DEVICE_MODELS[kind]
    devices = list(model.objects.filter(user=user, confirmed=True).order_by("pk"))
    if kind == Kind.EMAIL and not devices and purpose in MAILBOX_ONLY_PURPOSES:
        devices = list(EmailDevice.objects.filter(user=user, confirmed=False, name=STEPUP_DEVICE))
    return devices


@service
def verify_second_factor(
    *, user: User, kind: str, code: str, purpose: str, signed_in: bool
) -> tuple[Any, str]:
    """Check a code of the user's factor of ``kind``. Returns ``(device, "")`` when it passes,
    else ``(None, reason)`` where reason is "throttled", "wrong" or "unavailable". Audited,
    as the user when ``signed_in`` (a step-up), else naming them (a login's second step)."""
    try:
        kind_ = Kind(kind)
    except ValueError:
        return None, "unavailable"
    devices = _devices_for(user, kind_, purpose)
    if not devices:
        return None, "unavailable"
    code = str(code or "").strip()[:64]
    actor = user if signed_in else None
    locked = [d for d in devices if throttled_until(d) is not None]
    if len(locked) == len(devices):
        until = max(throttled_until(d) for d in devices)
        record(
            Action.MFA_THROTTLED,
            actor=actor,
            actor_text=str(user),
            target=user,
            outcome=Outcome.FAILURE,
            data={"kind": kind_.value, "purpose": purpose, "locked_until": until.isoformat()},
        )
        return None, "throttled"
    for device in devices:
        if device not in locked and code_is_right(user, device, code):
            _record_verified(user, device, kind_, purpose=purpose, actor=actor)
            return device, ""
    record(
        Action.MFA_FAILED,
        actor=actor,
        actor_text=str(user),
        target=user,
        outcome=Outcome.FAILURE,
        data={"kind": kind_.value, "purpose": purpose},
    )
    return None, "wrong"


def _record_verified(user: User, device: Any, kind: Kind, *, purpose: str, actor: Any) -> None:
    if kind == Kind.BACKUP_CODE:
        left = device.remaining()
        record(
            Action.MFA_BACKUP_CODE_USED,
            actor=actor,
            actor_text=str(user),
            target=user,
            data={"purpose": purpose, "left": left},
        )
        notify(user, "mfa_backup_code_used", codes_left=left)
    record(
        Action.MFA_VERIFIED,
        actor=actor,
        actor_text=str(user),
        target=user,
        data={"kind": kind.value, "device": device.name, "purpose": purpose},
    )


def _take_cooldown(device: EmailDevice) -> bool:
    """Start the device's cooldown between emailed codes; False while one is running."""
    now = timezone.now()
    cooldown = timedelta(seconds=settings.OTP_EMAIL_COOLDOWN_DURATION)
    # One conditional UPDATE: of two requests at the same moment, one sends and the other is
    # told to wait.
    return bool(
        EmailDevice.objects.filter(pk=device.pk)
        .filter(Q(last_generated_timestamp=None) | Q(last_generated_timestamp__lt=now - cooldown))
        .update(last_generated_timestamp=now)
    )


@service
def send_email_code(
    *, user: User, purpose: str, signed_in: bool, within_quota: Callable[[], bool]
) -> tuple[bool, str]:
    """Email a one-time code for the second step (or for a step-up of a user with nothing
    but a mailbox). At most one per OTP_EMAIL_COOLDOWN_DURATION; beyond that, each email
    spends one use of the sender's quota (``within_quota``: False once it is spent; the
    caller's rate limit, a few per hour per user and per client address). Returns
    ``(sent, reason)``, reason "cooldown", "rate_limited" or "unavailable"."""
    device = EmailDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None and purpose in MAILBOX_ONLY_PURPOSES:
        device, _ = EmailDevice.objects.get_or_create(
            user=user, confirmed=False, name=STEPUP_DEVICE, defaults={"email": None}
        )
    if device is None:
        return False, "unavailable"
    reason = ""
    if not _take_cooldown(device):
        reason = "cooldown"
    elif not within_quota():
        reason = "rate_limited"
    actor = user if signed_in else None
    if reason:
        record(
            Action.MFA_EMAIL_CODE_REFUSED,
            actor=actor,
            actor_text=str(user),
            target=user,
            outcome=Outcome.FAILURE,
            data={"purpose": purpose, "reason": reason},
        )
        return False, reason
    device.refresh_from_db()
    device.generate_token(length=EMAIL_CODE_LENGTH, valid_secs=settings.OTP_EMAIL_TOKEN_VALIDITY)
    context = {
        "code": device.token,
        "minutes": settings.OTP_EMAIL_TOKEN_VALIDITY // 60,
        "purpose": purpose,
    }
    with outside_a_request():
        get_adapter().send_mail("accounts/email/mfa_email_code", user.email, context)
    record(
        Action.MFA_EMAIL_CODE_SENT,
        actor=actor,
        actor_text=str(user),
        target=user,
        data={"purpose": purpose},
    )
    return True, ""


# --- Outcomes of checks made elsewhere (passkey ceremonies, the step-up password) -----------
#
# Each writes one row, so none opens a transaction: the row commits on its own, or with the
# login it belongs to (accounts.mfa.passkeys). A failure is recorded outside any transaction.


def passkey_verified(*, user: User, device: Any, purpose: str, signed_in: bool) -> None:
    record(
        Action.MFA_VERIFIED,
        actor=user if signed_in else None,
        actor_text=str(user),
        target=user,
        data={"kind": Kind.PASSKEY.value, "device": device.name, "purpose": purpose},
    )


def passkey_failed(*, user: User | None, purpose: str, error: str, signed_in: bool) -> None:
    record(
        Action.MFA_FAILED,
        actor=user if signed_in else None,
        actor_text=str(user) if user else "",
        target=user,
        outcome=Outcome.FAILURE,
        data={"kind": Kind.PASSKEY.value, "purpose": purpose, "error": error},
    )


def check_stepup_password(*, user: User, password: str, client_ip: str | None) -> bool:
    """The step-up password check, under the same failed-login throttle as the login page
    (counted for ``client_ip`` and the user's address). A refusal is audited.

    Not in a transaction: the password is hashed before anything is written (SQLite would
    hold its write lock through the hash), and the one row written commits on its own."""
    attempt = ratelimits.consume_attempt(ip=client_ip, email=user.email)
    if not attempt.allowed:
        outcome = Action.MFA_THROTTLED
    elif user.check_password(password):
        attempt.rollback()
        return True
    else:
        outcome = Action.MFA_FAILED
    record(
        outcome,
        actor=user,
        target=user,
        outcome=Outcome.FAILURE,
        data={"kind": Kind.PASSWORD.value, "purpose": "stepup"},
    )
    return False
