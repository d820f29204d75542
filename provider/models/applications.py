"""OAuth clients: the operator's web apps, single-page and native apps, and backends."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from oauth2_provider.models import AbstractApplication, ApplicationManager

from organizations.models import TenantQuerySet


class ApplicationKind(models.TextChoices):
    WEB = "web", "Regular web app (confidential)"
    SPA = "spa", "Single-page app (public)"
    NATIVE = "native", "Native or mobile app (public)"
    M2M = "m2m", "Machine to machine (backend)"


CONFIDENTIAL_KINDS = frozenset({ApplicationKind.WEB, ApplicationKind.M2M})

# The grants each kind may use; the application service sets DOT's own column from the kind.
GRANTS_BY_KIND: dict[str, tuple[str, ...]] = {
    ApplicationKind.WEB: ("authorization_code", "refresh_token"),
    ApplicationKind.SPA: ("authorization_code", "refresh_token"),
    ApplicationKind.NATIVE: (
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ),
    ApplicationKind.M2M: ("client_credentials",),
}


# Self-registered clients (provider/cimd.py) sign people in with a browser; nothing else.
SELF_REGISTERED_GRANTS = frozenset({"authorization_code", "refresh_token"})


class ApplicationQuerySet(TenantQuerySet):
    pass


class GatehouseApplicationManager(ApplicationManager.from_queryset(ApplicationQuerySet)):  # type: ignore[misc]
    pass


class Application(AbstractApplication):
    """One OAuth client. DOT's columns stay; Gatehouse adds the kind, the organization an M2M
    app is bound to, the consent screen's name and logo, and the client secret's keyed digest.

    DOT's ``client_secret`` column holds a random value that is never shown and never checked
    (``hash_client_secret`` is off and ``provider.validator`` authenticates clients by
    ``secret_digest``), so an empty presented secret can never match an empty column.
    """

    RS256 = "RS256"
    ES256 = "ES256"
    ALGORITHM_TYPES = (("RS256", "RSA with SHA-256"), ("ES256", "ECDSA P-256 with SHA-256"))

    algorithm = models.CharField(max_length=5, choices=ALGORITHM_TYPES, default="RS256")
    kind = models.CharField(max_length=8, choices=ApplicationKind.choices)
    first_party = models.BooleanField(
        default=False, help_text="The operator's own app: people are not asked to consent."
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="An M2M app bound to one organization sees only that organization.",
    )
    logo_url = models.URLField(blank=True, max_length=500)
    description = models.CharField(blank=True, max_length=500)
    allowed_scopes = models.JSONField(
        default=list, blank=True, help_text="OpenID scopes the app may ask for."
    )
    backchannel_logout_uri = models.URLField(blank=True, max_length=500)
    secret_digest = models.CharField(max_length=64, blank=True, editable=False)
    secret_key_id = models.CharField(max_length=32, blank=True, editable=False)
    previous_secret_digest = models.CharField(max_length=64, blank=True, editable=False)
    previous_secret_key_id = models.CharField(max_length=32, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        default=600, help_text="Token and management API requests this client may make a minute."
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = GatehouseApplicationManager()

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        indexes = [models.Index(fields=["organization", "kind"])]

    def __str__(self) -> str:
        return self.name or self.client_id

    @property
    def confidential(self) -> bool:
        return self.kind in CONFIDENTIAL_KINDS

    @property
    def self_registered(self) -> bool:
        """Registered by itself from a client ID metadata document (an AI agent, say:
        provider/cimd.py), not by the operator: nobody at Gatehouse vetted it."""
        return bool(self.registration_source == self.RegistrationSource.CIMD)

    @property
    def registered_from(self) -> str:
        """The host a self-registered app's metadata document came from (its client id is
        that document's URL); empty for apps the operator registered."""
        return (urlsplit(self.client_id).hostname or "") if self.self_registered else ""

    def is_usable(self, request: Any) -> bool:
        return self.disabled_at is None

    def get_allowed_schemes(self) -> list[str]:
        """Schemes a redirect may use: https for web apps and SPAs; loopback http (RFC 8252)
        and the app's private-use schemes for native apps, checked per URI by the service."""
        if self.kind != ApplicationKind.NATIVE:
            return ["https"]
        schemes = {"https", "http"}
        for uri in self.redirect_uris.split():
            scheme = urlsplit(uri).scheme
            if scheme and scheme not in ("http", "https"):
                schemes.add(scheme)
        return sorted(schemes)

    @property
    def jwk_key(self) -> Any:
        """The key that signs this app's ID tokens: the database's active key for its algorithm
        (DOT reads ``OIDC_RSA_PRIVATE_KEY`` instead, which Gatehouse leaves empty)."""
        from provider import keys

        return keys.active_key(self.algorithm).private

    def clean_fields(self, exclude: Any = None) -> None:
        from provider import cimd

        if cimd.is_self_registered(self):
            cimd.apply_rules(self)
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        # DOT's clean() insists on OIDC_RSA_PRIVATE_KEY for RS256; Gatehouse's keys live in
        # the database, so only the redirect rules are checked: by the application service
        # for apps registered by people, by provider.cimd for self-registered ones.
        return None

    def save(self, *args: Any, **kwargs: Any) -> None:
        from provider import cimd

        if cimd.is_self_registered(self):
            cimd.apply_rules(self)  # also when DOT saves without validating (a refresh)
        super().save(*args, **kwargs)
