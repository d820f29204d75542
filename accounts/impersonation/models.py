"""The record of each impersonation, and the emailed links that approve or refuse one.

Imported by accounts.models, so the models belong to the accounts app.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from config.encryption import EncryptedTextField


class Impersonation(models.Model):
    """One staff member seeing Gatehouse as one person, for a reason and a limited time.

    While it runs, the staff member's browser holds a session of the person's; their own
    session waits in the session store, its key kept here encrypted (``staff_session_key``) so
    that ending the impersonation can give it back, under a new key.
    """

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting", "Awaiting approval"
        APPROVED = "approved", "Approved, not started"
        REFUSED = "refused", "Refused"
        APPROVAL_EXPIRED = "lapsed", "Approval not given in time"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        EXPIRED = "expired", "Ended when its time ran out"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="impersonations_made"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="impersonations"
    )
    reason = models.TextField()
    minutes = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices)
    needs_approval = models.BooleanField(default=False)
    requested_at = models.DateTimeField()
    # Until when the approval links work (only when approval is needed).
    approval_expires_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_text = models.CharField(max_length=320, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The staff member's own session, waiting to be given back (empty once it was).
    staff_session_key = EncryptedTextField(blank=True, default="")
    person_notified = models.BooleanField(default=False)

    class Meta:
        permissions = [("impersonate_user", "Can sign in as a person (impersonation)")]
        indexes = [
            models.Index(fields=["status", "ends_at"], name="impersonation_due"),
            models.Index(fields=["person", "-requested_at"], name="impersonation_person"),
            models.Index(fields=["-requested_at"], name="impersonation_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} as {self.person} ({self.status})"


class ApprovalLink(models.Model):
    """One emailed link that approves or refuses an impersonation: one per recipient (an
    admin of an organization whose policy asks for approval, or the person), stored only as
    the SHA-256 of its token. Good once, and only until the impersonation's
    ``approval_expires_at``."""

    impersonation = models.ForeignKey(
        Impersonation, on_delete=models.CASCADE, related_name="approval_links"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # The organization the approver speaks for; empty when the approver is the person.
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    used_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=10, blank=True)

    def __str__(self) -> str:
        return f"approval link for {self.impersonation_id} to {self.approver_id}"
