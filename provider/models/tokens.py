"""DOT's grants and tokens, swapped so that Gatehouse can add what its rules need: the
authorization-code family (a replayed code revokes what it issued), the OIDC session, how and
when the person authenticated, the organization and the API a token is for.

Tokens are stored only as SHA-256 checksums (DOT's RFC 9700 storage switch); codes and device
codes, which DOT stores in clear, are hashed by ``HashedSecretField``.
"""

from __future__ import annotations

from django.db import models
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractDeviceGrant,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)

from provider.models.fields import HashedSecretField


class AuthContext(models.Model):
    """How the person signed in, carried from the code to every token it leads to."""

    sid = models.CharField(max_length=64, blank=True, db_index=True)
    auth_time = models.DateTimeField(null=True, blank=True)
    amr = models.JSONField(default=list, blank=True)
    acr = models.CharField(max_length=64, blank=True)
    # The public id of the staff member who was signed in as the person (impersonation):
    # tokens say so in an ``act`` claim (RFC 8693, section 4.1).
    act_sub = models.CharField(max_length=64, blank=True, default="")
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    api = models.ForeignKey(
        "provider.Api", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        abstract = True


class Grant(AuthContext, AbstractGrant):  # noqa: DJ008  (DOT's __str__)
    code = HashedSecretField(unique=True)
    used_at = models.DateTimeField(null=True, blank=True)
    # When the code came back after its first use (the family's tokens were revoked then).
    replayed_at = models.DateTimeField(null=True, blank=True)
    # Every token issued from this code carries the same family: a replayed code revokes it.
    family = models.UUIDField(null=True, blank=True)

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"


class AccessToken(AuthContext, AbstractAccessToken):  # noqa: DJ008  (DOT's __str__)
    family = models.UUIDField(null=True, blank=True, db_index=True)
    jti = models.CharField(max_length=64, blank=True)

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"
        indexes = [models.Index(fields=["user", "application"])]


class RefreshToken(AuthContext, AbstractRefreshToken):  # noqa: DJ008  (DOT's __str__)
    # The family's absolute deadline, copied on every rotation (DOT's own limit is idle only).
    family_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"
        indexes = [
            *AbstractRefreshToken.Meta.indexes,
            models.Index(fields=["user", "application"]),
        ]


class IDToken(AbstractIDToken):
    sid = models.CharField(max_length=64, blank=True)

    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"


class DeviceGrant(AuthContext, AbstractDeviceGrant):  # noqa: DJ008  (DOT's __str__)
    device_code = HashedSecretField()  # unique by DOT's unique_device_code constraint
    user_code = HashedSecretField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta(AbstractDeviceGrant.Meta):
        swappable = "OAUTH2_PROVIDER_DEVICE_GRANT_MODEL"
