"""Sealing: appending newly committed audit events to their organizations' chains.

``seal_batch`` takes the audit events written since it last ran, in the order their
transactions committed (events/horizon.py explains why ids are not that order), and gives each
a position in its chain: a random salt, the commitments to its personal fields, its hash and
the chain hash. Seals, salts, the chains' new heads and the sealer's cursor are written in one
transaction, as the application role, which may insert seals and salts but never change them.
It never writes to the audit log itself (T23): an event's seal is a row of its own.

Rows older than the transaction-id column have no txid; they are sealed first, once, in the
order they happened (T22). A crash repeats a batch, never skips one: the cursor commits with
the seals, and a second sealer waits for the first (the cursor row is locked).

Sealing and erasure take turns (``SEAL_OR_ERASE_LOCK``). Erasure deletes a sealed event's salt
and leaves a mark; an event not yet sealed it leaves alone, to be sealed later with its new
values. If a batch read an event, erasure then rewrote it, found no salt yet and committed, and
the batch committed after that, the seal would commit to the old address with a salt that
still exists: a false "was changed" from the verifier, and commitments anyone holding the salt
could test guesses of the address against. So each batch's transaction, before it reads
anything, takes the same transaction-level advisory lock that the erase function takes
(audit migration 0027): whichever comes second waits for the other to commit, and then sees
what it wrote.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from audit.chain import encoding
from audit.chain.models import AuditChain, AuditSalt, AuditSeal, SealCursor
from audit.models import AuditEvent
from config.refusals import service
from events import horizon as horizons

BATCH = 2000
# The PostgreSQL advisory lock (pg_advisory_xact_lock) that sealing and erasure both take, so
# that they never overlap: the first 8 bytes of SHA-256("gatehouse.audit.seal-or-erase"), as a
# signed integer. Audit migration 0027's gatehouse_erase_audit_quotes uses the same number.
SEAL_OR_ERASE_LOCK = -718604662479446142


def seal_batch(limit: int = BATCH) -> int:
    """Seal up to ``limit`` new audit events. Returns how many were sealed (fewer than
    ``limit``: nothing more is ready)."""
    # The horizon is read before the sealing transaction writes anything (and so before it has
    # a transaction id of its own that would hold the horizon back).
    global _busy
    horizon = horizons.current_horizon()
    if not _busy and _nothing_to_seal(horizon):
        return 0
    sealed = _seal(limit, horizon)
    _busy = sealed > 0
    return sealed


# Whether this process's last batch sealed something: while events keep coming the next batch
# goes straight to the locked path, and the idle check would only add queries.
_busy = False


def _nothing_to_seal(horizon: int | None) -> bool:
    """Nothing new, found with plain reads: an idle pass of the loop takes no lock, locks no
    row and writes nothing (a row lock alone costs PostgreSQL a transaction id and a WAL
    record). PostgreSQL, once the rows from before the txid column are sealed."""
    if connection.vendor != "postgresql" or horizon is None:
        return False
    cursor = SealCursor.objects.filter(pk=1).first()
    if cursor is None or not cursor.legacy_done:
        return False
    return not _after(cursor, horizon).exists()


@service
def _seal(limit: int, horizon: int | None) -> int:
    take_turns_with_erasure()
    cursor = SealCursor.objects.select_for_update().filter(pk=1).first()
    if cursor is None:
        SealCursor.objects.get_or_create(pk=1)
        cursor = SealCursor.objects.select_for_update().get(pk=1)
    events = _next_events(cursor, limit, horizon)
    if not events:
        return 0
    already = set(
        AuditSeal.objects.filter(event_id__in=[e.id for e in events]).values_list(
            "event_id", flat=True
        )
    )
    by_chain: dict[int, list[AuditEvent]] = defaultdict(list)
    for event in events:
        if event.id not in already:
            by_chain[encoding.chain_of(event)].append(event)
    sealed = _append(by_chain) if by_chain else 0
    cursor.updated_at = timezone.now()
    cursor.save()
    return sealed


def take_turns_with_erasure() -> None:
    """Wait until no erasure is rewriting audit events, and keep them from starting until this
    transaction ends (the lock goes with it). PostgreSQL only: SQLite has one writer at a time.
    Only sealing and erasure take it; a sign-in never waits for it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_OR_ERASE_LOCK])


def _next_events(cursor: SealCursor, limit: int, horizon: int | None) -> list[AuditEvent]:
    """The next events to seal, in order, moving ``cursor`` past them (saved by the caller)."""
    if connection.vendor != "postgresql":
        return _by_rowid(cursor, limit)
    events: list[AuditEvent] = []
    if not cursor.legacy_done:
        events = _legacy(cursor, limit)
    if cursor.legacy_done and len(events) < limit and horizon is not None:
        events += _by_commit(cursor, limit - len(events), horizon)
    return events


def _legacy(cursor: SealCursor, limit: int) -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(txid__isnull=True)
    if cursor.legacy_at is not None:
        rows = rows.filter(
            Q(occurred_at__gt=cursor.legacy_at)
            | Q(occurred_at=cursor.legacy_at, id__gt=cursor.legacy_id)
        )
    events = list(rows.order_by("occurred_at", "id")[:limit])
    if events:
        cursor.legacy_at, cursor.legacy_id = events[-1].occurred_at, events[-1].id
    if len(events) < limit:
        cursor.legacy_done = True
    return events


def _after(cursor: SealCursor, horizon: int) -> Any:
    rows = AuditEvent.objects.filter(txid__isnull=False, txid__lt=horizon)
    if cursor.last_id:
        rows = rows.filter(Q(txid__gt=cursor.txid) | Q(txid=cursor.txid, id__gt=cursor.last_id))
    return rows


def _by_commit(cursor: SealCursor, limit: int, horizon: int) -> list[AuditEvent]:
    events = list(_after(cursor, horizon).order_by("txid", "id")[:limit])
    if events:
        cursor.txid, cursor.last_id = int(events[-1].txid or 0), str(events[-1].id)
    return events


def _by_rowid(cursor: SealCursor, limit: int) -> list[AuditEvent]:
    """SQLite: one writer at a time, so rowid order is commit order."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as db:
        db.execute(
            f'SELECT rowid, id FROM "{table}" WHERE rowid > %s ORDER BY rowid LIMIT %s',  # noqa: S608
            [int(cursor.last_id or 0), limit],
        )
        found = db.fetchall()
    if not found:
        return []
    loaded = AuditEvent.objects.in_bulk([row[1] for row in found])
    cursor.last_id = str(found[-1][0])
    return [loaded[key] for key in (_uuid(row[1]) for row in found) if key in loaded]


def _uuid(value: Any) -> Any:
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _append(by_chain: dict[int, list[AuditEvent]]) -> int:
    """Add each chain's events after its head, locking the chains for the transaction."""
    AuditChain.objects.bulk_create(
        [AuditChain(chain=c, head_hash=encoding.genesis(c)) for c in by_chain],
        ignore_conflicts=True,
    )
    chains = (
        AuditChain.objects.select_for_update().filter(chain__in=list(by_chain)).order_by("chain")
    )
    now = timezone.now()
    seals: list[AuditSeal] = []
    salts: list[AuditSalt] = []
    for chain in chains:
        head = bytes(chain.head_hash)
        for event in by_chain[chain.chain]:
            salt = os.urandom(32)
            committed = encoding.commitments(salt, event)
            digest = encoding.event_hash(chain.chain, event, committed)
            chain.size += 1
            head = encoding.link(head, chain.size, digest)
            seals.append(
                AuditSeal(
                    chain=chain.chain,
                    position=chain.size,
                    event_id=event.id,
                    commitments=b"".join(committed),
                    event_hash=digest,
                    chain_hash=head,
                    sealed_at=now,
                )
            )
            salts.append(AuditSalt(event_id=event.id, salt=salt))
            if chain.sealed_through_at is None or event.occurred_at > chain.sealed_through_at:
                chain.sealed_through_at = event.occurred_at
        chain.head_hash = head
        chain.save(update_fields=["size", "head_hash", "sealed_through_at"])
    AuditSeal.objects.bulk_create(seals)
    AuditSalt.objects.bulk_create(salts)
    return len(seals)
