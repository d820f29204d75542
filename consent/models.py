"""Consent records: what people are asked to agree to, what they said, and when.

- A ``Purpose`` is something Gatehouse's operator asks consent (or states a lawful basis) for:
  the terms of service, the privacy policy, marketing email, analytics, "do not sell or share".
  Global, or belonging to one organization (shown to its members only).
- A ``PolicyDocument`` has ``PolicyVersion``s. A version is a draft until it is published; once
  published it never changes (here, in the admin, and in PostgreSQL by trigger) and carries the
  SHA-256 of its exact text, so anyone can check a receipt against it.
- A ``ConsentEvent`` is one decision, granted or withdrawn: append-only evidence, each with a
  signed receipt. ``ConsentState`` is the current decision per (person, purpose), written in the
  same transaction as the event that set it, so "what has this person agreed to" is one indexed
  query.
- A third-party app's access to a person's account (OAuth consent, issue 15) is a purpose too,
  of kind ``oauth_app``: one per app and organization, made by the provider the first time
  someone allows the app (provider.services.consent_ledger). Only the provider records
  decisions on it; it is never asked at sign-up, never shown as a choice on the privacy page,
  and never required.
- ``ReceiptKey`` holds the keys receipts are signed with; retired ones stay published.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.encryption import EncryptedBinaryField, EncryptedTextField


class ConsentRecordIsAppendOnly(Exception):
    """Raised when code tries to change or remove consent evidence."""


class LawfulBasis(models.TextChoices):
    CONSENT = "consent", "Consent"
    CONTRACT = "contract", "Contract"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    VITAL_INTERESTS = "vital_interests", "Vital interests"
    PUBLIC_TASK = "public_task", "Public task"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests"


class PolicyDocument(models.Model):
    """A document people agree to (terms of service, privacy policy), in versions."""

    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policy_documents",
        help_text="Empty for a Gatehouse-wide document.",
    )
    key = models.SlugField(max_length=64)
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=Q(organization__isnull=True),
                name="consent_doc_global_key",
            ),
            models.UniqueConstraint(fields=["organization", "key"], name="consent_doc_org_key"),
        ]

    def __str__(self) -> str:
        return self.title

    def latest_published(self) -> PolicyVersion | None:
        return self.versions.published().order_by("-published_at", "-id").first()

    def binding_version(self) -> PolicyVersion | None:
        """The version everyone must have accepted: the latest published one that asked for
        re-acceptance, else the first published."""
        published = self.versions.published()
        return (
            published.filter(requires_reacceptance=True).order_by("-published_at", "-id").first()
            or published.order_by("published_at", "id").first()
        )


class PublishedVersionIsImmutable(Exception):
    """Raised when code tries to change or delete a published policy version."""


class PolicyVersionQuerySet(models.QuerySet["PolicyVersion"]):
    def published(self) -> PolicyVersionQuerySet:
        return self.filter(published_at__isnull=False)

    def update(self, **kwargs: Any) -> int:
        if self.published().exists():
            raise PublishedVersionIsImmutable("Published policy versions never change.")
        return super().update(**kwargs)

    def delete(self) -> Any:
        if self.published().exists():
            raise PublishedVersionIsImmutable("Published policy versions are never deleted.")
        return super().delete()


class PolicyVersion(models.Model):
    document = models.ForeignKey(PolicyDocument, on_delete=models.PROTECT, related_name="versions")
    label = models.CharField(max_length=64, help_text="What people see, e.g. “November 2026”.")
    content = models.TextField(
        help_text="The full text people agree to. Its SHA-256 goes into every receipt."
    )
    url = models.URLField(blank=True, help_text="Where the operator also publishes it (optional).")
    change_summary = models.TextField(blank=True, help_text="What changed, shown when re-asking.")
    requires_reacceptance = models.BooleanField(
        default=False,
        help_text="Everyone who accepted an earlier version must accept this one at their next "
        "visit before doing anything else.",
    )
    content_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        editable=False,
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = PolicyVersionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "label"], name="consent_version_label"),
        ]

    def __str__(self) -> str:
        return f"{self.document.title} — {self.label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._stored_published():
            raise PublishedVersionIsImmutable("Published policy versions never change.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self._stored_published():
            raise PublishedVersionIsImmutable("Published policy versions are never deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def _stored_published(self) -> bool:
        return (
            self.pk is not None
            and type(self)
            .objects.filter(pk=self.pk, published_at__isnull=False)
            .values_list("pk", flat=True)
            .exists()
        )


class Purpose(models.Model):
    class Kind(models.TextChoices):
        CONSENT = "consent", "Consent (granted means the person agrees)"
        OPT_OUT = "opt_out", "Opt-out (granted means the person opts out)"
        OAUTH_APP = "oauth_app", "An app's access to the account (OAuth consent)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consent_purposes",
        help_text="Empty for a purpose that applies to everyone; else only to its members.",
    )
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    required = models.BooleanField(
        default=False, help_text="Required purposes must be accepted to use the account."
    )
    lawful_basis = models.CharField(
        max_length=32, choices=LawfulBasis.choices, default=LawfulBasis.CONSENT
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CONSENT)
    document = models.ForeignKey(
        PolicyDocument,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purposes",
        help_text="The document this purpose is accepted against, if any.",
    )
    offered_at_signup = models.BooleanField(
        default=True, help_text="Ask (or offer, unticked) on the sign-up form."
    )
    archived = models.BooleanField(
        default=False, help_text="No longer asked or shown as current; its history stays."
    )
    # The version everyone must have accepted (the latest published one that asked for
    # re-acceptance, or the first); its publication time is copied for the gate's one query.
    binding_version = models.ForeignKey(
        PolicyVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    binding_published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-required", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=Q(organization__isnull=True),
                name="consent_purpose_global_key",
            ),
            models.UniqueConstraint(fields=["organization", "key"], name="consent_purpose_org_key"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A purpose pointed at a document that already has published versions is bound by them
        # at once (the latest that asked for re-acceptance, else the first), as if it had been
        # there when they were published.
        binding = self.document.binding_version() if self.document_id else None  # type: ignore[union-attr]
        self.binding_version = binding
        self.binding_published_at = binding.published_at if binding else None
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {
                *kwargs["update_fields"],
                "binding_version",
                "binding_published_at",
            }
        super().save(*args, **kwargs)

    def current_version(self) -> PolicyVersion | None:
        return self.document.latest_published() if self.document_id else None  # type: ignore[union-attr]


class Decision(models.TextChoices):
    GRANTED = "granted", "Granted"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Method(models.TextChoices):
    SIGNUP = "signup", "Sign-up form"
    SETTINGS = "settings", "Privacy settings"
    RECONSENT = "reconsent", "Re-acceptance"
    API = "api", "API"
    IMPORT = "import", "Import"
    OAUTH_CONSENT = "oauth_consent", "OAuth consent"
    GPC = "gpc", "Global Privacy Control signal"


class ConsentEventQuerySet(models.QuerySet["ConsentEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise ConsentRecordIsAppendOnly("Consent events are never updated.")

    def delete(self) -> NoReturn:
        raise ConsentRecordIsAppendOnly("Consent events are never deleted.")


class ConsentEvent(models.Model):
    """One decision by (or recorded for) one person. Never changed, never deleted."""

    id = models.BigAutoField(primary_key=True)  # ordered: ties on occurred_at break by id
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="consent_events",
        db_index=False,  # the composite index below starts with user
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="events")
    version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    organization_id = models.BigIntegerField(null=True, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    method = models.CharField(max_length=16, choices=Method.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    # Who recorded it when not the person themselves (an operator's backend, an import).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_text = models.CharField(max_length=320, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    receipt = models.TextField(help_text="The signed receipt (compact JWS), as issued.")
    # What the decision covered beyond its purpose, signed into the receipt with it: for OAuth
    # consent, the app's client id and name, the permissions (scopes) and the organization.
    # Never anything that names the person.
    details = models.JSONField(default=dict, blank=True)

    objects = ConsentEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        permissions = [
            (
                "manage_subject_consents",
                "Read and record people's consents through the API (operator backends)",
            )
        ]
        indexes = [
            models.Index(
                fields=["user", "purpose", "-occurred_at", "-id"], name="consent_event_current"
            ),
            # The admin's list of every event, newest first, in keyset pages.
            models.Index(fields=["occurred_at", "id"], name="consent_event_when"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.decision} ({self.get_method_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ConsentRecordIsAppendOnly("Consent events are never updated.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ConsentRecordIsAppendOnly("Consent events are never deleted.")


class ConsentState(models.Model):
    """The current decision per (person, purpose): the latest event, kept in step with it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_states"
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="states")
    event = models.OneToOneField(ConsentEvent, on_delete=models.PROTECT, related_name="+")
    granted = models.BooleanField()
    version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    version_published_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "purpose"], name="consent_state_one_per_purpose"
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose}: {'granted' if self.granted else 'withdrawn'}"


class ReceiptKey(models.Model):
    """A key consent receipts are signed with (ES256). One is active; retired keys stay in the
    JWKS for good, because receipts are evidence that must verify for years."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=16, default="ES256")
    private_key_encrypted = EncryptedTextField()
    public_jwk = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="consent_one_active_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.status})"


class DataSubjectRequest(models.Model):
    """A person's request to export their data or to be erased, and how it was honoured. Kept
    after erasure (with the tombstone account) as proof that the request was carried out."""

    class Kind(models.TextChoices):
        EXPORT = "export", "Export"
        ERASURE = "erasure", "Erasure"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # export: waiting for the job
        READY = "ready", "Ready to download"  # export
        DOWNLOADED = "downloaded", "Downloaded"  # export
        EXPIRED = "expired", "Expired"  # export: link unused in time
        SCHEDULED = "scheduled", "Scheduled"  # erasure: in its grace period
        ERASING = "erasing", "Erasing"  # erasure: the job has started
        ON_HOLD = "on_hold", "On hold"  # erasure: blocked (sole owner of an organization)
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Via(models.TextChoices):
        SELF = "self", "The person, signed in"
        API = "api", "API"
        SUPPORT = "support", "Support staff"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="data_requests"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    via = models.CharField(max_length=16, choices=Via.choices, default=Via.SELF)
    requested_at = models.DateTimeField(default=timezone.now)
    scheduled_for = models.DateTimeField(null=True, blank=True)  # erasure: end of grace period
    cancelled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Export: only the SHA-256 of the emailed link's token is kept, as for invitations.
    download_token_hash = models.CharField(max_length=64, blank=True)
    download_expires_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    # Erasure: when the job began, the pseudonym that replaces the person everywhere (random,
    # derived from nothing), and while the job runs the identifiers it is erasing, encrypted
    # (old addresses survive only in audit data, which the first pass rewrites; a crash must not
    # lose them). ``identifiers`` is cleared when the erasure completes.
    started_at = models.DateTimeField(null=True, blank=True)
    pseudonym = models.CharField(max_length=32, blank=True)
    identifiers = EncryptedBinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(kind="erasure", status__in=["scheduled", "erasing", "on_hold"]),
                name="consent_one_open_erasure",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(kind="export", status__in=["pending", "ready"]),
                name="consent_one_open_export",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "status", "scheduled_for"]),
            # The admin's list, newest first, in keyset pages (config/admin_scale.py).
            models.Index(fields=["requested_at", "id"], name="consent_request_when"),
            models.Index(fields=["pseudonym"], name="consent_request_pseudonym"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"


class ExportArchive(models.Model):
    """A built export: a zip, encrypted with ``config.encryption``, kept in the database (web
    and worker nodes share no disk) until it is downloaded or its link expires."""

    request = models.OneToOneField(
        DataSubjectRequest, on_delete=models.CASCADE, related_name="archive"
    )
    data = EncryptedBinaryField()
    sha256 = models.CharField(max_length=64)  # of the zip before encryption
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Export archive ({self.size} bytes)"
