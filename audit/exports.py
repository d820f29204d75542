"""Exporting an organization's audit log as CSV or JSON.

A range of up to ``GATEHOUSE_AUDIT_EXPORT_SYNC_ROWS`` events is streamed straight to the admin
(``export_now``). A larger one is built by a worker (``request_export``, then ``build``, the
shape of consent/export/): gzipped, encrypted, kept in an ``AuditExport`` row until
``GATEHOUSE_AUDIT_EXPORT_HOURS`` pass (``expire``, from beat), and downloadable meanwhile by
the organization's admins (``download``). Every export, request, build and download is itself
an audit event.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, transaction
from django.utils import timezone

from accounts.models import User
from audit.actions import Action
from audit.models import AuditEvent, AuditEventQuerySet, AuditExport
from audit.search import FILTER_NAMES, AuditFilterForm, filter_events
from audit.services import record
from config import encryption
from config.refusals import Refusal, service

logger = logging.getLogger(__name__)

COLUMNS = (
    "event_id",
    "occurred_at",
    "action",
    "outcome",
    "actor",
    "target_type",
    "target_id",
    "target",
    "ip",
    "user_agent",
    "request_id",
    "data",
)
# A spreadsheet runs a cell that begins with one of these as a formula (T26): actor_text
# quotes what a visitor typed, so such cells get a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 2000
EXPIRY_BATCH = 200


def row(event: AuditEvent) -> dict[str, Any]:
    """One event as exported: its text copies, never internal keys."""
    return {
        "event_id": str(event.pk),
        "occurred_at": event.occurred_at.isoformat(),
        "action": event.action,
        "outcome": event.outcome,
        "actor": event.actor_text,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target": event.target_text,
        "ip": event.ip or "",
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "data": event.data,
    }


def csv_cell(value: Any) -> str:
    if isinstance(value, dict | list):
        value = json.dumps(value, cls=DjangoJSONEncoder)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The CSV file, a header then one line per event."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield flush()
    for event in events:
        exported = row(event)
        writer.writerow([csv_cell(exported[name]) for name in COLUMNS])
        yield flush()


def json_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """A JSON array of events, written one element at a time."""
    yield "["
    first = True
    for event in events:
        yield ("\n" if first else ",\n") + json.dumps(row(event), cls=DjangoJSONEncoder)
        first = False
    yield "\n]\n"


WRITERS = {AuditExport.Format.CSV: csv_lines, AuditExport.Format.JSON: json_lines}
CONTENT_TYPES = {AuditExport.Format.CSV: "text/csv", AuditExport.Format.JSON: "application/json"}


def ordered(events: AuditEventQuerySet) -> Iterator[AuditEvent]:
    """``events`` oldest first, read in chunks (a server-side cursor on PostgreSQL)."""
    return events.order_by("occurred_at", "id").iterator(chunk_size=_CHUNK)


def stored_filters(filters: dict[str, Any]) -> dict[str, str]:
    """The cleaned filters as query-string text, to keep on an export and rebuild later."""
    return {name: str(filters[name]) for name in FILTER_NAMES if filters.get(name)}


def _rebuild(org_id: int, filters: dict[str, str]) -> AuditEventQuerySet:
    form = AuditFilterForm(filters)
    if not form.is_valid():
        raise ValueError("the export's filters are no longer valid")
    return filter_events(AuditEvent.objects.for_org(org_id), form.cleaned_data)


def more_than(events: AuditEventQuerySet, limit: int) -> bool:
    """Whether ``events`` holds more than ``limit`` rows, reading at most ``limit + 1`` keys."""
    return len(events.order_by().values_list("pk", flat=True)[: limit + 1]) > limit


# --- Streamed at once ---------------------------------------------------------------------------


@service
def export_now(*, org: Any, actor: User, fmt: str, filters: dict[str, Any]) -> None:
    """Record that ``actor`` exported ``org``'s log with ``filters`` (the caller streams it)."""
    record(
        Action.AUDIT_EXPORTED,
        actor=actor,
        organization=org,
        data={"format": fmt, "filters": stored_filters(filters)},
    )


# --- Built in the background --------------------------------------------------------------------


@service
def request_export(*, org: Any, actor: User, fmt: str, filters: dict[str, Any]) -> AuditExport:
    """Queue a background export of ``org``'s log; one at a time per organization."""
    if AuditExport.objects.for_org(org).filter(status=AuditExport.Status.PENDING).exists():
        raise Refusal(
            "An export of this log is already being prepared. Try again when it is ready.",
            status=409,
        )
    export = AuditExport.objects.create(
        organization=org, requested_by=actor, format=fmt, filters=stored_filters(filters)
    )
    record(
        Action.AUDIT_EXPORT_REQUESTED,
        actor=actor,
        organization=org,
        data={"export": str(export.public_id), "format": fmt, "filters": export.filters},
    )
    transaction.on_commit(lambda: _queue(export.pk), robust=True)
    return export


def _queue(export_id: int) -> None:
    from audit.tasks import build_audit_export

    build_audit_export.delay(export_id)


def build(export_id: int) -> str:
    """Build one pending export: "ready", "failed", or "skipped" when it is not pending (a
    second run does nothing). Reads outside any transaction, stores in a short one."""
    export = AuditExport.objects.filter(pk=export_id, status=AuditExport.Status.PENDING).first()
    if export is None:
        return "skipped"
    try:
        events = _rebuild(export.organization_id, export.filters)
        if more_than(events, settings.GATEHOUSE_AUDIT_EXPORT_MAX_ROWS):
            return _fail(export_id, "more events than one export holds: narrow the date range")
        digest, count, compressed = _write(events, export.format)
    except OperationalError:
        raise  # the task retries with backoff
    except ValueError as exc:
        logger.warning("audit export %s failed: %s", export.public_id, exc)
        return _fail(export_id, str(exc))
    return _store(export_id, encryption.encrypt_bytes(compressed), digest, count)


def _write(events: AuditEventQuerySet, fmt: str) -> tuple[str, int, bytes]:
    """The file's SHA-256, its number of events, and the file gzipped."""
    counted = _Counter(ordered(events))
    sha = hashlib.sha256()
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as archive:
        for text in WRITERS[AuditExport.Format(fmt)](counted):
            data = text.encode()
            sha.update(data)
            archive.write(data)
    return sha.hexdigest(), counted.count, out.getvalue()


class _Counter:
    """Passes events through, counting them."""

    def __init__(self, events: Iterable[AuditEvent]) -> None:
        self.events = events
        self.count = 0

    def __iter__(self) -> Iterator[AuditEvent]:
        for event in self.events:
            self.count += 1
            yield event


def _locked_pending(export_id: int) -> AuditExport | None:
    return (
        AuditExport.objects.select_for_update()
        .filter(pk=export_id, status=AuditExport.Status.PENDING)
        .first()
    )


@service
def _store(export_id: int, sealed: bytes, digest: str, count: int) -> str:
    export = _locked_pending(export_id)
    if export is None:
        return "skipped"
    now = timezone.now()
    export.data, export.sha256, export.rows = sealed, digest, count
    export.status, export.ready_at = AuditExport.Status.READY, now
    export.expires_at = now + timedelta(hours=settings.GATEHOUSE_AUDIT_EXPORT_HOURS)
    export.save(update_fields=["data", "sha256", "rows", "status", "ready_at", "expires_at"])
    record(
        Action.AUDIT_EXPORT_READY,
        actor_text="system",
        organization=export.organization_id,
        data={"export": str(export.public_id), "rows": count},
    )
    return "ready"


@service
def _fail(export_id: int, reason: str) -> str:
    export = _locked_pending(export_id)
    if export is None:
        return "skipped"
    export.status, export.last_error = AuditExport.Status.FAILED, reason[:200]
    export.save(update_fields=["status", "last_error"])
    return "failed"


@service
def download(*, org: Any, actor: User, public_id: Any) -> tuple[AuditExport, bytes] | None:
    """A ready, unexpired export of ``org`` and its gzipped file, or None (another
    organization's, expired, or unreadable). Each download is an audit event."""
    export = (
        AuditExport.objects.for_org(org)
        .filter(
            public_id=public_id,
            status=AuditExport.Status.READY,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if export is None:
        return None
    try:
        compressed = encryption.decrypt_bytes(bytes(export.data))
    except encryption.SecretUnreadable:
        logger.error("audit export %s cannot be decrypted", export.public_id)
        return None
    record(
        Action.AUDIT_EXPORT_DOWNLOADED,
        actor=actor,
        organization=org,
        data={"export": str(export.public_id), "rows": export.rows},
    )
    return export, compressed


def expire() -> int:
    """Drop the files of exports past their time, a batch per transaction."""
    expired = 0
    while batch := _expire_batch():
        expired += batch
    return expired


@service
def _expire_batch() -> int:
    due = list(
        AuditExport.objects.select_for_update(skip_locked=True)
        .filter(
            status=AuditExport.Status.READY,
            expires_at__lt=timezone.now(),
        )
        .values_list("pk", flat=True)[:EXPIRY_BATCH]
    )
    AuditExport.objects.filter(pk__in=due).update(status=AuditExport.Status.EXPIRED, data=b"")
    return len(due)
