"""Per-organization SSO connections: the one place their configuration is kept.

allauth never stores a copy: ``sso.adapter`` builds its ``SocialApp`` objects from these rows on
each request. A federated identity is allauth's ``SocialAccount`` with ``provider`` set to the
connection's slug and ``uid`` to the subject the IdP asserted: (connection, subject), never the
email alone.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Self

from django.conf import settings
from django.db import models
from django.utils import timezone

from config import encryption
from organizations.models import Domain, Organization, Role, TenantQuerySet


class Protocol(models.TextChoices):
    SAML = "saml", "SAML 2.0"
    OIDC = "oidc", "OpenID Connect"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class MFATrust(models.TextChoices):
    GATEHOUSE = "gatehouse", "Ask for a Gatehouse second factor after SSO"
    IDP = "idp", "Trust the IdP when it reports multi-factor authentication"


# Asymmetric only: an HMAC-signed ID token would be keyed with the client secret.
ID_TOKEN_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


class ConnectionQuerySet(TenantQuerySet):
    def active(self) -> Self:
        return self.filter(status=Status.ACTIVE)


class Connection(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="sso_connections"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Set once at creation, never changed: it is in every URL the IdP was given (ACS, redirect
    # URI) and in SocialAccount.provider of every identity that came through this connection.
    slug = models.SlugField(max_length=64, unique=True, editable=False)
    protocol = models.CharField(max_length=4, choices=Protocol.choices, editable=False)
    name = models.CharField(max_length=120)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    # The verified domains whose people home-realm discovery sends here.
    domains = models.ManyToManyField(Domain, blank=True, related_name="sso_connections")

    # Accounts: just-in-time creation and role mapping, applied at every login.
    jit_enabled = models.BooleanField(
        "create accounts on first login",
        default=True,
        help_text="People whose address is in a verified domain get an account and a membership.",
    )
    default_role = models.CharField(
        max_length=10,
        choices=[(Role.MEMBER.value, Role.MEMBER.label), (Role.ADMIN.value, Role.ADMIN.label)],
        default=Role.MEMBER,
    )
    groups_attribute = models.CharField(
        max_length=200,
        default="groups",
        blank=True,
        help_text="The SAML attribute or OIDC claim that lists the person's groups.",
    )
    # {"<group name at the IdP>": "admin" | "member"}; the first match by role strength wins.
    role_mapping = models.JSONField(default=dict, blank=True)
    mfa_trust = models.CharField(
        max_length=10, choices=MFATrust.choices, default=MFATrust.GATEHOUSE
    )

    # SAML: the IdP.
    idp_entity_id = models.CharField("IdP entity ID", max_length=500, blank=True)
    idp_sso_url = models.URLField("IdP sign-on URL", max_length=1000, blank=True)
    idp_slo_url = models.URLField("IdP logout URL", max_length=1000, blank=True)
    metadata_url = models.URLField("IdP metadata URL", max_length=1000, blank=True)
    metadata_fetched_at = models.DateTimeField(null=True, blank=True)
    metadata_error = models.CharField(max_length=500, blank=True)
    allow_idp_initiated = models.BooleanField(
        "allow IdP-initiated login",
        default=False,
        help_text="Accept logins started from the IdP's app dashboard (still replay-protected).",
    )
    # SAML: Gatehouse as the service provider. One key pair per connection, for signed
    # AuthnRequests and logout messages, and for assertions the IdP encrypts to us.
    sp_entity_id = models.CharField("SP entity ID", max_length=500, blank=True)
    sp_certificate = models.TextField(blank=True)
    sp_private_key_encrypted = encryption.EncryptedTextField(blank=True, editable=False)
    # Gatehouse's next key pair while its own key is being rotated: published in the metadata
    # beside the current one until the admin finishes the rotation.
    sp_next_certificate = models.TextField(blank=True)
    sp_next_private_key_encrypted = encryption.EncryptedTextField(blank=True, editable=False)
    email_attribute = models.CharField(
        max_length=200,
        blank=True,
        help_text="The attribute that carries the email address (empty: the NameID).",
    )
    first_name_attribute = models.CharField(max_length=200, blank=True)
    last_name_attribute = models.CharField(max_length=200, blank=True)

    # OIDC.
    discovery_url = models.URLField(max_length=1000, blank=True)
    issuer = models.CharField(max_length=1000, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret_encrypted = encryption.EncryptedTextField(blank=True, editable=False)
    id_token_algorithm = models.CharField(
        "ID token signing algorithm",
        max_length=5,
        choices=[(alg, alg) for alg in ID_TOKEN_ALGORITHMS],
        default="RS256",
    )
    scopes = models.CharField(max_length=500, default="openid email profile")
    token_auth_method = models.CharField(
        max_length=20,
        choices=[
            ("client_secret_basic", "client_secret_basic"),
            ("client_secret_post", "client_secret_post"),
        ],
        default="client_secret_basic",
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_protocol_display()}, {self.organization})"

    @property
    def is_saml(self) -> bool:
        return self.protocol == Protocol.SAML

    @property
    def is_oidc(self) -> bool:
        return self.protocol == Protocol.OIDC

    @property
    def is_active(self) -> bool:
        return self.status == Status.ACTIVE

    @property
    def sp_private_key(self) -> str:
        return encryption.decrypt(self.sp_private_key_encrypted)

    @property
    def client_secret(self) -> str:
        return encryption.decrypt(self.client_secret_encrypted)

    @property
    def has_client_secret(self) -> bool:
        return bool(self.client_secret_encrypted)

    def signing_certificates(self) -> list[str]:
        """The IdP's signing certificates valid now, as base64 DER (what python3-saml wants):
        an expired (or not yet valid) certificate signs nothing Gatehouse accepts."""
        now = timezone.now()
        return [c.der_base64 for c in self.certificates.all() if c.not_before <= now < c.not_after]


class IdPCertificate(models.Model):
    """One of a SAML IdP's signing certificates. Several at once: a rotation never breaks login."""

    class Source(models.TextChoices):
        METADATA = "metadata", "From metadata"
        UPLOADED = "uploaded", "Added by hand"

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="certificates"
    )
    der_base64 = models.TextField()
    fingerprint_sha256 = models.CharField(max_length=95)
    subject = models.CharField(max_length=500, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # The expiry notices already emailed to the org's admins (days before: 30, 7).
    warned_days = models.JSONField(default=list, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["not_after"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["connection", "fingerprint_sha256"], name="sso_certificate_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject or 'certificate'} (expires {self.not_after:%Y-%m-%d})"

    @property
    def is_expired(self) -> bool:
        return self.not_after <= timezone.now()

    @property
    def days_left(self) -> int:
        return (self.not_after - timezone.now()).days


class IdentityConfirmation(models.Model):
    """A federated identity that has completed a sign-in (every stage, second factor included).

    Linking happens early in allauth's login, before the account's own second factor is asked
    for. Only a confirmed identity may vouch for MFA done at its IdP (``MFATrust.IDP``):
    otherwise an IdP an org admin runs could link itself to someone's account and, from its
    second sign-in on, skip that person's own factor."""

    account = models.OneToOneField(
        "socialaccount.SocialAccount", on_delete=models.CASCADE, related_name="+"
    )
    confirmed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"identity {self.account_id} confirmed {self.confirmed_at:%Y-%m-%d}"


def connection_of(sociallogin: Any) -> Connection | None:
    """The connection an allauth login came through (its provider's app carries it), if any."""
    app = getattr(getattr(sociallogin, "provider", None), "app", None)
    return getattr(app, "gatehouse_connection", None)


# SCIM's models live beside its code (sso/scim/) and belong to this app.
from sso.scim.models import (  # noqa: E402, F401
    Directory,
    DirectoryToken,
    ScimGroup,
    ScimGroupMember,
    ScimRequest,
    ScimUser,
)
