"""What Gatehouse remembers to tell a familiar sign-in from a new one.

Imported by accounts.models, so the models belong to the accounts app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class KnownSign(models.Model):
    """A device (the device cookie's random id) or a network (an IPv4 /24, an IPv6 /64) a
    person has signed in from. Only a keyed hash is kept (``accounts.takeover.risk.digest``):
    the table alone tells nobody which cookie or address is whose. No unique constraint: two
    first sign-ins at once from the same place may both add a row, which changes nothing."""

    class Kind(models.TextChoices):
        DEVICE = "device", "Device"
        NETWORK = "network", "Network"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="known_signs"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    digest = models.CharField(max_length=64)
    first_seen = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "kind", "digest"], name="knownsign_lookup")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} known to user {self.user_id}"


class SignInRisk(models.Model):
    """The risk signals of one sign-in, beside its session's row (allauth's UserSession, by
    session key): shown on the sessions page and named in the login's audit event."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_in_risks"
    )
    session_key = models.CharField(max_length=40, db_index=True)
    created_at = models.DateTimeField()
    new_device = models.BooleanField(default=False)
    new_network = models.BooleanField(default=False)
    # Failed password attempts for the account in the throttle's window before this success.
    failures_before = models.PositiveIntegerField(default=0)
    challenged = models.BooleanField(default=False)
    stepped_up = models.BooleanField(default=False)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # Set once the person said "this wasn't me" from the new-device email.
    disowned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Sign-in of user {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def risky(self) -> bool:
        return self.new_device or self.new_network or self.failures_before > 0
