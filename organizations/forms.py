from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from organizations.branding.images import MAX_BYTES
from organizations.models import BRAND_COLOUR, LoginMethod, Role


class CreateOrganizationForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.CharField(
        label="Address",
        max_length=50,
        help_text="Lower-case letters, digits and dashes; it becomes the portal address /orgs/…/.",
    )


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class DomainForm(forms.Form):
    name = forms.CharField(label="Domain", max_length=253, help_text="For example example.com")


class SettingsForm(forms.Form):
    """Name and sign-in branding. The service checks every value again (contrast included)."""

    name = forms.CharField(max_length=120)
    display_name = forms.CharField(
        label="Display name",
        max_length=60,
        required=False,
        help_text="Shown on the sign-in pages and in emails. Leave it empty to use the name.",
    )
    logo = forms.FileField(
        label="Logo",
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
        help_text="A PNG, JPEG or WebP image, at most 512 KB and 4096 pixels a side; "
        "a square one looks best. Gatehouse stores and serves a cleaned copy.",
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)
    brand_colour = forms.CharField(
        label="Brand colour", max_length=7, required=False, validators=[BRAND_COLOUR]
    )
    brand_background = forms.CharField(
        label="Page background", max_length=7, required=False, validators=[BRAND_COLOUR]
    )
    brand_text = forms.CharField(
        label="Text on the background", max_length=7, required=False, validators=[BRAND_COLOUR]
    )

    def logo_bytes(self) -> bytes | None:
        """The uploaded file's bytes, read up to one byte past the limit (the service refuses
        anything longer, without reading a huge upload into memory)."""
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        return bytes(upload.read(MAX_BYTES + 1)) or None


class PolicyForm(forms.Form):
    require_mfa = forms.BooleanField(label="Require two-step verification", required=False)
    risk_step_up = forms.BooleanField(
        label="Ask for a second factor on risky sign-ins",
        required=False,
        help_text="A new device or network, or many wrong passwords first. Members without a "
        "second factor get an emailed code.",
    )
    allowed_login_methods = forms.MultipleChoiceField(
        label="Allowed sign-in methods",
        choices=LoginMethod.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    sso_only = forms.BooleanField(label="SSO only", required=False)
    session_lifetime_minutes = forms.IntegerField(
        label="Session lifetime (minutes)", required=False, min_value=5, max_value=60 * 24 * 90
    )
    auto_join_verified_domains = forms.BooleanField(
        label="Let people with an email at a verified domain join", required=False
    )
    default_role = forms.ChoiceField(
        label="Role of people who join by domain",
        choices=[(Role.MEMBER.value, Role.MEMBER.label), (Role.ADMIN.value, Role.ADMIN.label)],
    )
    audit_retention_days = forms.IntegerField(
        label="Keep audit events for (days)",
        required=False,
        min_value=30,
        max_value=3650,
        help_text="Older events are deleted every night. Leave empty to keep them for ever.",
    )
    impersonation_needs_approval = forms.BooleanField(
        label="Support must ask before signing in as a member",
        required=False,
        help_text="An admin of the organization, or the member, approves each time by an "
        "emailed link. Without it, the member is told afterwards.",
    )


class InvitationSignupForm(forms.Form):
    password1 = forms.CharField(
        label="Choose a password",
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_password1(self) -> str:
        from accounts.models import User

        password = self.cleaned_data["password1"]
        password_validation.validate_password(password, User(email=self.email))
        return password
