"""APIs (resource servers): what a token is for, its audience and permissions."""

from __future__ import annotations

from django.db import models


class TokenFormat(models.TextChoices):
    JWT = "jwt", "Signed JWT (RFC 9068), verified locally with the JWKS"
    OPAQUE = "opaque", "Opaque, checked by introspection"


class Api(models.Model):
    """A resource server. ``identifier`` is the RFC 8707 ``resource`` a client asks a token for
    and the ``aud`` the token carries; ``scopes`` maps each permission to its plain-words
    description (shown on the consent screen)."""

    identifier = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=150)
    scopes = models.JSONField(default=dict, blank=True)
    access_token_lifetime = models.PositiveIntegerField(
        default=600, help_text="Seconds an access token for this API lives."
    )
    token_format = models.CharField(
        max_length=8, choices=TokenFormat.choices, default=TokenFormat.JWT
    )
    signing_alg = models.CharField(
        max_length=5, choices=(("RS256", "RS256"), ("ES256", "ES256")), default="RS256"
    )
    # Gatehouse's own management API (/api/v1/), created by migration; it cannot be removed.
    system = models.BooleanField(default=False, editable=False)
    introspectors = models.ManyToManyField(
        "provider.Application",
        blank=True,
        related_name="introspectable_apis",
        help_text="Confidential clients that may introspect this API's tokens.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "API"
        verbose_name_plural = "APIs"

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"


class ApiAccess(models.Model):
    """Which permissions of an API an application may ask for."""

    application = models.ForeignKey(
        "provider.Application", on_delete=models.CASCADE, related_name="api_access"
    )
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="access")
    scopes = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "api"], name="one_access_per_app_api")
        ]
        verbose_name = "API access"
        verbose_name_plural = "API access"

    def __str__(self) -> str:
        return f"{self.application} → {self.api}: {' '.join(self.scopes)}"
