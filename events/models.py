"""The outbox: one row per domain event, written in the transaction of the change it reports.

Webhooks and the events feed read from here, never from the request that made the change, so
nothing is sent for a change that rolled back and nothing is lost when a worker dies. Rows are
not evidence (the audit log is): retention deletes them, and erasure may blank their data.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from config.encryption import EncryptedTextField
from events.db import CurrentTxid


def new_public_id() -> str:
    """``evt_`` and 32 hex digits: the id consumers see (and webhooks' ``webhook-id``), with no
    dot in it, as Standard Webhooks asks."""
    return f"evt_{uuid.uuid4().hex}"


class EventQuerySet(models.QuerySet["Event"]):
    def for_org(self, org: Any) -> EventQuerySet:
        return self.filter(organization_id=getattr(org, "pk", org))


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    public_id = models.CharField(max_length=40, unique=True, default=new_public_id, editable=False)
    # The writing transaction (PostgreSQL), set by the database: see events/db.py.
    txid = models.BigIntegerField(null=True, db_default=CurrentTxid(), editable=False)
    type = models.CharField(max_length=64)
    # Null for Gatehouse-wide events (a person's own account, outside any organization).
    organization_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    audit_event_id = models.UUIDField(null=True, blank=True)
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    schema_version = models.PositiveSmallIntegerField(default=1)

    objects = EventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["txid", "id"], name="events_event_txid_id"),
            models.Index(fields=["organization_id", "txid", "id"], name="events_event_org_txid_id"),
            models.Index(fields=["occurred_at"], name="events_event_occurred_at"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"


class PrunedThrough(models.Model):
    """How far retention has deleted (one row): a feed cursor before it may have missed
    events that are gone, and is answered 410 rather than a page that silently skips them."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    txid = models.BigIntegerField(default=0)
    last_id = models.BigIntegerField(default=0)
    pruned_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"pruned through ({self.txid}, {self.last_id})"


# --- Webhooks (docs/events.md 4.2 and 4.5) ------------------------------------------------------


def new_endpoint_id() -> str:
    return f"whe_{uuid.uuid4().hex}"


def new_delivery_id() -> str:
    return f"dlv_{uuid.uuid4().hex}"


class PipelineCursor(models.Model):
    """How far one stage of the pipeline loop has read, in commit order: written in the same
    transaction as what the stage wrote for the rows it read, so a crash repeats a batch and
    never skips one."""

    stage = models.CharField(max_length=32, primary_key=True)
    txid = models.BigIntegerField(default=0)
    last_id = models.CharField(max_length=64, default="0")
    updated_at = models.DateTimeField(default=timezone.now)
    # How long committed rows at or above the horizon have waited for it (docs/events.md T2).
    horizon_lag_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.stage} at ({self.txid}, {self.last_id})"


class EndpointQuerySet(models.QuerySet["WebhookEndpoint"]):
    def for_org(self, org: Any) -> EndpointQuerySet:
        return self.filter(organization_id=getattr(org, "pk", org))

    def operators(self) -> EndpointQuerySet:
        return self.filter(organization__isnull=True)


class WebhookEndpoint(models.Model):
    """A URL that receives signed events: an organization's (its admins registered it; it gets
    that organization's events) or the operator's (organization null; it gets every event)."""

    class Status(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        DISABLED = "disabled", "Disabled"

    class DisabledReason(models.TextChoices):
        NONE = "", "—"
        GONE = "gone_410", "The endpoint answered 410 Gone"
        FAILING = "failing", "Every delivery failed for more than a day and a half"
        BY_OWNER = "by_owner", "Turned off by its owner"

    public_id = models.CharField(
        max_length=40, unique=True, default=new_endpoint_id, editable=False
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=500, blank=True)
    # Event type names from events/registry.py; empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED)
    disabled_reason = models.CharField(
        max_length=16, choices=DisabledReason.choices, default="", blank=True
    )
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by_text = models.CharField(max_length=320, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "status"], name="events_endpoint_org_status"),
        ]

    def __str__(self) -> str:
        # The id alone: the URL may carry a token of the receiver's, and this text is what
        # the audit log keeps as the target.
        return self.public_id

    @property
    def operator_owned(self) -> bool:
        return self.organization_id is None

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookSecret(models.Model):
    """A signing secret (``whsec_...``), kept encrypted. The current one has no expiry; after a
    rotation the previous one signs too until ``expires_at``."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret_encrypted = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "expires_at"], name="events_secret_endpoint_exp"),
        ]

    def __str__(self) -> str:
        return f"secret of {self.endpoint_id} from {self.created_at:%Y-%m-%d %H:%M}"


class Delivery(models.Model):
    """One event for one endpoint: its state lives here, not in the broker (docs/events.md 4.5,
    T4). A resend is a new row pointing at the delivery it repeats."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    public_id = models.CharField(
        max_length=40, unique=True, default=new_delivery_id, editable=False
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    resend_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"],
                condition=models.Q(resend_of__isnull=True),
                name="events_delivery_once_per_endpoint",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="events_delivery_due",
            ),
            models.Index(fields=["endpoint", "-id"], name="events_delivery_endpoint_log"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try of a delivery: what came back, never what was sent (no signed headers)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=1024, blank=True)
    retry_after_s = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["delivery", "at"], name="events_attempt_delivery_at")]

    def __str__(self) -> str:
        return f"attempt of {self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S}"
