"""The pages of the takeover defences: the emailed code a risky sign-in of a person without a
factor must type, and the "This wasn't me" link of the new-device email."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.mfa import policy
from accounts.mfa.allauth_glue import enter_stage
from accounts.mfa.forms import CodeForm
from accounts.mfa.policy import Kind
from accounts.mfa.services import verification
from accounts.mfa.stages import STAGE_KEY
from accounts.mfa.views.common import email_code_message, email_code_quota, failure_message
from accounts.mfa.views.login_step import finish_second_step
from accounts.models import User
from accounts.takeover import services
from accounts.takeover.signin import read_disown_token
from accounts.takeover.stage import step_up_for

_CODE_SENT = "_gatehouse_risk_code_sent"


def _send_code(request: HttpRequest, user: User) -> None:
    sent, reason = verification.send_email_code(
        user=user, purpose="risk", signed_in=False, within_quota=email_code_quota(request, user)
    )
    email_code_message(request, sent, reason)
    request.session[_CODE_SENT] = True


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    """A risky sign-in of a person with no second factor: an emailed code before it counts."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    stage = enter_stage(request, STAGE_KEY)
    if stage is None or not step_up_for(request):
        messages.error(request, "Your sign-in expired. Please sign in again.")
        return redirect("account_login")
    user = stage.login.user
    if policy.has_mfa(user):
        return redirect("mfa:authenticate")
    if request.method == "POST" and request.POST.get("action") == "send":
        _send_code(request, user)
        return redirect("takeover:confirm")
    if request.method == "GET" and not request.session.get(_CODE_SENT):
        _send_code(request, user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            device, reason = verification.verify_second_factor(
                user=user,
                kind=Kind.EMAIL,
                code=form.cleaned_data["code"],
                purpose="risk",
                signed_in=False,
            )
            if device is not None:
                request.session.pop(_CODE_SENT, None)
                return finish_second_step(request, stage, device, Kind.EMAIL)
            form.add_error("code", failure_message(reason, Kind.EMAIL, user))
            status = 429 if reason == "throttled" else 400
    return render(request, "accounts/takeover/confirm.html", {"form": form}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def disown(request: HttpRequest, token: str) -> HttpResponse:
    """ "This wasn't me": a page that asks to confirm (a mail scanner that opens links must
    not sign anyone out), then ends every session and starts a password reset."""
    found = read_disown_token(token)
    user = User.objects.filter(pk=found[0]).first() if found else None
    if found is None or user is None:
        return render(request, "accounts/takeover/disown.html", {"invalid": True}, status=400)
    if request.method == "POST":
        done = services.disown_sign_in(user=user, session_key=found[1])
        return render(request, "accounts/takeover/disown.html", {"done": True, "already": not done})
    return render(request, "accounts/takeover/disown.html", {"token": token})
