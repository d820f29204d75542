"""Forms of the SSO tab in the organization portal (sso/portal/).

They check the shape of what an admin typed; the services (sso/services/) decide whether it
is acceptable and say why not. Nothing secret is ever put back into a form: the client secret's
field is always drawn empty.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from organizations.models import Domain, Organization, Role
from sso import certificates
from sso.models import ID_TOKEN_ALGORITHMS, MFATrust, Protocol

MAX_UPLOAD_BYTES = 1024 * 1024
MAX_MAPPED_GROUPS = 100
MAPPABLE_ROLES = (Role.MEMBER.value, Role.ADMIN.value)


class NewConnectionForm(forms.Form):
    protocol = forms.ChoiceField(
        label="Protocol",
        choices=[
            (Protocol.SAML.value, "SAML 2.0 — Entra ID, Okta, Google Workspace, ADFS, most IdPs"),
            (Protocol.OIDC.value, "OpenID Connect — an OIDC app at your IdP"),
        ],
        widget=forms.RadioSelect,
        initial=Protocol.SAML.value,
    )
    name = forms.CharField(
        max_length=120,
        help_text="Shown to your members when they sign in, for example “Okta” or “Entra ID”.",
    )


class MetadataURLForm(forms.Form):
    metadata_url = forms.URLField(
        label="IdP metadata URL",
        max_length=1000,
        assume_scheme="https",
        help_text="Gatehouse reads it now and again every few hours, so new signing "
        "certificates are picked up on their own.",
    )


class MetadataUploadForm(forms.Form):
    metadata_file = forms.FileField(
        label="IdP metadata file",
        help_text="The XML file your IdP offers to download (1 MB at most).",
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,application/xml,text/xml"}),
    )

    def clean_metadata_file(self) -> bytes:
        upload: UploadedFile = self.cleaned_data["metadata_file"]
        if not (upload.name or "").lower().endswith(".xml"):
            raise forms.ValidationError("Choose an .xml metadata file.")
        if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 1 MB: that is not IdP metadata.")
        return upload.read(MAX_UPLOAD_BYTES + 1)


def _read_certificate(pem: str) -> str:
    try:
        certificates.read_certificate(pem)
    except certificates.BadCertificate as exc:
        raise forms.ValidationError(str(exc)) from None
    return pem


class SAMLSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    idp_entity_id = forms.CharField(
        label="IdP entity ID (issuer)",
        max_length=500,
        help_text="Entra ID: Microsoft Entra Identifier. Okta: Identity Provider Issuer. "
        "Google: Entity ID.",
    )
    idp_sso_url = forms.URLField(
        label="IdP sign-on URL",
        max_length=1000,
        assume_scheme="https",
        help_text="Where Gatehouse sends people to sign in (HTTP-Redirect binding). Entra ID: "
        "Login URL. Okta: Identity Provider Single Sign-On URL. Google: SSO URL.",
    )
    idp_slo_url = forms.URLField(
        label="IdP logout URL",
        max_length=1000,
        required=False,
        assume_scheme="https",
        help_text="For single logout started by the IdP.",
    )
    certificate = forms.CharField(
        label="IdP signing certificate",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="PEM, from “-----BEGIN CERTIFICATE-----” to “-----END CERTIFICATE-----”. "
        "Leave it empty to keep the certificates you have (step 4 lists them).",
    )
    email_attribute = forms.CharField(
        label="Email attribute",
        max_length=200,
        required=False,
        help_text="The attribute that carries the email address. Leave it empty when the IdP "
        "sends the address as the NameID.",
    )
    first_name_attribute = forms.CharField(
        label="First-name attribute", max_length=200, required=False
    )
    last_name_attribute = forms.CharField(
        label="Last-name attribute", max_length=200, required=False
    )
    allow_idp_initiated = forms.BooleanField(
        label="Allow sign-in started from the IdP's app dashboard (IdP-initiated)",
        required=False,
    )

    def clean_certificate(self) -> str:
        pem = self.cleaned_data["certificate"].strip()
        return _read_certificate(pem) if pem else ""


class OIDCSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    discovery_url = forms.URLField(
        label="Issuer or discovery URL",
        max_length=1000,
        assume_scheme="https",
        help_text="The issuer, or its /.well-known/openid-configuration address.",
    )
    client_id = forms.CharField(label="Client ID", max_length=255)
    client_secret = forms.CharField(
        label="Client secret",
        max_length=1000,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
    )
    id_token_algorithm = forms.ChoiceField(
        label="ID token signing algorithm",
        choices=[(alg, alg) for alg in ID_TOKEN_ALGORITHMS],
        initial="RS256",
        help_text="RS256 unless your IdP says otherwise. Shared-secret (HS256) tokens are "
        "not accepted.",
    )
    scopes = forms.CharField(
        max_length=500,
        initial="openid email profile",
        help_text="Space-separated; must include openid. Add groups if your IdP needs it to "
        "send group claims.",
    )
    email_attribute = forms.CharField(
        label="Email claim",
        max_length=200,
        required=False,
        help_text="The claim that carries the work email address (empty: email).",
    )
    token_auth_method = forms.ChoiceField(
        label="Token endpoint authentication",
        choices=[
            ("client_secret_basic", "client_secret_basic (HTTP Basic; the usual one)"),
            ("client_secret_post", "client_secret_post (in the form body)"),
        ],
        initial="client_secret_basic",
    )

    def __init__(self, *args: Any, has_secret: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["client_secret"]
        field.required = not has_secret
        if has_secret:
            field.help_text = "Stored — leave blank to keep it. It is never shown again."
        else:
            field.help_text = (
                "The secret the IdP gave you. It is stored encrypted and never shown again."
            )

    def clean_client_secret(self) -> str:
        # Whitespace around a pasted secret is a copy-and-paste accident, not part of it.
        return self.cleaned_data["client_secret"].strip()


def parse_role_mapping(text: str) -> dict[str, str]:
    """``group = role`` lines into a mapping. The last ``=`` separates, so group names that
    contain one (LDAP distinguished names such as ``CN=Admins,OU=Groups``) work as they are."""
    mapping: dict[str, str] = {}
    errors: list[str] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        group, equals, role = line.rpartition("=")
        group, role = group.strip(), role.strip().lower()
        if not equals or not group:
            errors.append(
                f"Line {number}: write it as “group name = admin” or “group name = member”."
            )
        elif role not in MAPPABLE_ROLES:
            errors.append(f"Line {number}: “{role}” is not a role here; use admin or member.")
        elif len(group) > 200:
            errors.append(f"Line {number}: the group name is longer than 200 characters.")
        elif mapping.get(group, role) != role:
            errors.append(f"Line {number}: “{group}” is already mapped to {mapping[group]}.")
        else:
            mapping[group] = role
    if len(mapping) > MAX_MAPPED_GROUPS:
        errors.append(f"Map at most {MAX_MAPPED_GROUPS} groups.")
    if errors:
        raise forms.ValidationError(errors)
    return mapping


def format_role_mapping(mapping: dict[str, str]) -> str:
    return "\n".join(f"{group} = {role}" for group, role in sorted((mapping or {}).items()))


class AccountsForm(forms.Form):
    jit_enabled = forms.BooleanField(
        label="Create an account at a person's first sign-in (just-in-time)",
        required=False,
        help_text="Only for addresses in the connection's domains. Turned off, only people who "
        "already have an account (invited, or joined before) can sign in.",
    )
    default_role = forms.ChoiceField(
        label="Role of people who sign in",
        choices=[(Role.MEMBER.value, Role.MEMBER.label), (Role.ADMIN.value, Role.ADMIN.label)],
        help_text="Used when none of the person's groups is mapped below.",
    )
    groups_attribute = forms.CharField(
        label="Groups attribute or claim",
        max_length=200,
        required=False,
        help_text="The SAML attribute or OIDC claim that lists the person's groups, for example "
        "groups, or http://schemas.microsoft.com/ws/2008/06/identity/claims/groups for Entra ID.",
    )
    role_mapping = forms.CharField(
        label="Role mapping",
        required=False,
        max_length=30_000,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="One group per line: <code>group name = admin</code> or "
        "<code>group name = member</code>. The strongest role among a person's groups wins, at "
        "every sign-in. Owners keep their role. Entra ID sends group object IDs, not names.",
    )
    mfa_trust = forms.ChoiceField(
        label="Second factor after SSO",
        choices=MFATrust.choices,
        widget=forms.RadioSelect,
    )
    domain_ids = forms.MultipleChoiceField(
        label="Domains",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="People with an address in these verified domains are sent here by “Sign in "
        "with SSO”, and only these addresses are trusted from the IdP.",
    )

    def __init__(self, *args: Any, org: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        verified = Domain.objects.for_org(org).filter(verified_at__isnull=False)
        field = self.fields["domain_ids"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(str(d.pk), d.name) for d in verified]

    def clean_role_mapping(self) -> dict[str, str]:
        return parse_role_mapping(self.cleaned_data["role_mapping"])


class CertificateForm(forms.Form):
    pem = forms.CharField(
        label="New signing certificate",
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="PEM, from “-----BEGIN CERTIFICATE-----” to “-----END CERTIFICATE-----”.",
    )

    def clean_pem(self) -> str:
        return _read_certificate(self.cleaned_data["pem"].strip())
