"""Checking a chain: do the audit events in the database still hash to what was sealed, and
does the chain lead to the head a signed checkpoint vouches for? (docs/events.md 4.9)

The walk starts where retention last cut the chain (``pruned_through`` and ``pruned_hash``,
kept in the chain's row) and recomputes every event's hash from the row as it is now. The row
alone proves nothing, so the cut is checked first against the first stored checkpoint at or
after it whose signature holds: its head must be the cut's hash (a checkpoint at the cut) or
where the walk from the cut leads (one after it), and it must be old enough for retention to
have cut there. Each problem names the position and the event; the first one is what a person
reads first, the rest are counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.chain import checkpoints, encoding
from audit.chain.checkpoints import Claim
from audit.chain.models import (
    GATEHOUSE_WIDE,
    AuditChain,
    AuditCheckpoint,
    AuditErasureMark,
    AuditSalt,
    AuditSeal,
    ErasureSubject,
    SealCursor,
)
from audit.models import AuditEvent

BATCH = 1000
# An event that happened this long before an event sealed ahead of it was written late: a row
# inserted with a date in the past by someone with direct database access.
LATE_AFTER = timedelta(minutes=10)
# Retention never cuts at a checkpoint signed more recently than this (the purge function
# refuses a cutoff under 28 days): a cut that rests on a younger one was not retention's.
CUT_AGE = timedelta(days=28)


@dataclass
class Problem:
    message: str
    position: int | None = None
    event_id: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class Report:
    chain: int
    checked: int = 0
    size: int = 0
    pruned_through: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return f"chain {self.chain}: {self.checked} events verified up to position {self.size}"
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        return f"chain {self.chain}: {self.problems[0]}{tail}"

    def as_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "ok": self.ok,
            "checked": self.checked,
            "size": self.size,
            "pruned_through": self.pruned_through,
            "first_problem": str(self.problems[0]) if self.problems else None,
            "problems": [
                {"message": p.message, "position": p.position, "event_id": p.event_id}
                for p in self.problems[:100]
            ],
            "problem_count": len(self.problems),
        }


def verify(
    chain_id: int, claim: Claim | None = None, *, progress: Callable[[int], None] | None = None
) -> Report:
    """Verify ``chain_id`` from its retention cut to its end, and against ``claim`` (a
    checkpoint already checked by ``checkpoints.read``) when one is given. ``progress`` is
    called with the number of events checked so far after each batch (a background check's
    heartbeat; it may raise to stop the walk)."""
    chain = AuditChain.objects.filter(chain=chain_id).first()
    report = Report(chain=chain_id)
    if claim is not None and claim.chain != chain_id:
        report.problems.append(Problem("the checkpoint is for another organization's log"))
        return report
    pruned = chain.pruned_through if chain else 0
    report.pruned_through = pruned
    if claim is not None and claim.size < pruned:
        report.problems.append(
            Problem(
                f"the checkpoint (size {claim.size}) is older than retention, which removed "
                f"positions up to {pruned}"
            )
        )
        return report
    head, anchor = encoding.genesis(chain_id), None
    if chain is not None and pruned:
        head, anchor = _retention_cut(chain, report)
    if claim is not None and claim.size == pruned and head != claim.head_hash:
        report.problems.append(Problem(f"position {pruned}: the retention cut does not match"))
    sizes = {vouched.size for vouched in (claim, anchor) if vouched is not None}
    last, heads = _walk(chain_id, pruned, head, sizes, report, progress)
    report.size = last
    if anchor is not None and anchor.size > pruned and heads.get(anchor.size) != anchor.head_hash:
        report.problems.append(
            Problem(
                f"position {pruned}: the retention cut is not vouched for: the chain from it "
                f"does not lead to the checkpoint signed at size {anchor.size}",
                position=pruned,
            )
        )
    head_at_claim = heads.get(claim.size) if claim is not None else None
    if claim is not None:
        if claim.size > last:
            report.problems.append(
                Problem(
                    f"events after position {last} were removed (the checkpoint vouches for "
                    f"{claim.size})",
                    position=last + 1,
                )
            )
        elif head_at_claim is not None and head_at_claim != claim.head_hash:
            report.problems.append(
                Problem(
                    f"position {claim.size}: the chain does not lead to the checkpoint's head",
                    position=claim.size,
                )
            )
    _unsealed(chain_id, report)
    return report


def _retention_cut(chain: AuditChain, report: Report) -> tuple[bytes, Claim | None]:
    """Check where retention cut ``chain`` against the signed checkpoints stored at or after
    the cut. Returns the hash to walk on from (the checkpoint's head when it is at the cut, so
    that a changed ``pruned_hash`` is named once, here) and that checkpoint, if any."""
    pruned, stored_hash = chain.pruned_through, bytes(chain.pruned_hash or b"")
    anchor = _first_signed_checkpoint(chain.chain, pruned, report)
    if anchor is None:
        report.problems.append(
            Problem(
                f"position {pruned}: no signed checkpoint vouches for the retention cut",
                position=pruned,
            )
        )
        return stored_hash, None
    signed_at = _signed_at(anchor)
    if signed_at is None or signed_at > timezone.now() - CUT_AGE:
        report.problems.append(
            Problem(
                f"position {pruned}: the retention cut rests on the checkpoint signed at size "
                f"{anchor.size} on {anchor.signed_at}, less than {CUT_AGE.days} days ago; "
                "retention never cuts there",
                position=pruned,
            )
        )
    if anchor.size != pruned:
        return stored_hash, anchor
    if stored_hash != anchor.head_hash:
        report.problems.append(
            Problem(
                f"position {pruned}: the retention cut's hash does not match the checkpoint "
                "signed at that size",
                position=pruned,
            )
        )
    return anchor.head_hash, anchor


def _first_signed_checkpoint(chain_id: int, pruned: int, report: Report) -> Claim | None:
    """The first checkpoint stored for ``chain_id`` at or after position ``pruned`` whose
    signature holds. Gatehouse stores only checkpoints it signed, so any other row on the way
    is reported."""
    stored = (
        AuditCheckpoint.objects.filter(chain=chain_id, size__gte=pruned)
        .select_related("key")
        .order_by("size")
    )
    for checkpoint in stored.iterator(chunk_size=20):
        try:
            claim = checkpoints.read(checkpoints.as_json(checkpoint))
        except checkpoints.CheckpointInvalid:
            claim = None
        if claim is None or (claim.size, claim.head_hash) != (
            checkpoint.size,
            bytes(checkpoint.head_hash),
        ):
            report.problems.append(
                Problem(
                    f"the checkpoint stored for position {checkpoint.size} is not validly signed",
                    position=checkpoint.size,
                )
            )
            continue
        return claim
    return None


def _signed_at(claim: Claim) -> datetime | None:
    """When the note says the checkpoint was signed (None if it does not say it plainly)."""
    try:
        moment = datetime.fromisoformat(claim.signed_at)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _walk(
    chain_id: int,
    pruned: int,
    head: bytes,
    sizes: set[int],
    report: Report,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, dict[int, bytes]]:
    """Recompute the chain position by position. Returns the last position and the chain hash
    recomputed at each of ``sizes`` the walk reached."""
    expected = pruned + 1
    newest_seen: datetime | None = None
    heads = {pruned: head} if pruned in sizes else {}
    after = pruned
    while True:
        seals = list(
            AuditSeal.objects.filter(chain=chain_id, position__gt=after).order_by("position")[
                :BATCH
            ]
        )
        if not seals:
            return expected - 1, heads
        ids = [seal.event_id for seal in seals]
        events = AuditEvent.objects.in_bulk(ids)
        salts = {s.event_id: bytes(s.salt) for s in AuditSalt.objects.filter(event_id__in=ids)}
        marks = _marks(ids)
        for seal in seals:
            if seal.position != expected:
                report.problems.append(
                    Problem(
                        f"position {expected} is missing (deleted or reordered)",
                        position=expected,
                    )
                )
            head = _check(chain_id, seal, events, salts, marks, head, report)
            event = events.get(seal.event_id)
            if event is not None:
                if newest_seen is not None and event.occurred_at < newest_seen - LATE_AFTER:
                    report.problems.append(
                        Problem(
                            f"position {seal.position}: event {seal.event_id} was written late "
                            f"(it says {event.occurred_at.isoformat()}, after later events)",
                            position=seal.position,
                            event_id=str(seal.event_id),
                        )
                    )
                if newest_seen is None or event.occurred_at > newest_seen:
                    newest_seen = event.occurred_at
            if seal.position in sizes:
                heads[seal.position] = head
            report.checked += 1
            expected = seal.position + 1
        after = seals[-1].position
        if progress is not None:
            progress(report.checked)


def _marks(ids: list[Any]) -> dict[Any, tuple[str, ErasureSubject | None]]:
    """The erasure marks of these events: each one's pseudonym and whom it stands for."""
    found = dict(
        AuditErasureMark.objects.filter(event_id__in=ids).values_list("event_id", "pseudonym")
    )
    subjects = ErasureSubject.objects.in_bulk(set(found.values()))
    return {event_id: (pseudonym, subjects.get(pseudonym)) for event_id, pseudonym in found.items()}


def _check(
    chain_id: int,
    seal: AuditSeal,
    events: dict[Any, AuditEvent],
    salts: dict[Any, bytes],
    marks: dict[Any, tuple[str, ErasureSubject | None]],
    head: bytes,
    report: Report,
) -> bytes:
    """Check one sealed event; returns the chain hash to carry on from."""
    where = f"position {seal.position}: event {seal.event_id}"

    def problem(text: str) -> None:
        report.problems.append(
            Problem(f"{where} {text}", position=seal.position, event_id=str(seal.event_id))
        )

    stored = encoding.split(bytes(seal.commitments))
    event = events.get(seal.event_id)
    if event is None:
        problem("is missing")
        return bytes(seal.chain_hash)
    salt = salts.get(seal.event_id)
    if salt is not None:
        committed = encoding.commitments(salt, event)
        changed = [
            name
            for name, now, then in zip(encoding.COMMITTED_FIELDS, committed, stored, strict=False)
            if now != then
        ]
    else:
        _erased(seal, event, marks, problem)
        committed, changed = stored, []
    digest = encoding.event_hash(chain_id, event, committed)
    if encoding.chain_of(event) != chain_id:
        problem("was moved to another organization")
    elif digest != bytes(seal.event_hash):
        detail = f" ({', '.join(changed)})" if changed else ""
        problem(f"was changed{detail}")
    elif encoding.link(head, seal.position, digest) != bytes(seal.chain_hash):
        problem("does not follow the position before it")
    else:
        return encoding.link(head, seal.position, digest)
    return bytes(seal.chain_hash)


def _erased(
    seal: AuditSeal,
    event: AuditEvent,
    marks: dict[Any, tuple[str, ErasureSubject | None]],
    problem: Callable[[str], None],
) -> None:
    """An event without its salt: only erasure removes one, and only from an event about the
    person erased. Its quoted fields can no longer be checked, so a mark on any other event
    (with the row rewritten around it) would let anyone change what it quotes."""
    if seal.event_id not in marks:
        problem("lost its salt outside erasure")
        return
    pseudonym, subject = marks[seal.event_id]
    if subject is None:
        problem(f"is marked erased as {pseudonym}, which no erasure recorded")
    elif not subject.could_have_rewritten(event):
        problem(f"is marked erased as {pseudonym}, but is not about the person erased")


def _unsealed(chain_id: int, report: Report) -> None:
    """Events of the chain the sealer has passed but that have no seal: written around it."""
    cursor = SealCursor.objects.filter(pk=1).first()
    if cursor is None:
        return
    org = (
        Q(organization_id__isnull=True)
        if chain_id == GATEHOUSE_WIDE
        else Q(organization_id=chain_id)
    )
    sealed = AuditSeal.objects.filter(event_id=OuterRef("id"))
    rows: Any = AuditEvent.objects.filter(org).filter(~Exists(sealed))
    if connection.vendor == "postgresql":
        passed = Q(txid__isnull=True) if cursor.legacy_done else Q(pk__in=[])
        if cursor.last_id:
            passed |= Q(txid__lt=cursor.txid) | Q(txid=cursor.txid, id__lte=cursor.last_id)
        rows = rows.filter(passed)
    else:
        table = AuditEvent._meta.db_table
        rows = rows.extra(where=[f'"{table}".rowid <= %s'], params=[int(cursor.last_id or 0)])  # noqa: S610
    for event_id in rows.order_by("occurred_at").values_list("id", flat=True)[:100]:
        report.problems.append(
            Problem(f"event {event_id} was inserted outside the log", event_id=str(event_id))
        )
