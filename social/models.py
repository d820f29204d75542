"""The social login providers staff set up in the admin, one row each.

A row becomes an allauth ``SocialApp`` on request (``social.apps_of``), the way sso.Connection
rows do: configuration lives in one place. Its ``provider_id`` is ``social.<slug>``: a dot never
appears in an SSO connection's slug, so a social identity can never be taken for an enterprise
one (identities are keyed on provider id and subject).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from config import encryption


class Kind(models.TextChoices):
    GOOGLE = "google", "Google"
    MICROSOFT = "microsoft", "Microsoft"
    APPLE = "apple", "Apple"
    GITHUB = "github", "GitHub"
    OIDC = "oidc", "OpenID Connect (any provider)"


# The issuers of the OpenID kinds: their discovery document is at <issuer>/.well-known/...
# Microsoft's depends on the directory ("tenant") the row names.
PRESET_ISSUERS = {
    Kind.GOOGLE: "https://accounts.google.com",
    Kind.MICROSOFT: "https://login.microsoftonline.com/{tenant}/v2.0",
    Kind.APPLE: "https://appleid.apple.com",
}
OPENID_KINDS = frozenset({Kind.GOOGLE, Kind.MICROSOFT, Kind.APPLE, Kind.OIDC})
PROVIDER_ID_PREFIX = "social."


class SocialProvider(models.Model):
    kind = models.CharField(max_length=16, choices=Kind.choices)
    slug = models.SlugField(
        max_length=40,
        unique=True,
        help_text="Part of the redirect URI registered at the provider; cannot change later.",
    )
    name = models.CharField(max_length=80, help_text='Shown on the button: "Continue with <name>".')
    enabled = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0, help_text="Buttons sort by this.")
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = encryption.EncryptedTextField(blank=True, editable=False)
    # Generic OpenID Connect only: the issuer, whose discovery document is fetched (https).
    issuer = models.URLField(blank=True, max_length=500)
    # Microsoft only: the directory people sign in from ("consumers" for personal accounts,
    # "common" for any, "organizations", or a tenant id).
    tenant = models.CharField(max_length=64, blank=True)
    # Apple only: the client secret is a JWT Gatehouse signs with this key (ES256).
    apple_team_id = models.CharField(max_length=20, blank=True)
    apple_key_id = models.CharField(max_length=20, blank=True)
    apple_private_key_encrypted = encryption.EncryptedTextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # What sso.oidc's checks read from a connection (this row stands in for one there).
    organization = None
    id_token_algorithm = "RS256"  # noqa: S105  (an algorithm name)

    class Meta:
        ordering = ("position", "name")
        constraints = [
            # allauth's GitHub provider serves one app: one GitHub row.
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(kind="github"), name="social_one_github"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def provider_id(self) -> str:
        return f"{PROVIDER_ID_PREFIX}{self.slug}"

    @property
    def is_openid(self) -> bool:
        return self.kind in OPENID_KINDS

    @property
    def client_secret(self) -> str:
        return encryption.decrypt(self.client_secret_encrypted)

    @property
    def has_client_secret(self) -> bool:
        return bool(self.client_secret_encrypted)

    @property
    def apple_private_key(self) -> str:
        return encryption.decrypt(self.apple_private_key_encrypted)

    @property
    def configured_issuer(self) -> str:
        """The issuer as configured (Microsoft's multi-tenant ones hold ``{tenantid}``)."""
        override = test_override(self.kind)
        if override:
            return override
        if self.kind == Kind.OIDC:
            return self.issuer.rstrip("/")
        return PRESET_ISSUERS[Kind(self.kind)].replace("{tenant}", self.tenant or "common")

    @property
    def discovery_url(self) -> str:
        return f"{self.configured_issuer}/.well-known/openid-configuration"


def test_override(kind: str) -> str:
    """The loopback stand-in tests put in place of a fixed provider host, if any.

    ``SOCIAL_LOGIN_TEST_ENDPOINTS`` is a Python-only setting (never read from the environment),
    and it is obeyed only while ``OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS`` is on, which the start-up
    checks refuse in production: a deployment cannot point Google's button elsewhere."""
    overrides = getattr(settings, "SOCIAL_LOGIN_TEST_ENDPOINTS", None) or {}
    if not overrides or not getattr(settings, "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS", False):
        return ""
    return str(overrides.get(kind, "")).rstrip("/")
