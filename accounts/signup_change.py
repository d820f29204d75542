""" "Wrong address?" on the sign-up waiting page: sign up again at another address without
typing the password or ticking the boxes again.

A sign-up keeps, in its session, the password's hash (encrypted with the field key,
config/encryption.py) and the purposes it ticked, whether its address was free or taken (a
taken address's hash is the throwaway account's, accounts/enumeration.py): the same work and
the same session either way. A change of address is then a new sign-up at the new address with
them: a new account when that address is free, a throwaway account and the "account exists"
email when it is taken. Which address the person typed first plays no part, so a change tells
nothing about it. The first account, if there was one, stays unverified, as any sign-up
abandoned before its code does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.manage_email import email_already_exists
from allauth.account.internal.flows.signup import complete_signup, prevent_enumeration
from allauth.account.internal.stagekit import clear_login
from allauth.account.utils import setup_user_email
from allauth.core import ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from accounts import enumeration, signup_code
from config import encryption

STASH_KEY = "gatehouse_signup_again"


class ChangeAddressForm(forms.Form):
    email = forms.EmailField(label="Your email address", max_length=254)

    def clean_email(self) -> str:
        return str(get_adapter().clean_email(self.cleaned_data["email"]))


class _Data:
    """What allauth's ``save_user`` reads from a sign-up form."""

    def __init__(self, email: str) -> None:
        self.cleaned_data = {"email": email}


def keep(request: HttpRequest, *, password_hash: str, ticked: Iterable[int]) -> None:
    """Remember a sign-up's password hash and ticked purposes for a change of address."""
    previous = request.session.get(STASH_KEY) or {}
    request.session[STASH_KEY] = {
        "password": encryption.encrypt(password_hash),
        "ticked": sorted(int(pk) for pk in ticked),
        "changes": int(previous.get("changes", 0)) if isinstance(previous, dict) else 0,
    }


def forget(request: HttpRequest) -> None:
    request.session.pop(STASH_KEY, None)


def changes_left(request: HttpRequest) -> int:
    kept = request.session.get(STASH_KEY)
    if not isinstance(kept, dict):
        return 0
    return max(0, int(allauth_settings.EMAIL_VERIFICATION_MAX_CHANGE_COUNT) - int(kept["changes"]))


class CannotChange(Exception):
    """The change cannot be made; the message says what to do instead."""


def sign_up_again(request: HttpRequest, email: str) -> HttpResponse:
    """Sign up at ``email`` with the kept password and consents, in one transaction; returns
    what a sign-up returns (the waiting page, for the new address). Raises CannotChange."""
    from consent.services import record_signup, signup_purposes

    kept = request.session.get(STASH_KEY)
    if not isinstance(kept, dict) or changes_left(request) <= 0:
        raise CannotChange("The address can't be changed again here. Start over to sign up.")
    try:
        password_hash = encryption.decrypt(str(kept["password"]))
    except encryption.SecretUnreadable as exc:
        raise CannotChange("This sign-up has expired. Start over to sign up.") from exc
    purposes = signup_purposes()
    ticked = {int(pk) for pk in kept["ticked"]}
    if any(p.required and p.pk not in ticked for p in purposes):
        raise CannotChange("The terms changed since you signed up. Start over to sign up.")
    if not ratelimit.consume(request, action="signup"):
        raise CannotChange("Too many sign-ups from here. Try again in a minute.")

    def consents(_request: Any, user: Any) -> None:
        record_signup(user=user, purposes=purposes, ticked=ticked)

    email, taken = email_already_exists(email)
    clear_login(request)
    signup_code.forget(request)
    kept["changes"] = int(kept["changes"]) + 1
    request.session[STASH_KEY] = kept
    try:
        with transaction.atomic(durable=True):
            if taken:
                enumeration.sign_up_decoy_again(
                    request, password_hash=password_hash, consents=consents
                )
                return prevent_enumeration(request, email=email)
            # In a savepoint, as a sign-up's own writes are (accounts.forms.SignupForm.save).
            with transaction.atomic():
                adapter = get_adapter(request)
                user = adapter.new_user(request)
                adapter.save_user(request, user, _Data(email), commit=False)  # type: ignore[arg-type]
                user.password = password_hash
                user.save()
                consents(request, user)
                setup_user_email(request, user, [])
            return complete_signup(request, user=user)
    except ImmediateHttpResponse as exc:
        return exc.response
