from __future__ import annotations

import functools
from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.fields import PasswordField
from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from allauth.account.forms import ConfirmLoginCodeForm as AllauthConfirmLoginCodeForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import RequestLoginCodeForm as AllauthRequestLoginCodeForm
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context as allauth_context
from allauth.core import ratelimit
from django import forms
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.functional import lazy
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts import enumeration, signup_change
from accounts.models import User
from accounts.takeover.forms import ChallengeMixin


class AddEmailForm(AllauthAddEmailForm):
    def clean_email(self) -> str:
        # Before allauth's own checks (which announce the new address): an organization whose
        # sign-in rules bind this person keeps them at its domains (sso registers the rule).
        from accounts.extensions import hooks

        refusal = hooks.address_change_refusal(self.user, str(self.cleaned_data.get("email", "")))
        if refusal:
            raise forms.ValidationError(refusal)
        return super().clean_email()


@functools.lru_cache(maxsize=64)
def _password_reset_help(language: str | None, script_prefix: str) -> SafeString:
    return render_to_string("account/password_reset_help_text.html")


def password_reset_help() -> SafeString:
    """The "Forgot your password?" link under the login form's password field, rendered once
    per language and URL prefix: allauth renders its template again for every login POST,
    where nobody sees it (about 0.2 ms of each login)."""
    return _password_reset_help(get_language(), get_script_prefix())


class LoginForm(ChallengeMixin, AllauthLoginForm):
    password = PasswordField(
        label=_("Password"),
        autocomplete="current-password",
        help_text=lazy(password_reset_help, str, SafeString)(),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An app's OpenID login_hint, passed on by /o/authorize/ as ?login=: a prefill only.
        request = getattr(self, "request", None)
        hint = request.GET.get("login", "") if request is not None and not self.is_bound else ""
        if hint and len(hint) <= 254 and "login" in self.fields:
            self.fields["login"].initial = hint


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form, plus the consents: a box per Gatehouse-wide purpose offered at
    sign-up, required ones required, optional ones unticked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from accounts.profiling import forms as profile_forms
        from accounts.profiling.selectors import When, active_fields
        from consent.services import signup_purposes

        super().__init__(*args, **kwargs)
        # The operator's profile fields asked at sign-up, before the consent boxes.
        self.profile_fields = active_fields(When.SIGNUP)
        profile_forms.add_fields(self, self.profile_fields)
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

    def custom_signup(self, request: Any, user: Any) -> None:
        # Called by allauth right after the user is saved, in the sign-up's transaction
        # (accounts.allauth_flows.SignupView): a sign-up that fails later leaves neither the
        # account nor its consent events.
        from consent.services import record_signup

        record_signup(user=user, purposes=self.consent_purposes, ticked=self.ticked_purposes())
        if self.profile_fields:
            # The same writes on the decoy of a taken address (accounts/enumeration.py).
            from accounts.profiling import forms as profile_forms
            from accounts.profiling.services import save_answers

            save_answers(
                user=user,
                fields=self.profile_fields,
                values=profile_forms.answered(self, self.profile_fields),
                skip_blank=True,
            )

    def save(self, request: Any) -> Any:
        # In a savepoint, as the decoy's writes for a taken address are (accounts/enumeration.py):
        # both paths send the database the same statements, bar the decoy's rollback.
        with transaction.atomic():
            return super().save(request)

    def try_save(self, request: Any) -> Any:
        if self.account_already_exists:
            # A new account's work on a throwaway one; allauth then emails the owner.
            password_hash = enumeration.sign_up_decoy(request, form=self)
            user, response = super().try_save(request)
        else:
            user, response = super().try_save(request)
            password_hash = user.password
        # Both kept alike, for "Wrong address?" on the waiting page (accounts/signup_change.py).
        signup_change.keep(request, password_hash=password_hash, ticked=self.ticked_purposes())
        return user, response


def consent_label(purpose: Any) -> str:
    from django.urls import reverse
    from django.utils.html import format_html

    version = purpose.binding_version
    if version is None:
        if purpose.description:
            return format_html("{}: {}", purpose.name, purpose.description)
        return format_html("{}", purpose.name)
    url = reverse("consent:policy-version", args=[version.document_id, version.pk])
    return format_html(
        'I accept the <a href="{}" target="_blank" rel="noopener">{}</a>',
        url,
        purpose.name.lower(),
    )


class RequestLoginCodeForm(ChallengeMixin, AllauthRequestLoginCodeForm):
    def clean_email(self) -> str:
        """allauth's, with the adapter's rules (length), which allauth's form skips here, and
        with a lookup that costs the same for a free address as for a taken one."""
        adapter = get_adapter()
        email = self.cleaned_data.get("email") or ""
        if email:
            adapter.clean_email(email)
            users = enumeration.users_by_email(email, is_active=True)
            if not users and not allauth_settings.PREVENT_ENUMERATION:
                raise adapter.validation_error("unknown_email")
            if not ratelimit.consume(
                allauth_context.request, action="request_login_code", key=email.lower()
            ):
                raise adapter.validation_error("too_many_login_attempts")
            self._user = users[0] if users else None
        return email


class ConfirmLoginCodeForm(AllauthConfirmLoginCodeForm):
    """allauth's. A wrong code is audited when the address has an account (allauth's
    login_code_rejected signal, accounts/receivers.py); when it has none, there is no code to
    get right, and the wrong one is audited all the same, so both answers cost a write."""

    def clean_code(self) -> str:
        try:
            return super().clean_code()
        except forms.ValidationError:
            if not self.expected_code:  # no account, so no code was sent
                enumeration.record_code_rejected_without_account()
            raise


class ResetPasswordForm(AllauthResetPasswordForm):
    """allauth's, with the lookup and the work of a reset the same for a free address as for a
    taken one (accounts/enumeration.py)."""

    def clean_email(self) -> str:
        adapter = get_adapter()
        email = adapter.clean_email(self.cleaned_data["email"].lower())
        self.users = enumeration.users_by_email(email, is_active=True)
        if not self.users and not allauth_settings.PREVENT_ENUMERATION:
            raise adapter.validation_error("unknown_email")
        return self.cleaned_data["email"]

    def save(self, request: Any, **kwargs: Any) -> str:
        if not self.users:
            enumeration.spend_like_a_reset_token(self.cleaned_data["email"])
        return super().save(request, **kwargs)


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
