"""Checking a chain in the background, for chains too long to check in a request.

A check reads an organization's whole chain (audit/chain/verify.py). Up to
``GATEHOUSE_AUDIT_VERIFY_SYNC_MAX`` events it runs in the request, as it always has; past that
(or when an API caller asks for it with ``Prefer: respond-async``) it becomes a row here, run by
a worker, in the shape of Gatehouse's other jobs (audit/exports.py, consent/erasure/job.py):

1. **Start** (``start``, the caller's transaction): the row is written and queued on commit.
   One check per organization is queued or running at a time (a partial unique index); asking
   again meanwhile answers with the one under way.
2. **Claim** (``run``; a short transaction with the row locked, skipping a row another worker
   holds): a queued check, or a running one whose worker has not beaten for ``STALLED_AFTER``
   (it died), becomes running with one more attempt. Past ``MAX_ATTEMPTS`` it fails instead.
3. **Check**, outside any transaction. After each batch of the walk the worker beats
   (``claimed_at``, and ``checked`` for the page); a worker that finds its attempt was taken
   over (it was thought dead) stops.
4. **Settle** (a short transaction with the row locked, only by the attempt that holds it):
   the report is stored and the check is audited as an inline check is (``audit.verified``),
   with whoever asked for it as the actor. A check that cannot finish is ``failed`` with a
   reason, audited too (outcome ``failure``).

Beat's ``requeue_audit_verifications`` queues again a check whose message was lost or whose
worker died (``requeue``). Running a check's task twice does no harm: a second claim finds it
held, done or failed, and does nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.actions import Action, Outcome
from audit.chain import checkpoints
from audit.chain.models import AuditChain, AuditVerification
from audit.chain.verify import Report, verify
from audit.services import record
from config.refusals import service
from organizations.models import Membership
from organizations.permissions import is_app

logger = logging.getLogger(__name__)

Status = AuditVerification.Status
# How often a running check writes its progress, at most (it beats after every batch of the
# walk that ends later than this after the last beat).
HEARTBEAT = timedelta(seconds=10)
# A running check whose worker has not beaten for this long is taken to have died.
STALLED_AFTER = timedelta(minutes=5)
# A queued check no worker has claimed for this long lost its broker message.
REQUEUE_AFTER = timedelta(minutes=5)
# Attempts before a check that keeps stopping (a worker dying on it) is given up.
MAX_ATTEMPTS = 3
# What the API suggests between two polls (Retry-After).
POLL_SECONDS = 5
# How many checks of an organization the audit page lists.
RECENT = 5
# The checkpoint fields ``checkpoints.read`` relies on; the rest is read from the signed note.
_SIGNED_PARTS = ("chain", "kid", "signature", "note")


# --- Reading ------------------------------------------------------------------------------------


def length_to_check(org: Any) -> int:
    """How many events a check of ``org``'s chain walks: from the retention cut to the end."""
    chain = AuditChain.objects.filter(chain=org.pk).only("size", "pruned_through").first()
    return max(0, chain.size - chain.pruned_through) if chain else 0


def too_long_for_a_request(length: int) -> bool:
    return length > settings.GATEHOUSE_AUDIT_VERIFY_SYNC_MAX


def under_way(org: Any) -> AuditVerification | None:
    """The organization's check that is queued or running, if any."""
    return AuditVerification.objects.for_org(org).active().select_related("organization").first()


def find(org: Any, public_id: Any) -> AuditVerification | None:
    """One of ``org``'s checks by its public id; None for anyone else's."""
    found = AuditVerification.objects.for_org(org).filter(public_id=public_id)
    return found.select_related("organization").first()


def recent(org: Any) -> list[AuditVerification]:
    return list(AuditVerification.objects.for_org(org).order_by("-created_at")[:RECENT])


# --- Starting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    verification: AuditVerification
    new: bool  # False: the organization's check already under way


def signed_parts(raw: Any) -> dict[str, Any]:
    """What of a checkpoint (already read by ``checkpoints.read``) is kept to check it again."""
    parsed = json.loads(raw) if isinstance(raw, bytes | str) else raw
    return {name: parsed[name] for name in _SIGNED_PARTS}


@service
def start(
    *, org: Any, actor: Any, claim: checkpoints.Claim, checkpoint: dict[str, Any], length: int
) -> Started:
    """Queue a check of ``org``'s chain against ``claim`` (its ``checkpoint``'s signed parts),
    asked for by ``actor`` (a membership or an app). When a check of ``org`` is already queued
    or running, that one is returned instead and nothing is queued."""
    running = under_way(org)
    if running is not None:
        return Started(running, new=False)
    person = actor.user if isinstance(actor, Membership) else None
    try:
        with transaction.atomic():  # a savepoint: losing the race returns the winner's check
            made = AuditVerification.objects.create(
                organization=org,
                checkpoint=checkpoint,
                checkpoint_size=claim.size,
                requested_by=person,
                requested_by_app=actor.audit_text if is_app(actor) else "",
                to_check=length,
            )
    except IntegrityError:
        running = under_way(org)
        if running is None:
            raise
        return Started(running, new=False)
    pk = made.pk
    transaction.on_commit(lambda: _queue(pk), robust=True)
    return Started(made, new=True)


def _queue(verification_id: int) -> None:
    from audit.tasks import verify_audit_chain

    verify_audit_chain.delay(verification_id)


# --- Running ------------------------------------------------------------------------------------


class _TakenOver(Exception):
    """This attempt no longer holds the check (it was thought dead and claimed again)."""


@dataclass(frozen=True)
class _Claimed:
    pk: int
    attempt: int
    chain: int
    checkpoint: dict[str, Any]


def run(verification_id: int) -> str:
    """Run one check. Returns "done", "failed", or "skipped" (finished already, held by a live
    worker, or taken over by another attempt while this one ran)."""
    claimed = _claim(verification_id)
    if isinstance(claimed, str):
        return claimed
    try:
        claim = checkpoints.read(claimed.checkpoint)
    except checkpoints.CheckpointInvalid as exc:
        return _settle_failed(claimed, f"The checkpoint can no longer be trusted: {exc}")
    try:
        report = verify(claimed.chain, claim, progress=_Beat(claimed))
    except _TakenOver:
        return "skipped"
    except OperationalError:
        _let_go(claimed)  # the task retries with backoff; beat re-queues it if that fails
        raise
    except Exception:
        logger.exception("audit verification %s stopped", verification_id)
        return _settle_failed(claimed, "The check stopped on an unexpected error. Start it again.")
    return _settle_done(claimed, report)


def _claimable() -> Q:
    """Queued, or running with a worker that stopped beating (or let go after an error)."""
    stalled = timezone.now() - STALLED_AFTER
    return Q(status=Status.QUEUED) | Q(
        Q(status=Status.RUNNING), Q(claimed_at__isnull=True) | Q(claimed_at__lt=stalled)
    )


@service
def _claim(verification_id: int) -> _Claimed | str:
    verification = (
        AuditVerification.objects.select_for_update(skip_locked=True)
        .filter(_claimable(), pk=verification_id)
        .first()
    )
    if verification is None:
        return "skipped"
    if verification.attempts >= MAX_ATTEMPTS:
        _fail(verification, f"The check stopped {verification.attempts} times without finishing.")
        return "failed"
    now = timezone.now()
    verification.status = Status.RUNNING
    verification.attempts += 1
    verification.claimed_at = now
    verification.started_at = verification.started_at or now
    verification.checked = 0
    verification.save(update_fields=["status", "attempts", "claimed_at", "started_at", "checked"])
    return _Claimed(
        pk=verification.pk,
        attempt=verification.attempts,
        chain=verification.organization_id,
        checkpoint=dict(verification.checkpoint),
    )


def _held(claimed: _Claimed) -> Any:
    """The check, as long as this attempt holds it."""
    return AuditVerification.objects.filter(
        pk=claimed.pk, status=Status.RUNNING, attempts=claimed.attempt
    )


class _Beat:
    """The walk's progress callback: writes how far it has got, at most every ``HEARTBEAT``,
    and stops the walk when another attempt has taken the check over."""

    def __init__(self, claimed: _Claimed) -> None:
        self.claimed = claimed
        self.last = timezone.now()

    def __call__(self, checked: int) -> None:
        now = timezone.now()
        if now - self.last < HEARTBEAT:
            return
        self.last = now
        if not _held(self.claimed).update(claimed_at=now, checked=checked):
            raise _TakenOver


def _let_go(claimed: _Claimed) -> None:
    """After a database error: let another attempt claim the check at once (best effort)."""
    try:
        _held(claimed).update(claimed_at=None)
    except OperationalError:
        logger.warning("audit verification %s: could not let go after an error", claimed.pk)


@service
def _settle_done(claimed: _Claimed, report: Report) -> str:
    verification = _held(claimed).select_for_update().first()
    if verification is None:
        return "skipped"
    verification.status = Status.DONE
    verification.result = report.as_json()
    verification.checked = report.checked
    verification.finished_at = timezone.now()
    verification.claimed_at = None
    verification.save(update_fields=["status", "result", "checked", "finished_at", "claimed_at"])
    _record(
        verification,
        Outcome.SUCCESS,
        {"ok": report.ok, "problems": len(report.problems)},
    )
    return "done"


@service
def _settle_failed(claimed: _Claimed, reason: str) -> str:
    verification = _held(claimed).select_for_update().first()
    if verification is None:
        return "skipped"
    _fail(verification, reason)
    return "failed"


def _fail(verification: AuditVerification, reason: str) -> None:
    verification.status = Status.FAILED
    verification.last_error = reason[:200]
    verification.finished_at = timezone.now()
    verification.claimed_at = None
    verification.save(update_fields=["status", "last_error", "finished_at", "claimed_at"])
    _record(verification, Outcome.FAILURE, {"error": verification.last_error})


def _record(verification: AuditVerification, outcome: Outcome, found: dict[str, Any]) -> None:
    """The check on the record as an inline one is (audit.chain.views._verified), by whoever
    asked for it, naming the check."""
    person = verification.requested_by
    record(
        Action.AUDIT_VERIFIED,
        actor=person,
        actor_text=verification.requested_by_app or ("" if person else "system"),
        organization=verification.organization_id,
        outcome=outcome,
        data={
            "size": verification.checkpoint_size,
            **found,
            "check": str(verification.public_id),
        },
    )


# --- Picking up after lost messages and dead workers --------------------------------------------


def requeue() -> int:
    """Queue again every check whose message was lost (queued, never claimed) or whose worker
    died (running, no beat for ``STALLED_AFTER``). The claim gives up on one that has used its
    attempts. Returns how many were queued."""
    now = timezone.now()
    lost = Q(status=Status.QUEUED, queued_at__lt=now - REQUEUE_AFTER)
    dead = Q(status=Status.RUNNING, queued_at__lt=now - REQUEUE_AFTER) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALLED_AFTER)
    )
    due = list(AuditVerification.objects.filter(lost | dead).values_list("pk", flat=True)[:100])
    AuditVerification.objects.filter(pk__in=due).update(queued_at=now)
    for pk in due:
        _queue(pk)
    return len(due)
