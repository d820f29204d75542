"""Sending a stream's next batch: claim, read, format, send, settle.

The pattern of ``accounts.tasks.send_email``: a short transaction claims the stream, the batch
goes out with no transaction open, and another short one records how it went. The stream's
``position`` moves only in that last transaction and only when the destination took the
batch, so a failure (a 503, a timeout, a worker killed mid-send) repeats the same batch later
and never skips one: delivery is at least once, and every record carries its position so a
receiver can drop a repeat.

A failing stream backs off (5 s, 5 min, 30 min, then every 2 hours, each with some jitter)
and never gives up its place; after 7 days without a success it is turned off, its owners and
admins are emailed, and resuming it from the portal picks up where it stopped.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from audit.streams import formats, source
from audit.streams.models import LogStream
from audit.streams.transports import Batch, Destination, Entry, Sent, send
from config.encryption import SecretUnreadable, decrypt
from config.refusals import service

MAX_BATCH_BYTES = 1_000_000
CLAIM_TIMEOUT = timedelta(minutes=2)  # a claim older than this belongs to a dead worker
QUEUE_TIMEOUT = timedelta(minutes=1)  # a queued task not started by then is queued again
BACKOFF_SECONDS = (5, 300, 1800, 7200)  # then 7200 for as long as it fails
DISABLE_AFTER = timedelta(days=7)
UNREADABLE = "The stream's credential cannot be read; set it again."
SENDABLE = (LogStream.Status.ACTIVE, LogStream.Status.FAILING)


@dataclass(frozen=True)
class Claimed:
    stream: LogStream
    claimed_at: datetime


def destination_of(stream: LogStream) -> Destination:
    """The stream's destination with its credential decrypted, for one send."""
    credential = decrypt(stream.credential_encrypted) if stream.credential_encrypted else ""
    return Destination(
        kind=stream.kind,
        stream_id=str(stream.public_id),
        organization_id=stream.organization_id,
        url=stream.url,
        host=stream.host,
        port=stream.port or 0,
        datadog_site=stream.datadog_site,
        ca_pem=stream.ca_pem,
        credential=credential,
    )


def entries(stream: LogStream, items: list[formats.Item]) -> list[Entry]:
    """The items formatted as the stream asks, in order, while they fit in one batch."""
    users = formats.public_user_ids(item.event for item in items)
    shape = formats.ocsf if stream.format == LogStream.Format.OCSF else formats.record
    out: list[Entry] = []
    size = 0
    for item in items:
        doc = shape(item, users)
        size += len(json.dumps(doc, ensure_ascii=False).encode()) + 1
        if out and size > MAX_BATCH_BYTES:
            break
        out.append(
            Entry(
                record=doc,
                occurred_at=item.event.occurred_at,
                action=item.event.action,
                failed=item.event.outcome != "success",
            )
        )
    return out


def due() -> Q:
    now = timezone.now()
    return (
        Q(status__in=SENDABLE, next_attempt_at__lte=now)
        & (Q(queued_at__isnull=True) | Q(queued_at__lt=now - QUEUE_TIMEOUT))
        & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
    )


QUEUE_LIMIT = 200  # streams queued per pass


@service
def mark_queued(limit: int = QUEUE_LIMIT) -> list[int]:
    """The streams due a batch (with sealed events past their place), marked as queued."""
    from audit.chain.models import AuditChain

    candidates = list(
        LogStream.objects.filter(due()).select_for_update(skip_locked=True).order_by("pk")[:limit]
    )
    chains = {s.organization_id for s in candidates}
    sizes = dict(AuditChain.objects.filter(chain__in=chains).values_list("chain", "size"))
    ready = [s for s in candidates if sizes.get(s.organization_id, 0) > s.position]
    LogStream.objects.filter(pk__in=[s.pk for s in ready]).update(queued_at=timezone.now())
    return [s.pk for s in ready]


@service
def claim(stream_id: int) -> Claimed | str:
    """Mark the stream as being sent by this run; or say why there is nothing to send."""
    now = timezone.now()
    stream = (
        LogStream.objects.select_for_update(skip_locked=True)
        .filter(pk=stream_id, status__in=SENDABLE)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .first()
    )
    if stream is None:
        return "not claimed"  # gone, paused, turned off, or being sent by another run
    if stream.next_attempt_at is not None and stream.next_attempt_at > now:
        # A second broker message for a stream that failed in between (the queue pass sends
        # again what sat a minute unclaimed): the back-off, not the broker, says when.
        return "not due"
    stream.claimed_at, stream.queued_at = now, None
    stream.save(update_fields=["claimed_at", "queued_at"])
    return Claimed(stream=stream, claimed_at=now)


def deliver_next_batch(stream_id: int) -> str:
    """Send the stream's next batch, if it has one, its back-off is over and no one else is
    sending it. Returns what happened, for the task's result."""
    claimed = claim(stream_id)
    if isinstance(claimed, str):
        return claimed
    stream = claimed.stream
    read = source.read_after(stream.organization_id, stream.position)
    if not read:
        settle(stream.pk, through=None, sent=None)
        return "nothing to send"
    wanted = [i for i in read if not stream.actions or i.event.action in stream.actions]
    batch_entries = entries(stream, wanted)
    if len(batch_entries) < len(wanted):  # the byte cap cut the batch
        last = int(wanted[len(batch_entries) - 1].position or 0)
    else:
        last = int(read[-1].position or 0)
    gaps = source.removed(stream.position, read, last)
    if not batch_entries:  # everything read was filtered out: move past it
        settle(stream.pk, through=last, sent=None, gaps=gaps)
        return "filtered"
    first = wanted[0].position
    batch = Batch(entries=batch_entries, batch_id=f"{stream.organization_id}-{first}-{last}")
    try:
        result = send(destination_of(stream), batch)
    except SecretUnreadable:
        result = Sent(delivered=False, error=UNREADABLE)
    if result.delivered:
        settle(stream.pk, through=last, sent=result, gaps=gaps)
        return "delivered"
    settle(stream.pk, through=None, sent=result)
    return "failed"


def gap_text(gaps: list[tuple[int, int]]) -> str:
    """How the portal names positions passed over (their events were gone)."""
    parts = [f"{a}" if a == b else f"{a} to {b}" for a, b in gaps]
    text = f"Positions {', '.join(parts)} were removed by retention before delivery."
    return text if len(text) <= 200 else text[:197] + "..."


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    base = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
    seconds = base * random.uniform(0.8, 1.2)  # jitter, not a secret
    return timedelta(seconds=max(seconds, retry_after or 0))


@service
def settle(
    stream_id: int,
    *,
    through: int | None,
    sent: Sent | None,
    gaps: list[tuple[int, int]] | None = None,
) -> None:
    """Record a send: move the stream's place to ``through`` (delivered, or filtered out), or
    back off after a failure. The claim is released either way. ``gaps`` are positions passed
    over because their events were gone; the portal shows the latest."""
    stream = LogStream.objects.select_for_update().filter(pk=stream_id).first()
    if stream is None:  # deleted while sending
        return
    now = timezone.now()
    stream.claimed_at = None
    if gaps:
        stream.last_gap = gap_text(gaps)
    if through is not None:
        stream.position = max(stream.position, through)
        stream.next_attempt_at = now  # there may be more: the next queueing pass will tell
    if sent is not None and sent.delivered:
        stream.last_success_at, stream.failing_since = now, None
        stream.attempts, stream.last_error = 0, ""
        if stream.status == LogStream.Status.FAILING:
            stream.status = LogStream.Status.ACTIVE
    elif sent is not None:
        stream.attempts += 1
        stream.last_error = sent.summary()[:300]
        stream.failing_since = stream.failing_since or now
        stream.next_attempt_at = now + _backoff(stream.attempts, sent.retry_after)
        if stream.status == LogStream.Status.ACTIVE:
            stream.status = LogStream.Status.FAILING
        if stream.status == LogStream.Status.FAILING and now - stream.failing_since > DISABLE_AFTER:
            from audit.streams.notices import turn_off

            turn_off(stream)
    stream.save()


def queue_due_streams() -> int:
    """Queue a batch task for every stream with sealed events past its place and nothing in
    flight. The events pipeline loop calls this on every pass; beat runs it too. Returns how
    many were queued."""
    from audit.streams.tasks import deliver_stream

    ids = mark_queued()
    for stream_id in ids:
        deliver_stream.delay(stream_id)
    return len(ids)
