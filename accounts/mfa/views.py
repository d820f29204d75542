"""Pages for second factors: the login's second step, /account/security/, and step-up."""

from __future__ import annotations

from base64 import b32encode
from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration

from accounts.mfa import policy, services, stepup
from accounts.mfa.allauth_glue import enter_stage, record
from accounts.mfa.forms import CodeForm, PasswordForm, RenameForm, TOTPConfirmForm
from accounts.mfa.policy import LABELS, Kind
from accounts.mfa.stages import STAGE_KEY, first_factor
from accounts.models import BackupCodeDevice, User
from accounts.services import ServiceError

CODE_KINDS = (Kind.TOTP, Kind.BACKUP_CODE, Kind.EMAIL)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _safe_next(request: HttpRequest, default: str) -> str:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return default


def _leads_to_admin(request: HttpRequest, next_url: str) -> bool:
    """Staff sent here by the admin (config/admin_site.py), which wants a strong factor."""
    path = urlsplit(next_url).path
    return _user(request).is_staff and path.startswith(reverse("admin:index"))


def _throttle_message(device_kind: Kind, user: User) -> str:
    model = policy.DEVICE_MODELS[device_kind]
    until = [services.throttled_until(d) for d in model.objects.filter(user=user, confirmed=True)]
    until = [u for u in until if u is not None]
    if until:
        seconds = max(1, int((min(until) - timezone.now()).total_seconds()) + 1)
        return f"Too many wrong codes. Try again in {seconds} seconds, or use another method."
    return "Too many wrong codes. Try again shortly, or use another method."


def _failure_message(reason: str, kind: Kind, user: User) -> str:
    if reason == "throttled":
        return _throttle_message(kind, user)
    if reason == "unavailable":
        return "That method is not set up for this account."
    if kind == Kind.BACKUP_CODE:
        return "That backup code is wrong or has already been used."
    if kind == Kind.EMAIL:
        return "That code is wrong or has expired. Ask for a new one."
    return "That code is wrong. Check the time on your phone and try the newest code."


# --- The second step of a login ------------------------------------------------------------


def finish_second_step(request: HttpRequest, stage: Any, device: Any, kind: Kind) -> HttpResponse:
    """The second factor passed: note it, mark the session verified, and let allauth finish
    the login (Django's login() keeps the session's data, so both survive)."""
    user = stage.login.user
    record(request, user, "mfa", type=kind.value, id=device.persistent_id, reauthenticated=True)
    services.mark_verified(request, device)
    return stage.exit()


def _in_second_step(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect(settings.LOGIN_REDIRECT_URL)
        stage = enter_stage(request, STAGE_KEY)
        if stage is None:
            messages.error(request, "Your sign-in expired. Please sign in again.")
            return redirect("account_login")
        return view(request, stage, *args, **kwargs)

    return wrapper


def _email_allowed_at_login(request: HttpRequest, user: User, kinds: set[Kind]) -> bool:
    """Emailed codes are the weakest second step: whoever controls the mailbox can also reset
    the password. They are offered only to users who have nothing stronger, and never after a
    first factor that already came from the mailbox (an emailed login code, a reset link)."""
    if Kind.EMAIL not in kinds or kinds & {Kind.TOTP, Kind.PASSKEY}:
        return False
    return first_factor(request, user).get("method") not in ("code", "password_reset")


@_in_second_step
@require_http_methods(["GET", "POST"])
def authenticate(request: HttpRequest, stage: Any) -> HttpResponse:
    user = stage.login.user
    kinds = policy.enrolled_kinds(user)
    email_allowed = _email_allowed_at_login(request, user, kinds)
    offered = [k for k in CODE_KINDS if k in kinds and (k != Kind.EMAIL or email_allowed)]
    posted_kind = request.POST.get("kind", "")
    kind = Kind(posted_kind) if posted_kind in offered else None
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if kind is None:
            messages.error(request, "Choose one of the ways offered to confirm it is you.")
            status = 400
        elif form.is_valid():
            device, reason = services.verify_second_factor(
                request=request,
                user=user,
                kind=kind,
                code=form.cleaned_data["code"],
                purpose="login",
            )
            if device is not None:
                return finish_second_step(request, stage, device, kind)
            form.add_error("code", _failure_message(reason, kind, user))
            status = 429 if reason == "throttled" else 400
        else:
            status = 400
    passkey_config = None
    if Kind.PASSKEY in kinds:
        passkey_config = get_configuration(
            request,
            {
                "beginAuthenticationUrl": reverse("mfa:login-passkey-begin"),
                "completeAuthenticationUrl": reverse("mfa:login-passkey-complete"),
            },
        )
    return render(
        request,
        "accounts/mfa/authenticate.html",
        {
            "form": form,
            "kinds": kinds,
            "offered": offered,
            "active_kind": kind or (offered[0] if offered else None),
            "passkey_config": passkey_config,
            "email_allowed": email_allowed,
            "labels": {k.value: v for k, v in LABELS.items()},
        },
        status=status,
    )


@_in_second_step
@require_POST
def authenticate_email(request: HttpRequest, stage: Any) -> HttpResponse:
    user = stage.login.user
    if not _email_allowed_at_login(request, user, policy.enrolled_kinds(user)):
        messages.error(request, "Email codes are not available for this sign-in.")
        return redirect("mfa:authenticate")
    sent, reason = services.send_email_code(request=request, user=user, purpose="login")
    _email_code_message(request, sent, reason)
    return redirect(f"{reverse('mfa:authenticate')}#email")


def _email_code_message(request: HttpRequest, sent: bool, reason: str) -> None:
    if sent:
        minutes = max(1, settings.OTP_EMAIL_TOKEN_VALIDITY // 60)
        messages.success(request, f"We emailed you a code. It is valid for {minutes} minutes.")
    elif reason == "rate_limited":
        messages.error(request, "Too many codes were sent. Try again later, or use another way.")
    else:
        messages.error(request, "A code was sent a moment ago. Wait a minute before asking again.")


# --- /account/security/ ---------------------------------------------------------------------


def _factors(user: User) -> dict[str, Any]:
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
    user = _user(request)
    context = _factors(user)
    kinds = policy.enrolled_kinds(user)
    stepped_up = stepup.is_satisfied(request)
    next_url = _safe_next(request, "")
    for_admin = _leads_to_admin(request, next_url)
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
        }
    )
    return render(request, "accounts/mfa/security.html", context)


@login_required
@never_cache
@stepup.stepup_required
@require_http_methods(["GET", "POST"])
def totp_add(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    next_url = _safe_next(request, "")
    if request.method == "POST":
        form = TOTPConfirmForm(request.POST)
        device = None
        if form.is_valid():
            try:
                device = services.confirm_totp(
                    request=request,
                    user=user,
                    device_id=form.cleaned_data["device"],
                    code=form.cleaned_data["code"],
                    name=form.cleaned_data["name"],
                )
            except ServiceError as exc:
                messages.error(request, str(exc))
                return redirect("mfa:totp-add")
            if device is not None:
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
    pending = services.start_totp(user=user)
    form = TOTPConfirmForm(initial={"device": pending.pk})
    return _render_totp(request, pending, form, next_url)


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


def _after_first_factor(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """Right after someone's first real factor, give them backup codes if they have none."""
    if not BackupCodeDevice.objects.filter(user=user).exists():
        codes = services.regenerate_backup_codes(request=request, user=user)
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
    user = _user(request)
    if policy.enrolled_kinds(user) & {Kind.TOTP, Kind.PASSKEY}:
        messages.info(request, "Your authenticator app or passkey already protects you better.")
        return redirect("mfa:security")
    services.enable_email_codes(request=request, user=user)
    messages.success(request, f"Sign-in codes will be emailed to {user.email}.")
    return _after_first_factor(request, user, _safe_next(request, ""))


@login_required
@stepup.stepup_required
@require_POST
def backup_codes(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not (policy.enrolled_kinds(user) & set(policy.MFA_KINDS)):
        messages.error(request, "Set up an authenticator app, a passkey or email codes first.")
        return redirect("mfa:security")
    codes = services.regenerate_backup_codes(request=request, user=user)
    return _render_codes(request, codes, _safe_next(request, ""))


@login_required
@stepup.stepup_required
@require_POST
def device_remove(request: HttpRequest, kind: str, device_id: int) -> HttpResponse:
    try:
        services.remove_device(request=request, user=_user(request), kind=kind, device_id=device_id)
    except ServiceError as exc:
        messages.error(request, str(exc))
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
        services.rename_device(
            user=_user(request), kind=kind, device_id=device_id, name=form.cleaned_data["name"]
        )
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("mfa:security")
    messages.success(request, "Renamed.")
    return redirect("mfa:security")


# --- Step-up --------------------------------------------------------------------------------


def _stepup_done(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(_safe_next(request, reverse("mfa:security")))


def _stepup_options(user: User, kinds: set[Kind]) -> tuple[list[Kind], bool]:
    """The code factors a step-up may use, and whether the password is the way."""
    needed = stepup.required_strength(user)
    offered = [k for k in CODE_KINDS if k in kinds and policy.STRENGTH[k] >= needed]
    if needed == policy.STRENGTH[Kind.EMAIL] and Kind.EMAIL not in offered:
        offered.append(Kind.EMAIL)  # an account with neither MFA nor a password: its mailbox
    use_password = needed == policy.STRENGTH[Kind.PASSWORD]
    return offered, use_password


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def stepup_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    kinds = policy.enrolled_kinds(user)
    offered, use_password = _stepup_options(user, kinds)
    kind_param = request.POST.get("kind", "")
    status = 200
    form: Any = PasswordForm(None) if use_password else CodeForm(None)
    if request.method == "POST":
        if use_password and kind_param == Kind.PASSWORD:
            form = PasswordForm(request.POST)
            if form.is_valid() and services.check_stepup_password(
                request=request, user=user, password=form.cleaned_data["password"]
            ):
                record(request, user, "password", reauthenticated=True)
                return _stepup_done(request)
            form.add_error("password", "That password is not right.")
            status = 400
        elif kind_param in offered:
            kind = Kind(kind_param)
            form = CodeForm(request.POST)
            if form.is_valid():
                device, reason = services.verify_second_factor(
                    request=request,
                    user=user,
                    kind=kind,
                    code=form.cleaned_data["code"],
                    purpose="stepup",
                )
                if device is not None:
                    record(
                        request,
                        user,
                        "mfa",
                        type=kind.value,
                        id=device.persistent_id,
                        reauthenticated=True,
                    )
                    if device.confirmed:
                        services.mark_verified(request, device)
                    return _stepup_done(request)
                form.add_error("code", _failure_message(reason, kind, user))
                status = 429 if reason == "throttled" else 400
            else:
                status = 400
        else:
            messages.error(request, "Choose one of the ways offered to confirm it is you.")
            status = 400
    passkey_config = None
    if Kind.PASSKEY in kinds:
        passkey_config = get_configuration(
            request,
            {
                "beginAuthenticationUrl": reverse("mfa:stepup-passkey-begin"),
                "completeAuthenticationUrl": reverse("mfa:stepup-passkey-complete"),
            },
        )
    return render(
        request,
        "accounts/mfa/stepup.html",
        {
            "form": form,
            "offered": offered,
            "use_password": use_password,
            "passkey_config": passkey_config,
            "next": _safe_next(request, ""),
            "for_admin": _leads_to_admin(request, _safe_next(request, "")),
            "labels": {k.value: v for k, v in LABELS.items()},
            "max_age_minutes": max(1, settings.GATEHOUSE_STEPUP_MAX_AGE // 60),
        },
        status=status,
    )


@login_required
@require_POST
def stepup_email(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    offered, _ = _stepup_options(user, policy.enrolled_kinds(user))
    if Kind.EMAIL not in offered:
        messages.error(request, "Use your authenticator app, a passkey or a backup code.")
        return redirect(stepup.stepup_url(_safe_next(request, reverse("mfa:security"))))
    sent, reason = services.send_email_code(request=request, user=user, purpose="stepup")
    _email_code_message(request, sent, reason)
    return redirect(stepup.stepup_url(_safe_next(request, reverse("mfa:security"))))
