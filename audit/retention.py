"""Retention of the audit log: each organization keeps its events for
``OrganizationPolicy.audit_retention_days`` (empty: for ever), the Gatehouse-wide ones for
``GATEHOUSE_AUDIT_RETENTION_DAYS`` (0: for ever). Never less than ``MINIMUM_DAYS``.

The application may not delete audit events (audit/db_roles.py): on PostgreSQL each batch goes
through ``gatehouse_purge_audit_events`` (audit migrations 0018, 0024, 0026, 0028 and 0030), a
function of the owner role that also refuses a cutoff under 28 days (a margin for clocks) and
an organization that keeps its log for ever. SQLite, the embedded mode, has no roles: the same
deletion runs through the ORM, past its guard. Each batch that deleted anything leaves one
``audit.purged`` event in the chain it cut, in the same transaction, saying how much and up to
when. On PostgreSQL the function writes it, as the owner, so that a purge the application role
asks for itself (it may call the function with any cutoff the function takes) is in the log
too; on SQLite this module does.

Retention cuts each organization's hash chain (audit/chain/) at a signed checkpoint (T27):
the newest checkpoint signed before the cutoff. Events after it wait for a later checkpoint to
age past the cutoff (beat signs one every ten minutes for a chain that grew). Whatever a
checkpoint row says, the cut never reaches an event that is not older than the cutoff (audit
migration 0026): the table takes rows the application role writes, and nothing here checks
their signatures. The chain keeps where it was cut (``pruned_through``) and the chain hash
there (``pruned_hash``); verification starts from there, and checks that hash against the
signed checkpoint at or after the cut. The count is of chain positions removed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.actions import Action
from audit.chain.models import GATEHOUSE_WIDE
from audit.models import (
    AuditChain,
    AuditCheckpoint,
    AuditErasureMark,
    AuditEvent,
    AuditSalt,
    AuditSeal,
)
from audit.services import record
from config.refusals import service

# Events deleted per transaction, and the shortest retention anyone may choose.
BATCH_SIZE = 1000
MINIMUM_DAYS = 30


def purge_all(now: datetime | None = None) -> int:
    """Apply every organization's retention and the Gatehouse-wide one. Returns how many events
    were deleted."""
    from organizations.models import OrganizationPolicy

    now = now or timezone.now()
    deleted = 0
    policies = (
        OrganizationPolicy.objects.filter(audit_retention_days__isnull=False)
        .order_by("organization_id")
        .values_list("organization_id", "audit_retention_days")
    )
    for org_id, days in policies.iterator(chunk_size=500):
        deleted += purge(org_id, cutoff=_cutoff(now, days or 0))
    if settings.GATEHOUSE_AUDIT_RETENTION_DAYS:
        deleted += purge(None, cutoff=_cutoff(now, settings.GATEHOUSE_AUDIT_RETENTION_DAYS))
    return deleted


def _cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=max(int(days), MINIMUM_DAYS))


def purge(org_id: int | None, *, cutoff: datetime, batch: int = BATCH_SIZE) -> int:
    """Delete the events of one organization (None: Gatehouse-wide) older than ``cutoff``, a
    batch per transaction, each batch with its ``audit.purged`` record. Returns how many."""
    deleted = 0
    while True:
        done = _purge_batch(org_id, cutoff, batch)
        deleted += done
        if done < batch:
            break
    return deleted


@service
def _purge_batch(org_id: int | None, cutoff: datetime, batch: int) -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT gatehouse_purge_audit_events(%s, %s, %s)", [org_id, cutoff, batch]
            )
            return int(cursor.fetchone()[0])
    if cutoff > timezone.now() - timedelta(days=MINIMUM_DAYS):
        raise ValueError(f"audit events are kept at least {MINIMUM_DAYS} days")
    if org_id and _keeps_for_ever(org_id):
        raise ValueError(f"organization {org_id} keeps its audit log for ever")
    removed = _cut_chain(int(org_id or 0), cutoff, batch)
    if removed:
        _record_purge(org_id, cutoff, removed)
    return removed


def _keeps_for_ever(org_id: int) -> bool:
    from organizations.models import OrganizationPolicy

    return OrganizationPolicy.objects.filter(
        organization_id=org_id, audit_retention_days__isnull=True
    ).exists()


def _cut_chain(chain_id: int, cutoff: datetime, batch: int) -> int:
    """SQLite's side of gatehouse_purge_audit_events (audit migrations 0024, 0026 and 0028),
    through the ORM past its guard."""
    cut = (
        AuditCheckpoint.objects.filter(chain=chain_id, signed_at__lt=cutoff)
        .order_by("-size")
        .values_list("size", flat=True)
        .first()
    )
    chain = AuditChain.objects.select_for_update().filter(chain=chain_id).first()
    if cut is None or chain is None or chain.pruned_through >= cut:
        return 0
    up_to = _before_first_kept(
        chain_id, chain.pruned_through, min(cut, chain.pruned_through + batch), cutoff
    )
    if up_to <= chain.pruned_through:
        return 0
    seals = AuditSeal.objects.filter(
        chain=chain_id, position__gt=chain.pruned_through, position__lte=up_to
    )
    doomed = list(seals.values_list("event_id", flat=True))
    last = AuditSeal.objects.filter(chain=chain_id, position=up_to).first()
    removed = up_to - chain.pruned_through
    chain.pruned_through, chain.pruned_hash = up_to, last.chain_hash if last else None
    chain.save(update_fields=["pruned_through", "pruned_hash"])
    events = AuditEvent.objects.filter(pk__in=doomed)
    events._raw_delete(events.db)
    AuditSalt.objects.filter(event_id__in=doomed).delete()
    AuditErasureMark.objects.filter(event_id__in=doomed).delete()
    seals.delete()
    return removed


def _before_first_kept(chain_id: int, after: int, up_to: int, cutoff: datetime) -> int:
    """``up_to``, or the position before the first one after ``after`` that has no seal, or
    whose event is missing, another organization's or not older than ``cutoff``: a checkpoint
    row is no proof of age (audit migrations 0026 and 0028)."""
    seals = AuditSeal.objects.filter(chain=chain_id, position__gt=after, position__lte=up_to)
    positions = dict(seals.values_list("event_id", "position"))
    events = AuditEvent.objects.filter(pk__in=list(positions), occurred_at__lt=cutoff)
    if chain_id == GATEHOUSE_WIDE:
        events = events.filter(organization_id__isnull=True)
    else:
        events = events.filter(organization_id=chain_id)
    old = {positions[pk] for pk in events.values_list("pk", flat=True)}
    for position in range(after + 1, up_to + 1):
        if position not in old:
            return position - 1
    return up_to


def _record_purge(org_id: int | None, cutoff: datetime, deleted: int) -> None:
    """SQLite's side of the record gatehouse_purge_audit_events writes (audit migration
    0030), in the batch's transaction."""
    record(
        Action.AUDIT_PURGED,
        actor_text="system",
        organization=org_id,
        data={"before": cutoff.isoformat(), "deleted": deleted},
    )
