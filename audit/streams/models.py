"""A log stream: an organization's audit log, copied to its SIEM as it is written.

The stream's place is ``position``: the last position of the organization's audit chain that
the destination accepted. It moves only when a batch was delivered, so a stream that was down
resumes where it stopped and nothing is lost or skipped.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from config.encryption import EncryptedTextField


class LogStreamQuerySet(models.QuerySet["LogStream"]):
    def for_org(self, org: Any) -> LogStreamQuerySet:
        return self.filter(organization_id=getattr(org, "pk", org))


class LogStream(models.Model):
    class Kind(models.TextChoices):
        HTTPS = "https", "HTTPS (JSON, signed)"
        SPLUNK_HEC = "splunk_hec", "Splunk HTTP Event Collector"
        DATADOG = "datadog", "Datadog logs"
        SYSLOG_TLS = "syslog_tls", "Syslog over TLS (RFC 5424)"

    class Format(models.TextChoices):
        JSON = "json", "Gatehouse JSON"
        OCSF = "ocsf", "OCSF 1.3"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        FAILING = "failing", "Failing"
        DISABLED = "disabled", "Turned off after failing"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.JSON)
    url = models.CharField(max_length=2048, blank=True)  # https and splunk_hec
    host = models.CharField(max_length=253, blank=True)  # syslog_tls
    port = models.PositiveIntegerField(null=True, blank=True)  # syslog_tls
    datadog_site = models.CharField(max_length=32, blank=True)
    # The HEC token, Datadog API key or HTTPS signing secret: Fernet (config/encryption.py),
    # shown once (the signing secret) or never (what the admin typed).
    credential_encrypted = EncryptedTextField(blank=True)
    ca_pem = models.TextField(blank=True)  # syslog_tls: trust only this CA when given
    actions = models.JSONField(default=list, blank=True)  # empty: every action
    position = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # Positions passed over because retention removed their events before they were sent.
    last_gap = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # failures in a row
    queued_at = models.DateTimeField(null=True, blank=True)  # a batch task is on its way
    claimed_at = models.DateTimeField(null=True, blank=True)  # a worker is sending a batch
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_by_text = models.CharField(max_length=320, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = LogStreamQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="audit_stream_due"),
            models.Index(fields=["organization"], name="audit_stream_org"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def destination_text(self) -> str:
        """Where it sends, as the portal and admin show it (never the credential)."""
        if self.kind == self.Kind.SYSLOG_TLS:
            return f"{self.host}:{self.port}"
        if self.kind == self.Kind.DATADOG:
            return f"Datadog {self.datadog_site}"
        return self.url
