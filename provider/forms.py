"""Forms of the provider's pages: the portal's Applications tab and the admin's.

They check the shape of what was typed; the services decide whether it is acceptable and say
why not. No form ever carries a client secret back: secrets are generated, shown once on the
page that created them, and never put in a field.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms

from provider.management_api import PERMISSIONS
from provider.models import Api, ApplicationKind
from provider.services.applications import OIDC_SCOPES

OVERLAP_CHOICES = (
    ("0", "End the old secret now"),
    ("1h", "Keep the old secret working for 1 hour"),
    ("24h", "Keep the old secret working for 24 hours"),
    ("7d", "Keep the old secret working for 7 days"),
)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").split() if line.strip()]


# --- The organization portal -------------------------------------------------------------------


class OrgApplicationForm(forms.Form):
    name = forms.CharField(
        max_length=120,
        help_text="For you and the audit log, e.g. “Billing sync” or “HR import”.",
    )
    permissions = forms.MultipleChoiceField(
        label="Permissions",
        choices=[(name, f"{name}: {words}") for name, words in PERMISSIONS.items()],
        widget=forms.CheckboxSelectMultiple,
        help_text="What the backend may do through the management API, in this organization "
        "only. Give it no more than it needs.",
    )


class RotateSecretForm(forms.Form):
    overlap = forms.ChoiceField(
        label="The old secret",
        choices=OVERLAP_CHOICES,
        initial="24h",
        widget=forms.RadioSelect,
        help_text="Keep it working long enough to deploy the new one everywhere.",
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Recorded in the audit log with your name.",
    )


# --- The admin ------------------------------------------------------------------------------------


class NewApplicationForm(forms.Form):
    """Registering an app in the admin: what ``create_application`` takes."""

    name = forms.CharField(max_length=255)
    kind = forms.ChoiceField(choices=ApplicationKind.choices)
    redirect_uris = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, matched exactly. Web apps and SPAs: https. Native apps also "
        "http://127.0.0.1 (any port) or a private-use scheme such as com.example.app:/cb.",
    )
    post_logout_redirect_uris = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One per line."
    )
    allowed_scopes = forms.MultipleChoiceField(
        required=False,
        choices=[(scope, scope) for scope in OIDC_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="OpenID scopes the app may ask for (openid is always allowed).",
    )
    first_party = forms.BooleanField(
        required=False, help_text="The operator's own app: people are not asked to consent."
    )
    logo_url = forms.URLField(required=False, assume_scheme="https")
    description = forms.CharField(required=False, max_length=500)
    backchannel_logout_uri = forms.URLField(required=False, assume_scheme="https")
    algorithm = forms.ChoiceField(
        choices=(("RS256", "RS256"), ("ES256", "ES256")),
        initial="RS256",
        help_text="How its ID tokens are signed.",
    )
    api_permissions = forms.MultipleChoiceField(
        label="API permissions",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What it may ask tokens for, API by API (one API per token).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["api_permissions"]).choices = api_permission_choices()

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kind": data["kind"],
            "redirect_uris": _lines(data["redirect_uris"]),
            "post_logout_redirect_uris": _lines(data["post_logout_redirect_uris"]),
            "allowed_scopes": list(data["allowed_scopes"]),
            "first_party": data["first_party"],
            "logo_url": data["logo_url"],
            "description": data["description"],
            "backchannel_logout_uri": data["backchannel_logout_uri"],
            "algorithm": data["algorithm"],
            "apis": chosen_api_permissions(data["api_permissions"]),
        }


def api_permission_choices() -> list[tuple[str, str]]:
    """Every permission of every API, as ``<api id>:<permission>``."""
    return [
        (f"{api.pk}:{scope}", f"{api.name}: {scope}")
        for api in Api.objects.order_by("name", "pk")
        for scope in api.scopes
    ]


def chosen_api_permissions(values: list[str]) -> dict[Api, list[str]]:
    """The chosen ``<api id>:<permission>`` values, grouped by API."""
    chosen: dict[int, list[str]] = {}
    for value in values:
        api_id, _, scope = value.partition(":")
        chosen.setdefault(int(api_id), []).append(scope)
    apis = Api.objects.in_bulk(list(chosen))
    return {apis[api_id]: scopes for api_id, scopes in chosen.items() if api_id in apis}


class AdminReasonForm(forms.Form):
    """The reason every admin action asks for, and, for key actions, whether to force."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text="Recorded in the audit log with your name.",
    )
    overlap = forms.ChoiceField(choices=OVERLAP_CHOICES, required=False, initial="24h")
    force = forms.BooleanField(
        required=False,
        help_text="Only for a compromised key: act now, even though verifiers may still hold "
        "an old copy of the key set (they fail until they fetch it again).",
    )
