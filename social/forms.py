"""The social sign-up form (the same consent boxes as the password sign-up) and the unlink
form (the last way to sign in is kept)."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.forms import DisconnectForm as AllauthDisconnectForm
from allauth.socialaccount.forms import SignupForm as AllauthSocialSignupForm
from allauth.socialaccount.models import SocialAccount
from django import forms
from django.db import transaction

from accounts.forms import consent_label


class SocialSignupForm(AllauthSocialSignupForm):
    """allauth's social sign-up form, plus a box per Gatehouse-wide consent purpose offered at
    sign-up: required ones required, optional ones unticked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from consent.services import signup_purposes

        super().__init__(*args, **kwargs)
        self.consent_purposes = signup_purposes()
        for purpose in self.consent_purposes:
            self.fields[f"consent_{purpose.key}"] = forms.BooleanField(
                label=consent_label(purpose),
                required=purpose.required,
                initial=False,
                error_messages={"required": f"Accept the {purpose.name.lower()} to sign up."},
            )

    def ticked_purposes(self) -> set[int]:
        return {p.pk for p in self.consent_purposes if self.cleaned_data.get(f"consent_{p.key}")}

    def record_consents(self, user: Any) -> None:
        from consent.services import record_signup

        record_signup(user=user, purposes=self.consent_purposes, ticked=self.ticked_purposes())

    def save(self, request: Any) -> Any:
        # The account, its address, its identity and its consents: all or nothing.
        with transaction.atomic():
            user = super().save(request)
            self.record_consents(user)
        return user

    def try_save(self, request: Any) -> Any:
        if self.account_already_exists:
            # A taken address costs what a free one does: a new account's work on a throwaway
            # account, rolled back (accounts/enumeration.py); allauth then emails the owner.
            from accounts.enumeration import social_sign_up_decoy

            social_sign_up_decoy(request, form=self)
        return super().try_save(request)


class DisconnectForm(AllauthDisconnectForm):
    """Unlinking, refused for the last way in (no password, no other identity, no passkey).
    allauth's own check refuses whenever there is no password, passkey or not: Gatehouse's
    adapter decides instead (``social.adapter.SocialAccountAdapter.validate_disconnect``)."""

    def clean(self) -> dict:
        from allauth.socialaccount.adapter import get_adapter

        cleaned_data = forms.Form.clean(self) or {}
        account = cleaned_data.get("account")
        if account is not None:
            accounts = SocialAccount.objects.filter(user_id=account.user_id)
            try:
                get_adapter().validate_disconnect(account, accounts)
            except forms.ValidationError as error:
                self.add_error(None, error)
        return cleaned_data
