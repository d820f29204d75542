"""Signing keys for ID tokens, JWT access tokens and logout tokens."""

from __future__ import annotations

from django.db import models

from config.encryption import EncryptedTextField


class KeyState(models.TextChoices):
    # Published in the JWKS, not used yet: verifiers learn it before the first token it signs.
    NEXT = "next", "Next (published, not signing)"
    ACTIVE = "active", "Active (signing)"
    # No longer signing, still published until the longest token it signed has expired.
    RETIRING = "retiring", "Retiring (published, not signing)"
    RETIRED = "retired", "Retired"


class SigningKey(models.Model):
    """A private key (encrypted with FIELD_ENCRYPTION_KEYS) and its public JWK."""

    kid = models.CharField(max_length=64, unique=True)
    alg = models.CharField(max_length=5, choices=(("RS256", "RS256"), ("ES256", "ES256")))
    private_jwk = EncryptedTextField(editable=False)
    public_jwk = models.JSONField(editable=False)
    state = models.CharField(max_length=8, choices=KeyState.choices, default=KeyState.NEXT)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retiring_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["alg"],
                condition=models.Q(state="active"),
                name="one_active_key_per_alg",
            )
        ]

    def __str__(self) -> str:
        return f"{self.alg} {self.kid} ({self.state})"
