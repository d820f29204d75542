"""The chain's tables. Imported by ``audit.models`` so that Django finds them.

Seals, salts, erasure subjects, erasure marks and checkpoints are evidence: the application
role may read and add them (marks: only read; the owner's erase function adds them), never
change or remove them (audit/db_roles.py, audit migrations 0022, 0026 and 0027), and a
checkpoint must state a position the chain has sealed. Chains and keys are the sealer's and
signer's working state, guarded on PostgreSQL (audit migration 0026): a chain only grows and
only retention moves its cut; a key is only ever retired; neither is deleted. The sealer's
cursor is plain working state.
"""

from __future__ import annotations

from typing import Any

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
