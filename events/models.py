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
