from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from allauth.account.forms import RequestLoginCodeForm as AllauthRequestLoginCodeForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms

from accounts import services
from accounts.models import User


class AddEmailForm(AllauthAddEmailForm):
    def clean_email(self) -> str:
        # Before allauth's own checks (which announce the new address): an organization whose
        # sign-in rules bind this person keeps them at its domains (sso.enforcement).
        from sso.enforcement import address_change_refusal

        refusal = address_change_refusal(self.user, str(self.cleaned_data.get("email", "")))
        if refusal:
            raise forms.ValidationError(refusal)
        return super().clean_email()


class SignupForm(AllauthSignupForm):
    def try_save(self, request: Any) -> Any:
        if self.account_already_exists:
            services.spend_like_a_new_account(password=self.cleaned_data.get("password1") or "")
        return super().try_save(request)


class RequestLoginCodeForm(AllauthRequestLoginCodeForm):
    def clean_email(self) -> str:
        # allauth's form skips the adapter here; Gatehouse's rules (length) apply to every
        # form that takes an address.
        email = self.cleaned_data.get("email") or ""
        if email:
            get_adapter().clean_email(email)
        return super().clean_email()


class ProfileForm(forms.Form):
    # A plain form, not a ModelForm: validating must not touch the user object; the service
    # makes the change (and records it).
    display_name = forms.CharField(
        label="Display name",
        max_length=User._meta.get_field("display_name").max_length,
        required=False,
        help_text="How Gatehouse and the apps you use greet you.",
    )


class ReasonForm(forms.Form):
    """Support actions in the admin must say why."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text="Recorded in the audit log with your name.",
    )
