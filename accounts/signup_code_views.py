"""The page a sign-up (or a login with an unverified address) waits on: type the emailed code
here and be signed in, ask for a new code, or start over with another address.

A taken address waits on the same page, with the same forms and answers (accounts/enumeration.py):
its code was never sent, so every code typed is wrong, counted and audited like a new account's.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.internal.stagekit import clear_login
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.stages import EmailVerificationStage, LoginStageController
from allauth.core import ratelimit
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts import signup_change, signup_code
from audit.actions import Action, Outcome
from audit.services import record

TEMPLATE = "account/verification_sent.html"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Verification code",
        max_length=64,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "spellcheck": "false",
            }
        ),
    )


@login_not_required
@never_cache
@sensitive_post_parameters("code")
def email_verification_sent(request: HttpRequest) -> HttpResponse:
    pending = signup_code.pending(request)
    if pending is None:
        # No code in this browser (it expired, or the email came from elsewhere): the link in
        # the email still works.
        return render(request, TEMPLATE, {"pending": None})
    form = CodeForm()
    if request.method == "POST":
        action = request.POST.get("action", "verify")
        if action == "resend":
            return _resend(request, pending)
        if action == "restart":
            return _restart(request)
        if action == "change":
            return _change(request, pending)
        form = CodeForm(request.POST)
        if form.is_valid() and pending.matches(form.cleaned_data["code"]):
            return _verified(request, pending)
        return _wrong(request, pending, form)
    return _page(request, pending, form)


def _page(
    request: HttpRequest,
    pending: signup_code.Pending,
    form: CodeForm,
    status: int = 200,
    change_form: signup_change.ChangeAddressForm | None = None,
) -> HttpResponse:
    context: dict[str, Any] = {
        "pending": pending,
        "email": pending.email,
        "form": form,
        "can_resend": pending.can_resend,
        "cooldown": pending.cooldown_left(),
        "can_change": signup_change.changes_left(request) > 0,
        "change_form": change_form or signup_change.ChangeAddressForm(),
    }
    return render(request, TEMPLATE, context, status=status)


def _change(request: HttpRequest, pending: signup_code.Pending) -> HttpResponse:
    """ "Wrong address?": sign up again at the typed address (accounts/signup_change.py)."""
    change_form = signup_change.ChangeAddressForm(request.POST)
    if not change_form.is_valid():
        return _page(request, pending, CodeForm(), status=400, change_form=change_form)
    try:
        return signup_change.sign_up_again(request, change_form.cleaned_data["email"])
    except signup_change.CannotChange as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("account_email_verification_sent"))


def _wrong(request: HttpRequest, pending: signup_code.Pending, form: CodeForm) -> HttpResponse:
    left = pending.record_wrong()
    record(
        Action.SIGNUP_CODE_REJECTED,
        actor=None,
        actor_text=pending.email,
        outcome=Outcome.FAILURE,
        data={"left": left},
    )
    if left == 0:
        clear_login(request)
        messages.error(
            request,
            "That code was wrong too many times, so it no longer works. Sign in to get a new "
            "one, or sign up again.",
        )
        return HttpResponseRedirect(reverse("account_login"))
    if form.is_valid() or not form.errors:
        form.add_error("code", "That code is not right. Check the email and try again.")
    return _page(request, pending, form, status=400)


def _verified(request: HttpRequest, pending: signup_code.Pending) -> HttpResponse:
    """Verify the address (if the link has not already) and finish the login waiting in this
    session: its later stages (a second factor) still apply."""
    with transaction.atomic(durable=True):
        address = (
            EmailAddress.objects.select_related("user")
            .filter(user_id=pending.user_id, email__iexact=pending.email)
            .first()
        )
        signup_code.forget(request)
        if address is None:  # the address was removed meanwhile
            clear_login(request)
            return HttpResponseRedirect(reverse("account_login"))
        if not address.verified:
            get_adapter(request).confirm_email(request, address)
        stage = LoginStageController.enter(request, EmailVerificationStage.key)
        user = stage.login.user if stage is not None else None
        if stage is not None and user is not None and user.pk == address.user_id:
            return stage.exit()
    messages.info(request, "Your email address is verified. Sign in to continue.")
    return HttpResponseRedirect(reverse("account_login"))


def _resend(request: HttpRequest, pending: signup_code.Pending) -> HttpResponse:
    here = reverse("account_email_verification_sent")
    wait = pending.cooldown_left()
    if not pending.can_resend:
        messages.error(request, "No more new codes for this sign-up. Start over to get one.")
        return HttpResponseRedirect(here)
    if wait:
        messages.error(request, f"You can ask for a new code in {wait} seconds.")
        return HttpResponseRedirect(here)
    if not ratelimit.consume(request, action="signup_code_resend", key=pending.email.lower()):
        messages.error(request, "Too many new codes asked for. Try again later.")
        return HttpResponseRedirect(here)
    # The same read, render and queued email for a taken address as for a new one; the owner
    # of a taken address is not emailed again (the email is held back, never sent).
    address = (
        EmailAddress.objects.select_related("user")
        .filter(user_id=pending.user_id, email__iexact=pending.email)
        .first()
    )
    code = pending.reissue()
    adapter = get_adapter(request)
    if address is not None:
        confirmation = EmailConfirmationHMAC(address)
        adapter.send_code_mail(request, confirmation, signup=True, code=code)
    else:
        adapter.send_account_already_exists_mail(pending.email, hold_back=True)
    messages.info(request, f"We sent a new code to {pending.email}.")
    return HttpResponseRedirect(here)


def _restart(request: HttpRequest) -> HttpResponse:
    """ "Wrong address?": forget this sign-up's code and login in this browser and go back to
    the sign-up form (a new account's sign-up and a taken address's end the same way)."""
    signup_code.forget(request)
    signup_change.forget(request)
    clear_login(request)
    return HttpResponseRedirect(reverse("account_signup"))
