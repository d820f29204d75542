"""Step-up: a signed-in person confirms it is them before a sensitive action
(``accounts.mfa.stepup`` says when it is needed and what is strong enough)."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.mfa import policy, stepup
from accounts.mfa.allauth_glue import record
from accounts.mfa.forms import CodeForm, PasswordForm
from accounts.mfa.policy import LABELS, Kind
from accounts.mfa.services import verification
from accounts.mfa.session import mark_verified
from accounts.mfa.views.common import (
    CODE_KINDS,
    email_code_message,
    email_code_quota,
    failure_message,
    leads_to_admin,
    passkey_config,
    safe_next,
    signed_in_user,
)
from accounts.models import User

# What checking one posted answer gives: whether it passed, the form to show again if not, and
# the page's status.
Checked = tuple[bool, Any, int]


def _stepup_done(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(safe_next(request, reverse("mfa:security")))


def _stepup_options(user: User, kinds: set[Kind]) -> tuple[list[Kind], bool]:
    """The code factors a step-up may use, and whether the password is the way."""
    needed = stepup.required_strength(user)
    offered = [k for k in CODE_KINDS if k in kinds and policy.STRENGTH[k] >= needed]
    if needed == policy.STRENGTH[Kind.EMAIL] and Kind.EMAIL not in offered:
        offered.append(Kind.EMAIL)  # an account with neither MFA nor a password: its mailbox
    use_password = needed == policy.STRENGTH[Kind.PASSWORD]
    return offered, use_password


def _check_password(request: HttpRequest, user: User) -> Checked:
    form = PasswordForm(request.POST)
    if form.is_valid() and verification.check_stepup_password(
        user=user,
        password=form.cleaned_data["password"],
        client_ip=get_adapter(request).get_client_ip(request),
    ):
        record(request, user, "password", reauthenticated=True)
        return True, form, 200
    form.add_error("password", "That password is not right.")
    return False, form, 400


def _check_code(request: HttpRequest, user: User, kind: Kind) -> Checked:
    form = CodeForm(request.POST)
    if not form.is_valid():
        return False, form, 400
    device, reason = verification.verify_second_factor(
        user=user, kind=kind, code=form.cleaned_data["code"], purpose="stepup", signed_in=True
    )
    if device is None:
        form.add_error("code", failure_message(reason, kind, user))
        return False, form, 429 if reason == "throttled" else 400
    record(request, user, "mfa", type=kind.value, id=device.persistent_id, reauthenticated=True)
    if device.confirmed:
        mark_verified(session=request.session, user=user, device=device)
    return True, form, 200


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def stepup_view(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    kinds = policy.enrolled_kinds(user)
    offered, use_password = _stepup_options(user, kinds)
    kind_param = request.POST.get("kind", "")
    status = 200
    form: Any = PasswordForm(None) if use_password else CodeForm(None)
    if request.method == "POST":
        if use_password and kind_param == Kind.PASSWORD:
            passed, form, status = _check_password(request, user)
        elif kind_param in offered:
            passed, form, status = _check_code(request, user, Kind(kind_param))
        else:
            messages.error(request, "Choose one of the ways offered to confirm it is you.")
            passed, status = False, 400
        if passed:
            return _stepup_done(request)
    next_url = safe_next(request, "")
    return render(
        request,
        "accounts/mfa/stepup.html",
        {
            "form": form,
            "offered": offered,
            "use_password": use_password,
            "passkey_config": passkey_config(
                request, begin="mfa:stepup-passkey-begin", complete="mfa:stepup-passkey-complete"
            )
            if Kind.PASSKEY in kinds
            else None,
            "next": next_url,
            "for_admin": leads_to_admin(request, next_url),
            "labels": {k.value: v for k, v in LABELS.items()},
            "max_age_minutes": max(1, settings.GATEHOUSE_STEPUP_MAX_AGE // 60),
        },
        status=status,
    )


@login_required
@require_POST
def stepup_email(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    offered, _ = _stepup_options(user, policy.enrolled_kinds(user))
    back = stepup.stepup_url(safe_next(request, reverse("mfa:security")))
    if Kind.EMAIL not in offered:
        messages.error(request, "Use your authenticator app, a passkey or a backup code.")
        return redirect(back)
    sent, reason = verification.send_email_code(
        user=user,
        purpose="stepup",
        signed_in=True,
        within_quota=email_code_quota(request, user),
    )
    email_code_message(request, sent, reason)
    return redirect(back)
