"""Recovery pages: "I lost my factors" at a login's second step, and the emailed cancel link.

Asking needs the login's first step to have passed: the password, an emailed login code or a
password-reset link (docs/accounts-and-mfa.md, "Recovery", says why either will do). Cancelling
needs no sign-in: the link itself, signed for this purpose, is the proof; the page asks for a
click (a POST), so a mail scanner that follows links cancels nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.mfa.allauth_glue import clear_login
from accounts.mfa.services import recovery
from accounts.mfa.stages import first_factor
from accounts.mfa.views.common import signed_in_user
from accounts.mfa.views.login_step import in_second_step
from accounts.models import MFAReset
from config.refusals import Refusal


@in_second_step
@require_http_methods(["GET", "POST"])
def lost_factors(request: HttpRequest, stage: Any) -> HttpResponse:
    """Explain the waiting period; on POST schedule the reset and end the half-done login
    (the person is not signed in: they come back once the reset has taken effect)."""
    user = stage.login.user
    error, status = "", 200
    if request.method == "POST":
        proof = str(first_factor(request, user).get("method") or "unknown")
        try:
            reset = recovery.schedule_mfa_reset(
                user=user, actor=user, via=MFAReset.Via.SELF, proof=proof
            )
        except Refusal as refusal:
            error, status = refusal.message, refusal.status
        else:
            clear_login(request)
            return render(request, "accounts/mfa/lost_factors_scheduled.html", {"reset": reset})
    return render(
        request,
        "accounts/mfa/lost_factors.html",
        {
            "wait_hours": settings.GATEHOUSE_MFA_RESET_WAIT_HOURS,
            "pending": recovery.pending_reset(user),
            "error": error,
        },
        status=status,
    )


def _cancel_page(
    request: HttpRequest, *, token: str, reset: MFAReset | None, error: str = "", status: int
) -> HttpResponse:
    return render(
        request,
        "accounts/mfa/reset_cancel.html",
        {"token": token, "reset": reset, "error": error, "Status": MFAReset.Status},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def cancel_reset(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: GET shows the reset and a button, POST cancels it (once)."""
    try:
        reset = recovery.reset_for_token(token)
    except recovery.BadCancelLink as refusal:
        return _cancel_page(request, token="", reset=None, error=refusal.message, status=400)
    if request.method == "GET":
        if reset.status != MFAReset.Status.PENDING:
            return _cancel_page(request, token="", reset=reset, status=409)
        return _cancel_page(request, token=token, reset=reset, status=200)
    try:
        reset = recovery.cancel_mfa_reset(
            reset=reset, how="link", actor_text="cancel link from a reset notice"
        )
    except Refusal as refusal:
        return _cancel_page(request, token="", reset=reset, error=refusal.message, status=409)
    return _cancel_page(request, token="", reset=reset, status=200)


@login_required
@require_POST
def cancel_own_reset(request: HttpRequest) -> HttpResponse:
    """The security page's "Cancel the reset", for a signed-in person."""
    user = signed_in_user(request)
    reset = recovery.pending_reset(user)
    if reset is None:
        messages.info(request, "There is no scheduled reset to cancel.")
        return redirect("mfa:security")
    try:
        recovery.cancel_mfa_reset(reset=reset, how="security_page", actor=user)
    except Refusal as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "The reset was cancelled: your second factors stay.")
    return redirect("mfa:security")
