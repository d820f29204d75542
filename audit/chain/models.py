"""The chain's tables. Imported by ``audit.models`` so that Django finds them.

Seals, salts, erasure subjects, erasure marks and checkpoints are evidence: the application
role may read and add them (marks: only read; the owner's erase function adds them), never
change or remove them (audit/db_roles.py, audit migrations 0022, 0026 and 0027), and a
checkpoint must state a position the chain has sealed. Chains and keys are the sealer's and
signer's working state, guarded on PostgreSQL (audit migration 0026): a chain only grows and
only retention moves its cut; a key is only ever retired; neither is deleted. The sealer's
cursor is plain working state, and so are background checks of a chain (``AuditVerification``).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from audit.chain.encoding import encode_json
from config.encryption import EncryptedTextField

GATEHOUSE_WIDE = 0  # the chain of events that belong to no organization


class AuditChain(models.Model):
    """One organization's chain (``chain`` is its id; 0 for Gatehouse-wide events): how long it
    is, its newest hash, and where retention cut it (``pruned_through``, the last position
    deleted, and ``pruned_hash``, the chain hash at that position, which a signed checkpoint
    vouched for)."""

    chain = models.BigIntegerField(primary_key=True)
    size = models.BigIntegerField(default=0)
    head_hash = models.BinaryField(max_length=32)
    sealed_through_at = models.DateTimeField(null=True, blank=True)
    pruned_through = models.BigIntegerField(default=0)
    pruned_hash = models.BinaryField(max_length=32, null=True, blank=True)

    class Meta:
        app_label = "audit"

    def __str__(self) -> str:
        return f"audit chain {self.chain} ({self.size} events)"


class AuditSeal(models.Model):
    """An audit event's place in its chain: the commitments to its personal fields, its hash
    and the chain hash up to it. Written once by the sealer; removed only by retention."""

    chain = models.BigIntegerField()
    position = models.BigIntegerField()
    event_id = models.UUIDField(unique=True)
    commitments = models.BinaryField(max_length=160)
    event_hash = models.BinaryField(max_length=32)
    chain_hash = models.BinaryField(max_length=32)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "audit"
        constraints = [
            models.UniqueConstraint(fields=["chain", "position"], name="audit_seal_position")
        ]

    def __str__(self) -> str:
        return f"seal {self.chain}/{self.position}"


class AuditSalt(models.Model):
    """The random key an event's commitments are made with. Erasure deletes it, so that the
    stored commitments can no longer be tested against guesses of the erased values."""

    event_id = models.UUIDField(primary_key=True)
    salt = models.BinaryField(max_length=32)

    class Meta:
        app_label = "audit"

    def __str__(self) -> str:
        return f"salt of {self.event_id}"


class AuditErasureMark(models.Model):
    """Left where erasure deleted an event's salt: the verifier accepts that event's stored
    commitments as they are, and can tell erasure from tampering, provided the event is about
    the person ``pseudonym`` stands for (``ErasureSubject``). Only the owner's erase function
    writes marks on PostgreSQL (audit migration 0027)."""

    event_id = models.UUIDField(primary_key=True)
    pseudonym = models.CharField(max_length=64)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "audit"

    def __str__(self) -> str:
        return f"{self.event_id} erased as {self.pseudonym}"


class ErasureSubject(models.Model):
    """Who an erasure's pseudonym stands for: the person's user id, their erasure request, and
    the audit targets that are theirs (``[type, id]`` pairs: their account, addresses,
    memberships, sessions, devices). Written once, when the erasure job starts, and never
    changed: the owner's erase functions and the verifier take the person from here, not from
    the request, which the application updates as the job runs (audit migration 0027). On
    PostgreSQL a new row's targets must be the person's own things (audit migration 0028)."""

    pseudonym = models.CharField(max_length=32, primary_key=True)
    user_id = models.BigIntegerField()
    request_id = models.UUIDField()
    targets = models.JSONField(default=list)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "audit"

    def __str__(self) -> str:
        return f"{self.pseudonym} stands for user {self.user_id}"

    def owns_target(self, target_type: str, target_id: str) -> bool:
        """Whether an audit event's target is the person or one of their things."""
        if target_type == "user" and target_id == str(self.user_id):
            return True
        return any(
            isinstance(pair, list) and pair[:2] == [target_type, target_id]
            for pair in self.targets or []
        )

    def could_have_rewritten(self, event: Any) -> bool:
        """Whether this erasure could have rewritten ``event``: the person caused it, it is
        about them or one of their things, or it names the pseudonym (in any other event,
        erasure only puts the pseudonym's address where the person's address was quoted).
        An erasure mark on any other event was not left by this erasure."""
        if event.actor_id is not None and event.actor_id == self.user_id:
            return True
        if self.owns_target(event.target_type, event.target_id):
            return True
        quoted = (event.actor_text or "", event.target_text or "", encode_json(event.data))
        return any(self.pseudonym in text for text in quoted)


class SealCursor(models.Model):
    """How far the sealer has read the audit log (one row), committed with the seals it wrote.
    First the rows older than ``txid`` (which have none) in (occurred_at, id) order, then the
    rest in commit order: (txid, id) on PostgreSQL, rowid on SQLite."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    legacy_done = models.BooleanField(default=False)
    legacy_at = models.DateTimeField(null=True, blank=True)
    legacy_id = models.UUIDField(null=True, blank=True)
    txid = models.BigIntegerField(default=0)
    last_id = models.CharField(max_length=40, blank=True)  # a uuid (PostgreSQL) or a rowid
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "audit"

    def __str__(self) -> str:
        return f"sealed through ({self.txid}, {self.last_id})"


class CheckpointKey(models.Model):
    """An Ed25519 key checkpoints are signed with. One is active; retired keys stay in the JWKS
    for good, because a checkpoint someone kept must verify for years."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=16, default="Ed25519")
    private_key_encrypted = EncryptedTextField()
    public_key = models.BinaryField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "audit"
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="audit_one_active_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.status})"


class AuditCheckpoint(models.Model):
    """A signed statement of a chain's size and head: ``note`` is the exact text signed.
    Written once; the database cannot check the signature, so a row is read as a claim until
    the verifier has (``checkpoints.read``)."""

    chain = models.BigIntegerField()
    size = models.BigIntegerField()
    head_hash = models.BinaryField(max_length=32)
    signed_at = models.DateTimeField(default=timezone.now)
    key = models.ForeignKey(CheckpointKey, on_delete=models.PROTECT, related_name="+")
    note = models.TextField()
    signature = models.BinaryField(max_length=64)

    class Meta:
        app_label = "audit"
        constraints = [
            models.UniqueConstraint(fields=["chain", "size"], name="audit_checkpoint_size")
        ]
        indexes = [models.Index(fields=["chain", "-signed_at"], name="audit_checkpoint_newest")]

    def __str__(self) -> str:
        return f"checkpoint {self.chain}@{self.size}"


class AuditVerificationQuerySet(models.QuerySet["AuditVerification"]):
    def for_org(self, org: Any) -> AuditVerificationQuerySet:
        return self.filter(organization_id=getattr(org, "pk", org))

    def active(self) -> AuditVerificationQuerySet:
        return self.filter(status__in=AuditVerification.ACTIVE)


class AuditVerification(models.Model):
    """A check of an organization's chain against a checkpoint, run by a worker because the
    chain is too long to check in a request (audit/chain/verifications.py). One at a time per
    organization. ``claimed_at`` is the worker's heartbeat: a running check whose worker stops
    beating is taken up again, and given up after a few attempts. ``result`` is the report the
    inline check answers with (``Report.as_json``)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # The checkpoint's signed parts (chain, kid, signature, note): public, and read again by
    # the worker, so that the check rests on the signature and not on this row.
    checkpoint = models.JSONField()
    checkpoint_size = models.BigIntegerField()
    # Who asked: a person (their account; a tombstone after erasure) or an app ("client <id>").
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_app = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    to_check = models.BigIntegerField(default=0)  # the chain's length when it was asked for
    checked = models.BigIntegerField(default=0)  # how far the worker has got
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    objects = AuditVerificationQuerySet.as_manager()

    class Meta:
        app_label = "audit"
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(status__in=["queued", "running"]),
                name="audit_one_verification_at_a_time",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_verification_newest"),
            models.Index(fields=["status", "queued_at"], name="audit_verification_status"),
        ]

    def __str__(self) -> str:
        return f"audit verification {self.public_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def ok(self) -> bool | None:
        """Whether the log verified; None until the check is done."""
        return bool(self.result.get("ok")) if self.result else None
