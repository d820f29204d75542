"""The write path for second factors: every enrollment, removal, use and reset.

Each function runs in one transaction and records its audit event in it; notification emails
go through allauth's adapter, so they are stored in the outbox and sent by Celery after the
transaction commits. Views call these with the request (for the email's "where the change came
from" facts and for marking the session as verified).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.core import ratelimit
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp import verify_token as otp_verify_token
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.devices import describe_user_agent
from accounts.mfa import policy
from accounts.mfa.policy import LABELS, Kind
from accounts.models import (
    BACKUP_CODE_COUNT,
    BackupCode,
    BackupCodeDevice,
    User,
    format_backup_code,
)
from accounts.services import ServiceError, _clean_reason
from audit.actions import Action, Outcome
from audit.services import record

DEVICE_NAME_MAX_LENGTH = 64
EMAIL_CODE_LENGTH = 6


def _notify(request: HttpRequest | None, user: User, template: str, **context: Any) -> None:
    if request is None:
        return
    get_adapter(request).send_notification_mail(f"accounts/email/{template}", user, context)


def _device_name(name: str, default: str) -> str:
    name = " ".join((name or "").split())[:DEVICE_NAME_MAX_LENGTH]
    return name or default


def _unique_default_name(user: User, kind: Kind, *, excluding: Any = None, base: str = "") -> str:
    """``base`` (or the kind's label), numbered when the user already has one by that name:
    "Chrome on macOS", then "Chrome on macOS 2"."""
    model = policy.DEVICE_MODELS[kind]
    others = model.objects.filter(user=user, confirmed=True)
    if excluding is not None:
        others = others.exclude(pk=excluding.pk)
    if not base:
        count = others.count()
        label = LABELS[kind]
        return label if count == 0 else f"{label} {count + 1}"
    base = base[: DEVICE_NAME_MAX_LENGTH - 4]
    taken = set(others.values_list("name", flat=True))
    number = 1
    while (name := base if number == 1 else f"{base} {number}") in taken:
        number += 1
    return name


def mark_verified(request: HttpRequest, device: Any) -> None:
    """The session passed a second factor (django-otp's ``request.user.is_verified()``)."""
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        otp_login(request, device)
    else:
        # During the login's second step the user is not logged in yet: Django's login() keeps
        # this key, because it only cycles the session of an anonymous visitor.
        request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id


# --- Enrollment ---------------------------------------------------------------------------------


@transaction.atomic
def start_totp(*, user: User) -> TOTPDevice:
    """A fresh, unconfirmed TOTP device: it counts for nothing until a code from it is entered."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="", confirmed=False)


@transaction.atomic
def confirm_totp(
    *, request: HttpRequest, user: User, device_id: int, code: str, name: str = ""
) -> TOTPDevice | None:
    device = TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=False).first()
    if device is None:
        raise ServiceError("That setup has expired. Start again to get a new QR code.")
    if not _verify(user, device, code):
        return None
    device.confirmed = True
    device.name = _device_name(name, _unique_default_name(user, Kind.TOTP))
    device.save(update_fields=["confirmed", "name"])
    _added(request, user, device, Kind.TOTP)
    mark_verified(request, device)
    return device


@transaction.atomic
def enable_email_codes(*, request: HttpRequest, user: User) -> EmailDevice:
    existing = EmailDevice.objects.filter(user=user, confirmed=True).first()
    if existing is not None:
        return existing
    device = EmailDevice.objects.create(
        user=user, name=LABELS[Kind.EMAIL], email=None, confirmed=True
    )
    _added(request, user, device, Kind.EMAIL)
    return device


@transaction.atomic
def passkey_added(*, request: HttpRequest, device: WebAuthnCredential) -> None:
    """Name a new passkey after the browser and system it was created on ("Safari on
    iPhone"), which people recognise in their list, rather than a bare "Passkey"."""
    user = device.user
    if not device.name or device.name == user.get_username():
        where = describe_user_agent(request.META.get("HTTP_USER_AGENT", ""))
        base = where if where and not where.startswith("Unknown") else ""
        device.name = _unique_default_name(user, Kind.PASSKEY, excluding=device, base=base)
        device.save(update_fields=["name"])
    _added(request, user, device, Kind.PASSKEY)


def _added(request: HttpRequest, user: User, device: Any, kind: Kind) -> None:
    if kind in (Kind.TOTP, Kind.PASSKEY):
        # Enrolling proved possession of the new factor (a code from the app, a signature
        # from the passkey): it counts as a fresh authentication with it for step-up.
        from accounts.mfa.allauth_glue import record as record_authentication

        record_authentication(
            request, user, "mfa", type=kind.value, id=device.persistent_id, reauthenticated=True
        )
    record(
        Action.MFA_DEVICE_ADDED,
        actor=user,
        target=user,
        data={"kind": kind.value, "device": device.name},
    )
    _notify(request, user, "mfa_device_added", kind_label=LABELS[kind], device_name=device.name)


@transaction.atomic
def regenerate_backup_codes(*, request: HttpRequest, user: User) -> list[str]:
    """Ten new codes, replacing any old ones. The plain codes are returned once, here."""
    device, _ = BackupCodeDevice.objects.select_for_update().get_or_create(
        user=user,
        defaults={"name": LABELS[Kind.BACKUP_CODE], "salt": BackupCodeDevice.new_salt()},
    )
    device.salt = BackupCodeDevice.new_salt()
    device.throttle_reset(commit=False)
    device.save()
    device.codes.all().delete()
    codes: list[str] = []
    while len(codes) < BACKUP_CODE_COUNT:
        code = BackupCodeDevice.new_code()
        if code not in codes:
            codes.append(code)
    BackupCode.objects.bulk_create(
        BackupCode(device=device, code_hash=device.hash_code(c)) for c in codes
    )
    record(
        Action.MFA_BACKUP_CODES_GENERATED,
        actor=user,
        target=user,
        data={"count": len(codes)},
    )
    return [format_backup_code(c) for c in codes]


# --- Changes --------------------------------------------------------------------------------


def _owned_device(user: User, kind: str, device_id: int) -> Any:
    model = policy.DEVICE_MODELS.get(kind)  # type: ignore[call-overload]
    if model is None:
        return None
    return model.objects.filter(user=user, pk=device_id, confirmed=True).first()


@transaction.atomic
def rename_device(*, user: User, kind: str, device_id: int, name: str) -> Any:
    device = _owned_device(user, kind, device_id)
    if device is None or Kind(kind) == Kind.BACKUP_CODE:
        raise ServiceError("That factor does not exist.")
    new_name = _device_name(name, "")
    if not new_name:
        raise ServiceError("Give it a name.")
    old_name = device.name
    device.name = new_name
    device.save(update_fields=["name"])
    record(
        Action.MFA_DEVICE_RENAMED,
        actor=user,
        target=user,
        data={"kind": kind, "device": new_name, "previous": old_name},
    )
    return device


@transaction.atomic
def remove_device(*, request: HttpRequest, user: User, kind: str, device_id: int) -> None:
    device = _owned_device(user, kind, device_id)
    if device is None:
        raise ServiceError("That factor does not exist.")
    kind_ = Kind(kind)
    remaining = policy.enrolled_kinds(user)
    others = (
        policy.DEVICE_MODELS[kind_].objects.filter(user=user, confirmed=True).exclude(pk=device.pk)
    )
    if not others.exists():
        remaining.discard(kind_)
    if (
        kind_ in policy.ENROLLMENT_KINDS
        and not policy.satisfies_enrollment(remaining)
        and policy.enrollment_required(user)
    ):
        raise ServiceError(
            "Your account requires an authenticator app or a passkey: add another one before "
            "removing this one."
        )
    name = device.name
    device.delete()
    data: dict[str, Any] = {"kind": kind, "device": name}
    if not (remaining & set(policy.MFA_KINDS)):
        # Backup codes are a way back to MFA; with no MFA left they would be a dangling
        # password bypass for nothing, so they go too.
        dropped = BackupCodeDevice.objects.filter(user=user).delete()[0]
        if dropped:
            data["recovery_removed"] = True
    record(Action.MFA_DEVICE_REMOVED, actor=user, target=user, data=data)
    _notify(request, user, "mfa_device_removed", kind_label=LABELS[kind_], device_name=name)


@transaction.atomic
def reset_mfa(*, user: User, actor: User, reason: str, request: HttpRequest | None = None) -> int:
    """Support's recovery for a user who lost every factor: remove them all (the user enrolls
    again at the next login if MFA is required). Returns how many factors were removed."""
    reason = _clean_reason(reason)
    removed = 0
    for model in policy.DEVICE_MODELS.values():
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    record(
        Action.MFA_RESET,
        actor=actor,
        target=user,
        data={"reason": reason, "removed": removed},
    )
    _notify(request, user, "mfa_reset")
    return removed


# --- Using a factor -----------------------------------------------------------------------------


def _verify(user: User, device: Any, code: str) -> bool:
    # django_otp.verify_token locks the device row (select_for_update) for the check, so the
    # same code posted twice at once is accepted once; TOTP refuses a time step already used.
    return otp_verify_token(user, device.persistent_id, str(code).strip()) is not None


def throttled_until(device: Any) -> Any:
    allowed, info = device.verify_is_allowed()
    if allowed:
        return None
    return (info or {}).get("locked_until") or timezone.now()


@transaction.atomic
def verify_second_factor(
    *, request: HttpRequest, user: User, kind: str, code: str, purpose: str
) -> tuple[Any, str]:
    """Check a code of the user's factor of ``kind``. Returns ``(device, "")`` when it passes,
    else ``(None, reason)`` where reason is "throttled", "wrong" or "unavailable". Audited."""
    try:
        kind_ = Kind(kind)
    except ValueError:
        return None, "unavailable"
    if kind_ == Kind.PASSKEY or kind_ == Kind.PASSWORD:
        return None, "unavailable"
    model = policy.DEVICE_MODELS[kind_]
    devices = list(model.objects.filter(user=user, confirmed=True).order_by("pk"))
    if kind_ == Kind.EMAIL and not devices and purpose == "stepup":
        devices = list(EmailDevice.objects.filter(user=user, confirmed=False, name=STEPUP_DEVICE))
    if not devices:
        return None, "unavailable"
    code = str(code or "").strip()[:64]
    locked = [d for d in devices if throttled_until(d) is not None]
    if len(locked) == len(devices):
        until = max(throttled_until(d) for d in devices)
        record(
            Action.MFA_THROTTLED,
            actor=user if request.user.is_authenticated else None,
            actor_text=str(user),
            target=user,
            outcome=Outcome.FAILURE,
            data={"kind": kind_.value, "purpose": purpose, "locked_until": until.isoformat()},
        )
        return None, "throttled"
    for device in devices:
        if device in locked:
            continue
        if _verify(user, device, code):
            data: dict[str, Any] = {"kind": kind_.value, "device": device.name, "purpose": purpose}
            if kind_ == Kind.BACKUP_CODE:
                left = device.remaining()
                record(
                    Action.MFA_BACKUP_CODE_USED,
                    actor=user if request.user.is_authenticated else None,
                    actor_text=str(user),
                    target=user,
                    data={"purpose": purpose, "left": left},
                )
                _notify(request, user, "mfa_backup_code_used", codes_left=left)
            record(
                Action.MFA_VERIFIED,
                actor=user if request.user.is_authenticated else None,
                actor_text=str(user),
                target=user,
                data=data,
            )
            return device, ""
    record(
        Action.MFA_FAILED,
        actor=user if request.user.is_authenticated else None,
        actor_text=str(user),
        target=user,
        outcome=Outcome.FAILURE,
        data={"kind": kind_.value, "purpose": purpose},
    )
    return None, "wrong"


STEPUP_DEVICE = "gatehouse:stepup-email"


@transaction.atomic
def send_email_code(*, request: HttpRequest, user: User, purpose: str) -> tuple[bool, str]:
    """Email a one-time code for the second step (or for a step-up of a user with nothing
    but a mailbox). At most one per OTP_EMAIL_COOLDOWN_DURATION, and a few per hour per user
    and per client address. Returns ``(sent, reason)``."""
    device = EmailDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None and purpose == "stepup":
        device, _ = EmailDevice.objects.get_or_create(
            user=user, confirmed=False, name=STEPUP_DEVICE, defaults={"email": None}
        )
    if device is None:
        return False, "unavailable"
    now = timezone.now()
    cooldown = timedelta(seconds=settings.OTP_EMAIL_COOLDOWN_DURATION)
    # Taking the cooldown is one conditional UPDATE: of two requests at the same moment, one
    # sends and the other is told to wait.
    took = (
        EmailDevice.objects.filter(pk=device.pk)
        .filter(Q(last_generated_timestamp=None) | Q(last_generated_timestamp__lt=now - cooldown))
        .update(last_generated_timestamp=now)
    )
    reason = ""
    if not took:
        reason = "cooldown"
    elif not ratelimit.consume(request, action="mfa_email_code", user=user):
        reason = "rate_limited"
    if reason:
        record(
            Action.MFA_EMAIL_CODE_REFUSED,
            actor=user if request.user.is_authenticated else None,
            actor_text=str(user),
            target=user,
            outcome=Outcome.FAILURE,
            data={"purpose": purpose, "reason": reason},
        )
        return False, reason
    device.refresh_from_db()
    device.generate_token(length=EMAIL_CODE_LENGTH, valid_secs=settings.OTP_EMAIL_TOKEN_VALIDITY)
    get_adapter(request).send_mail(
        "accounts/email/mfa_email_code",
        user.email,
        {
            "code": device.token,
            "minutes": settings.OTP_EMAIL_TOKEN_VALIDITY // 60,
            "purpose": purpose,
        },
    )
    record(
        Action.MFA_EMAIL_CODE_SENT,
        actor=user if request.user.is_authenticated else None,
        actor_text=str(user),
        target=user,
        data={"purpose": purpose},
    )
    return True, ""


# --- Outcomes recorded for checks made elsewhere (passkey ceremonies, the step-up password) -----


@transaction.atomic
def passkey_verified(*, user: User, device: Any, purpose: str, signed_in: bool) -> None:
    record(
        Action.MFA_VERIFIED,
        actor=user if signed_in else None,
        actor_text=str(user),
        target=user,
        data={"kind": Kind.PASSKEY.value, "device": device.name, "purpose": purpose},
    )


@transaction.atomic
def passkey_failed(*, user: User | None, purpose: str, error: str, signed_in: bool) -> None:
    record(
        Action.MFA_FAILED,
        actor=user if signed_in else None,
        actor_text=str(user) if user else "",
        target=user,
        outcome=Outcome.FAILURE,
        data={"kind": Kind.PASSKEY.value, "purpose": purpose, "error": error},
    )


@transaction.atomic
def check_stepup_password(*, request: HttpRequest, user: User, password: str) -> bool:
    """The step-up password check, under the same failed-login throttle as the login page."""
    from accounts import ratelimits

    attempt = ratelimits.consume_attempt(
        ip=get_adapter(request).get_client_ip(request), email=user.email
    )
    outcome: Action | None = None
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
