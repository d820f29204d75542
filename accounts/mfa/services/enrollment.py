"""Adding, naming and removing second factors. Removing them all (recovery) waits: see
recovery.py."""

from __future__ import annotations

from typing import Any

from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.devices import describe_user_agent
from accounts.mfa import policy
from accounts.mfa.policy import LABELS, Kind
from accounts.mfa.services.notices import notify
from accounts.mfa.services.verification import code_is_right
from accounts.models import (
    BACKUP_CODE_COUNT,
    BackupCode,
    BackupCodeDevice,
    User,
    format_backup_code,
)
from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service

DEVICE_NAME_MAX_LENGTH = 64


def clean_device_name(name: str, default: str) -> str:
    """``name`` with its whitespace collapsed and cut to the column's width; ``default`` when
    nothing is left."""
    name = " ".join((name or "").split())[:DEVICE_NAME_MAX_LENGTH]
    return name or default


def unique_default_name(user: User, kind: Kind, *, excluding: Any = None, base: str = "") -> str:
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


def _added(user: User, device: Any, kind: Kind) -> None:
    record(
        Action.MFA_DEVICE_ADDED,
        actor=user,
        target=user,
        data={"kind": kind.value, "device": device.name},
    )
    notify(user, "mfa_device_added", kind_label=LABELS[kind], device_name=device.name)


# --- Enrollment ---------------------------------------------------------------------------------


@service
def start_totp(*, user: User) -> TOTPDevice:
    """A fresh, unconfirmed TOTP device: it counts for nothing until a code from it is entered."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="", confirmed=False)


@service
def confirm_totp(*, user: User, device_id: int, code: str, name: str = "") -> TOTPDevice | None:
    """Confirm the pending TOTP device ``device_id`` with a code from it, naming it. Returns
    the device, or None when the code is wrong; refuses when the setup has expired.

    The code proves possession of the new factor: the caller counts it as a fresh
    authentication of the session with it (step-up) and marks the session verified."""
    device = TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=False).first()
    if device is None:
        raise Refusal("That setup has expired. Start again to get a new QR code.")
    if not code_is_right(user, device, code):
        return None
    device.confirmed = True
    device.name = clean_device_name(name, unique_default_name(user, Kind.TOTP))
    device.save(update_fields=["confirmed", "name"])
    _added(user, device, Kind.TOTP)
    return device


@service
def enable_email_codes(*, user: User) -> EmailDevice:
    """Turn on emailed codes as a second factor (to the user's address at the time of use)."""
    existing = EmailDevice.objects.filter(user=user, confirmed=True).first()
    if existing is not None:
        return existing
    device = EmailDevice.objects.create(
        user=user, name=LABELS[Kind.EMAIL], email=None, confirmed=True
    )
    _added(user, device, Kind.EMAIL)
    return device


# Joins the transaction in which the passkey view stored the credential: both or neither.
@service(durable=False)
def passkey_added(*, device: WebAuthnCredential, user_agent: str) -> None:
    """Record a passkey just registered, naming it after the browser and system it was
    created on (``user_agent``: "Safari on iPhone"), which people recognise in their list,
    rather than a bare "Passkey".

    Registering proved possession of the passkey: the caller counts it as a fresh
    authentication of the session with it (step-up)."""
    user = device.user
    if not device.name or device.name == user.get_username():
        where = describe_user_agent(user_agent)
        base = where if where and not where.startswith("Unknown") else ""
        device.name = unique_default_name(user, Kind.PASSKEY, excluding=device, base=base)
        device.save(update_fields=["name"])
    _added(user, device, Kind.PASSKEY)


@service
def regenerate_backup_codes(*, user: User) -> list[str]:
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


@service
def rename_device(*, user: User, kind: str, device_id: int, name: str) -> Any:
    device = _owned_device(user, kind, device_id)
    if device is None or Kind(kind) == Kind.BACKUP_CODE:
        raise Refusal("That factor does not exist.")
    new_name = clean_device_name(name, "")
    if not new_name:
        raise Refusal("Give it a name.")
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


def _refuse_unless_removable(user: User, kind: Kind, device: Any) -> set[Kind]:
    """The kinds of factor the user keeps once ``device`` is gone; refused when an account
    that must have an authenticator app or a passkey would be left without one."""
    remaining = policy.enrolled_kinds(user)
    others = policy.DEVICE_MODELS[kind].objects.filter(user=user, confirmed=True)
    if not others.exclude(pk=device.pk).exists():
        remaining.discard(kind)
    if (
        kind in policy.ENROLLMENT_KINDS
        and not policy.satisfies_enrollment(remaining)
        and policy.enrollment_required(user)
    ):
        raise Refusal(
            "Your account requires an authenticator app or a passkey: add another one before "
            "removing this one."
        )
    return remaining


@service
def remove_device(*, user: User, kind: str, device_id: int) -> None:
    device = _owned_device(user, kind, device_id)
    if device is None:
        raise Refusal("That factor does not exist.")
    kind_ = Kind(kind)
    remaining = _refuse_unless_removable(user, kind_, device)
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
    notify(user, "mfa_device_removed", kind_label=LABELS[kind_], device_name=name)
