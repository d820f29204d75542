"""Forms of the SCIM tab. They check the shape of what an admin chose; the services
(sso.scim.directories) decide whether it is acceptable and say why not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms

from organizations.models import Domain, Organization
from sso.scim.models import MAPPABLE_ROLES

OVERLAPS = {
    "0": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
OVERLAP_CHOICES = (
    ("0", "Stop the old token now"),
    ("1h", "Keep the old token working for 1 hour"),
    ("24h", "Keep the old token working for 24 hours"),
    ("7d", "Keep the old token working for 7 days"),
)


class SettingsForm(forms.Form):
    domain_ids = forms.MultipleChoiceField(
        label="Domains",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="People whose work address is in one of these verified domains get an account "
        "and a membership. The directory may send others; they are kept as records without an "
        "account.",
    )
    default_role = forms.ChoiceField(
        label="Role of provisioned people",
        choices=MAPPABLE_ROLES,
        help_text="For people in no group mapped to a role (see Groups). Changing it applies to "
        "everyone the directory manages at once. Owners keep their role.",
    )
    put_without_active_deactivates = forms.BooleanField(
        label="A full update (PUT) without “active” deactivates the person",
        required=False,
        help_text="Only for Okta apps made with the App Integration Wizard that leave “active” "
        "out to mean inactive. Otherwise leave it off: a missing “active” then changes nothing.",
    )

    def __init__(self, *args: Any, org: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        verified = Domain.objects.for_org(org).filter(verified_at__isnull=False).order_by("name")
        field = self.fields["domain_ids"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(str(d.pk), d.name) for d in verified]


class RotateTokenForm(forms.Form):
    overlap = forms.ChoiceField(
        label="The tokens in use now",
        choices=OVERLAP_CHOICES,
        initial="24h",
        widget=forms.RadioSelect,
        help_text="Keep them working long enough to paste the new token into your directory.",
    )

    def clean_overlap(self) -> timedelta:
        return OVERLAPS[self.cleaned_data["overlap"]]


class GroupRoleForm(forms.Form):
    role = forms.ChoiceField(
        label="Role", choices=[("", "No role"), *MAPPABLE_ROLES], required=False
    )

    def clean_role(self) -> str | None:
        return self.cleaned_data["role"] or None
