"""/account/security/: the factors a person has, adding, naming and removing them."""

from __future__ import annotations

from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration

from accounts.mfa import policy, stepup
from accounts.mfa.allauth_glue import record
from accounts.mfa.forms import RenameForm, TOTPConfirmForm
from accounts.mfa.policy import Kind
from accounts.mfa.services import enrollment, recovery
from accounts.mfa.session import mark_verified
from accounts.mfa.views.common import leads_to_admin, safe_next, signed_in_user
from accounts.models import BackupCodeDevice, User
from config.refusals import Refusal


def _factors(user: User) -> dict[str, object]:
    backup = BackupCodeDevice.objects.filter(user=user).first()
    return {
        "passkeys": list(
            WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("pk")
        ),
        "totps": list(TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk")),
        "email_device": EmailDevice.objects.filter(user=user, confirmed=True).first(),
        "backup_device": backup,
        "backup_left": backup.remaining() if backup else 0,
    }


@login_required
@never_cache
@require_http_methods(["GET"])
def security(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    context = _factors(user)
    kinds = policy.enrolled_kinds(user)
    stepped_up = stepup.is_satisfied(request)
    next_url = safe_next(request, "")
    for_admin = leads_to_admin(request, next_url)
    context.update(
        {
            "has_mfa": bool(kinds & set(policy.MFA_KINDS)),
            "must_enroll": not policy.satisfies_enrollment(kinds)
            and policy.enrollment_required(user),
            "for_admin": for_admin,
            "admin_ready": for_admin and bool(kinds & {Kind.TOTP, Kind.PASSKEY}),
            "stepped_up": stepped_up,
            "stepup_url": stepup.stepup_url(request.get_full_path()),
            "next": next_url,
            "register_config": get_configuration(request) if stepped_up else None,
            "mfa_reset": recovery.pending_reset(user),
        }
    )
    return render(request, "accounts/mfa/security.html", context)


# --- Authenticator app ------------------------------------------------------------------------


@login_required
@never_cache
@stepup.stepup_required
@require_http_methods(["GET", "POST"])
def totp_add(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, "")
    if request.method == "POST":
        return _confirm_totp(request, next_url)
    pending = enrollment.start_totp(user=signed_in_user(request))
    form = TOTPConfirmForm(initial={"device": pending.pk})
    return _render_totp(request, pending, form, next_url)


def _confirm_totp(request: HttpRequest, next_url: str) -> HttpResponse:
    user = signed_in_user(request)
    form = TOTPConfirmForm(request.POST)
    if form.is_valid():
        try:
            device = enrollment.confirm_totp(
                user=user,
                device_id=form.cleaned_data["device"],
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
            )
        except Refusal as refusal:
            refusal.record()
            messages.error(request, refusal.message)
            return redirect("mfa:totp-add")
        if device is not None:
            # The code proved possession of the new factor: a fresh authentication with it.
            record(
                request,
                user,
                "mfa",
                type=Kind.TOTP.value,
                id=device.persistent_id,
                reauthenticated=True,
            )
            mark_verified(session=request.session, user=user, device=device)
            messages.success(request, f"“{device.name}” is set up.")
            return _after_first_factor(request, user, next_url)
        form.add_error(
            "code",
            "That code does not match. Scan the QR code again and enter the newest code.",
        )
    raw_id = str(form.data.get("device", ""))
    pending = TOTPDevice.objects.filter(
        user=user,
        confirmed=False,
        pk=int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19 else None,
    ).first()
    if pending is None:
        messages.error(request, "That setup has expired. Here is a new QR code.")
        return redirect("mfa:totp-add")
    return _render_totp(request, pending, form, next_url, status=400)


def _render_totp(
    request: HttpRequest,
    device: TOTPDevice,
    form: TOTPConfirmForm,
    next_url: str,
    status: int = 200,
) -> HttpResponse:
    # One <path>, no XML declaration and no namespace prefixes: fit to inline in HTML.
    qr = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    secret = b32encode(device.bin_key).decode()
    response = render(
        request,
        "accounts/mfa/totp_add.html",
        {
            "form": form,
            "qr_svg": qr.to_string(encoding="unicode"),
            "secret": secret,
            "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
            "next": next_url,
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


# --- Backup codes and emailed codes -----------------------------------------------------------


def _after_first_factor(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """Right after someone's first real factor, give them backup codes if they have none."""
    if not BackupCodeDevice.objects.filter(user=user).exists():
        codes = enrollment.regenerate_backup_codes(user=user)
        return _render_codes(request, codes, next_url)
    return HttpResponseRedirect(next_url or reverse("mfa:security"))


def _render_codes(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    response = render(request, "accounts/mfa/backup_codes.html", {"codes": codes, "next": next_url})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@stepup.stepup_required
@require_POST
def email_enable(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if policy.enrolled_kinds(user) & {Kind.TOTP, Kind.PASSKEY}:
        messages.info(request, "Your authenticator app or passkey already protects you better.")
        return redirect("mfa:security")
    enrollment.enable_email_codes(user=user)
    messages.success(request, f"Sign-in codes will be emailed to {user.email}.")
    return _after_first_factor(request, user, safe_next(request, ""))


@login_required
@stepup.stepup_required
@require_POST
def backup_codes(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if not (policy.enrolled_kinds(user) & set(policy.MFA_KINDS)):
        messages.error(request, "Set up an authenticator app, a passkey or email codes first.")
        return redirect("mfa:security")
    codes = enrollment.regenerate_backup_codes(user=user)
    return _render_codes(request, codes, safe_next(request, ""))


# --- Removing and renaming --------------------------------------------------------------------


@login_required
@stepup.stepup_required
@require_POST
def device_remove(request: HttpRequest, kind: str, device_id: int) -> HttpResponse:
    try:
        enrollment.remove_device(user=signed_in_user(request), kind=kind, device_id=device_id)
    except Refusal as refusal:
        refusal.record()
        messages.error(request, refusal.message)
        return redirect("mfa:security")
    messages.success(request, "Removed.")
    return redirect("mfa:security")


@login_required
@stepup.stepup_required
@require_POST
def device_rename(request: HttpRequest, kind: str, device_id: int) -> HttpResponse:
    form = RenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give it a name of at most 64 characters.")
        return redirect("mfa:security")
    try:
        enrollment.rename_device(
            user=signed_in_user(request),
            kind=kind,
            device_id=device_id,
            name=form.cleaned_data["name"],
        )
    except Refusal as refusal:
        refusal.record()
        messages.error(request, refusal.message)
        return redirect("mfa:security")
    messages.success(request, "Renamed.")
    return redirect("mfa:security")
