"""The audit log: append-only rows that stand on their own."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit.actions import Action, Outcome
from config.encryption import EncryptedBinaryField
from events.db import CurrentTxid


class AuditLogIsAppendOnly(Exception):
    """Raised when code tries to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditLogIsAppendOnly("Audit events are never updated.")

    def delete(self) -> NoReturn:
        raise AuditLogIsAppendOnly("Audit events are never deleted.")

    def for_org(self, org: Any) -> AuditEventQuerySet:
        return self.filter(organization_id=getattr(org, "pk", org))

    def about_user(self, user: Any) -> AuditEventQuerySet:
        return self.filter(
            models.Q(actor_id=user.pk) | models.Q(target_type="user", target_id=str(user.pk))
        )


class AuditEvent(models.Model):
    """One thing that happened.

    A row carries text copies of the actor and target next to their keys, so it still reads
    correctly after the user is renamed or deleted. ``data`` is redacted before it is stored.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=64, choices=Action.choices, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    # No database constraint and DO_NOTHING: deleting a user must not rewrite (or be blocked
    # by) the events they caused; actor_text keeps saying who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    actor_text = models.CharField(max_length=320, blank=True)
    # Organizations arrive with issue 4; the key is kept as a plain column until then.
    # Indexed with occurred_at and id (below), which serves the portal's keyset pages too.
    organization_id = models.BigIntegerField(null=True, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_text = models.CharField(max_length=320, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    # The writing transaction (PostgreSQL), set by the database, for readers that take events
    # in commit order (events/horizon.py). NULL on rows older than the column (migration 0016)
    # and on SQLite.
    txid = models.BigIntegerField(null=True, blank=True, editable=False, db_default=CurrentTxid())

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "-occurred_at"]),
            # An organization's log, newest first, in keyset pages (occurred_at, id), and its
            # retention (oldest first): both directions of one index. Built concurrently
            # (migration 0016). The actor-prefix indexes on lower(actor_text) are PostgreSQL
            # only and live in that migration alone (audit/search.py uses them).
            models.Index(fields=["organization_id", "occurred_at", "id"], name="audit_org_when"),
            models.Index(fields=["txid", "id"], name="audit_event_txid_id"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_text or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events are never updated.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditLogIsAppendOnly("Audit events are never deleted.")


class AuditExportQuerySet(models.QuerySet["AuditExport"]):
    def for_org(self, org: Any) -> AuditExportQuerySet:
        return self.filter(organization_id=getattr(org, "pk", org))


class AuditExport(models.Model):
    """An export of an organization's audit log too large to stream at once: built by a
    worker (audit.tasks.build_audit_export), kept encrypted and gzipped in the database (web
    and worker nodes share no disk) until it expires, and downloadable meanwhile by the
    organization's admins from the audit page."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=4, choices=Format.choices)
    filters = models.JSONField(default=dict)  # the page's filters, as the query string had them
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    rows = models.PositiveIntegerField(default=0)
    data = EncryptedBinaryField(default=b"")  # gzip of the file, encrypted (config.encryption)
    sha256 = models.CharField(max_length=64, blank=True)  # of the file before gzip
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = AuditExportQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"Audit export {self.public_id} ({self.status})"


# The hash chain's tables live beside its code; imported here so Django finds them.
from audit.chain.models import (  # noqa: E402
    AuditChain,
    AuditCheckpoint,
    AuditErasureMark,
    AuditSalt,
    AuditSeal,
    AuditVerification,
    CheckpointKey,
    ErasureSubject,
    SealCursor,
)

# Log streams live in their own module (audit/streams/); Django finds models in this one.
from audit.streams.models import LogStream  # noqa: E402

__all__ = [
    "AuditChain",
    "AuditCheckpoint",
    "AuditErasureMark",
    "AuditEvent",
    "AuditExport",
    "AuditLogIsAppendOnly",
    "AuditSalt",
    "AuditSeal",
    "AuditVerification",
    "CheckpointKey",
    "ErasureSubject",
    "LogStream",
    "SealCursor",
]
