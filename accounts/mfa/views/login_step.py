"""The second step of a login: a code, or a passkey, before the session counts as signed in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.mfa import policy
from accounts.mfa.allauth_glue import enter_stage, record
from accounts.mfa.forms import CodeForm
from accounts.mfa.policy import LABELS, Kind
from accounts.mfa.services import verification
from accounts.mfa.session import mark_verified
from accounts.mfa.stages import STAGE_KEY, first_factor
from accounts.mfa.views.common import (
    CODE_KINDS,
    email_code_message,
    email_code_quota,
    failure_message,
    passkey_config,
)
from accounts.models import User


def finish_second_step(request: HttpRequest, stage: Any, device: Any, kind: Kind) -> HttpResponse:
    """The second factor passed: note it, mark the session verified, and let allauth finish
    the login (Django's login() keeps the session's data, so both survive)."""
    user = stage.login.user
    record(request, user, "mfa", type=kind.value, id=device.persistent_id, reauthenticated=True)
    mark_verified(session=request.session, user=request.user, device=device)
    return stage.exit()


def in_second_step(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
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


# First factors that came from the mailbox: an emailed login code, a reset link that logs in.
MAILBOX_METHODS = ("code", "password_reset")


def _email_allowed_at_login(request: HttpRequest, user: User, kinds: set[Kind]) -> bool:
    """Emailed codes are the weakest second step: whoever controls the mailbox can also reset
    the password. They are offered only to users who have nothing stronger, and never after a
    first factor that already came from the mailbox (an emailed login code, a reset link)."""
    if Kind.EMAIL not in kinds or kinds & {Kind.TOTP, Kind.PASSKEY}:
        return False
    return first_factor(request, user).get("method") not in MAILBOX_METHODS


@in_second_step
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
            device, reason = verification.verify_second_factor(
                user=user,
                kind=kind,
                code=form.cleaned_data["code"],
                purpose="login",
                signed_in=False,
            )
            if device is not None:
                return finish_second_step(request, stage, device, kind)
            form.add_error("code", failure_message(reason, kind, user))
            status = 429 if reason == "throttled" else 400
        else:
            status = 400
    return render(
        request,
        "accounts/mfa/authenticate.html",
        {
            "form": form,
            "kinds": kinds,
            "offered": offered,
            "active_kind": kind or (offered[0] if offered else None),
            "passkey_config": passkey_config(
                request, begin="mfa:login-passkey-begin", complete="mfa:login-passkey-complete"
            )
            if Kind.PASSKEY in kinds
            else None,
            "email_allowed": email_allowed,
            "mailbox_first": first_factor(request, user).get("method") in MAILBOX_METHODS,
            "labels": {k.value: v for k, v in LABELS.items()},
        },
        status=status,
    )


@in_second_step
@require_POST
def authenticate_email(request: HttpRequest, stage: Any) -> HttpResponse:
    user = stage.login.user
    if not _email_allowed_at_login(request, user, policy.enrolled_kinds(user)):
        messages.error(request, "Email codes are not available for this sign-in.")
        return redirect("mfa:authenticate")
    sent, reason = verification.send_email_code(
        user=user,
        purpose="login",
        signed_in=False,
        within_quota=email_code_quota(request, user),
    )
    email_code_message(request, sent, reason)
    return redirect(f"{reverse('mfa:authenticate')}#email")
