"""What a person has allowed an app to do, and the OIDC sessions tokens belong to."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Authorization(models.Model):
    """A person's standing permission for one app (and organization): what /account/apps/
    lists and "Remove access" ends. Consent screens are skipped while it covers the request."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_authorizations"
    )
    application = models.ForeignKey(
        "provider.Application", on_delete=models.CASCADE, related_name="authorizations"
    )
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.CASCADE
    )
    scopes = models.JSONField(default=list)
    consent_event = models.ForeignKey(
        "consent.ConsentEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "application", "organization"],
                condition=models.Q(organization__isnull=False),
                name="one_authorization_per_app_org",
            ),
            models.UniqueConstraint(
                fields=["user", "application"],
                condition=models.Q(organization__isnull=True),
                name="one_authorization_per_app",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.application}"


class ProviderSession(models.Model):
    """The OIDC session (``sid``) of one browser session: tokens issued through it carry the
    same ``sid``, and ending it (logout, back-channel logout) finds them by it."""

    sid = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_sessions"
    )
    session_key_digest = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.sid
