"""Recording audit events: the only way rows get into the audit log."""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction

from audit import context
from audit.actions import Action, Outcome
from audit.models import AuditErasureMark, AuditEvent, AuditSalt, ErasureSubject
from events import emit
from events.models import Event

# Keys whose values never reach the audit log, at any depth of ``data``.
_SECRET_KEY_PARTS = ("password", "secret", "token", "code", "key", "otp", "authorization")
REDACTED = "[redacted]"


def redact(data: Any) -> Any:
    """Return a copy of ``data`` with the values of secret-looking keys replaced."""
    if isinstance(data, Mapping):
        return {
            str(key): REDACTED
            if any(part in str(key).lower() for part in _SECRET_KEY_PARTS)
            else redact(value)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [redact(item) for item in data]
    if isinstance(data, str | int | float | bool) or data is None:
        return data
    return str(data)


def _describe(obj: models.Model | None) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    return obj._meta.model_name or "", str(obj.pk), str(obj)[:320]


def build(
    action: Action,
    *,
    actor: Any = None,
    actor_text: str = "",
    target: models.Model | None = None,
    organization: Any = None,
    outcome: Outcome = Outcome.SUCCESS,
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """The event ``record()`` writes, not yet written (same arguments)."""
    if not isinstance(action, Action):
        action = Action(action)  # unknown names fail here, not in a report months later
    where = context.current()
    actor_user = actor if getattr(actor, "is_authenticated", False) else None
    target_type, target_id, target_text = _describe(target)
    return AuditEvent(
        action=action.value,
        outcome=outcome.value if isinstance(outcome, Outcome) else Outcome(outcome).value,
        actor=actor_user,
        # An actor that is no person (an app calling the management API) names itself.
        actor_text=(
            actor_text
            or (str(actor_user) if actor_user else getattr(actor, "audit_text", "") or "anonymous")
        )[:320],
        organization_id=getattr(organization, "pk", organization),
        target_type=target_type,
        target_id=target_id,
        target_text=target_text,
        ip=where.ip,
        user_agent=where.user_agent,
        request_id=where.request_id,
        data=redact(dict(data or {})),
    )


def record(
    action: Action,
    *,
    actor: Any = None,
    actor_text: str = "",
    target: models.Model | None = None,
    organization: Any = None,
    outcome: Outcome = Outcome.SUCCESS,
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event in the caller's transaction.

    ``actor`` is the user who acted (``None`` for the system or an anonymous visitor, in which
    case ``actor_text`` says who, e.g. the email address a failed login used). The request's id,
    IP and user agent come from the current request, if there is one.

    Inside ``collected()`` the event is handed to the collector instead, which writes it later
    in the same transaction.

    A successful action the events registry maps (events/registry.py) also writes its outbox
    rows, with the audit row and in the same transaction (handed to the collector too, so a
    login still writes everything in one statement). Outside any transaction both rows go in
    one of their own, never one without the other.
    """
    event = build(
        action,
        actor=actor,
        actor_text=actor_text,
        target=target,
        organization=organization,
        outcome=outcome,
        data=data,
    )
    outbox = emit.for_audit(event, target, actor)
    collector = _collector.get()
    if collector is not None:
        collector.append(event)
        collector.extend(outbox)
    elif not outbox:
        event.save()
    else:
        # No SQL of its own inside the caller's transaction; BEGIN/COMMIT outside one.
        with transaction.atomic(savepoint=False):
            event.save()
            Event.objects.bulk_create(outbox)
    if outbox:
        # Embedded mode has no loop running: one pass of it once this commits.
        from events.pipeline import run_once_on_commit

        run_once_on_commit()
    return event


_collector: contextvars.ContextVar[list[models.Model] | None] = contextvars.ContextVar(
    "gatehouse_audit_collector", default=None
)


@contextmanager
def collected() -> Iterator[list[models.Model]]:
    """Events recorded inside the block are gathered in the list it yields instead of being
    written one INSERT each: the caller writes them with its own rows, in the same transaction,
    before that transaction ends (a login writes its events, its last-login time and its
    session's row in one statement: accounts/login_writes.py). If the block raises, the events
    are dropped with the rest of the transaction's writes; a refusal's event is recorded after
    the rollback, outside the block, as always."""
    events: list[models.Model] = []
    token = _collector.set(events)
    try:
        yield events
    finally:
        _collector.reset(token)


# --- Rewriting the log: erasure only ------------------------------------------------------------

# The columns erasure may rewrite (audit migration 0011 names the same ones to the database).
ERASABLE_FIELDS = frozenset({"actor_text", "target_text", "ip", "user_agent", "data"})


def record_erasure_subject(
    *, pseudonym: str, user_id: int, request_id: Any, targets: Iterable[tuple[str, str]]
) -> None:
    """Write down, once, whom an erasure's ``pseudonym`` stands for and which audit targets are
    theirs, in the caller's transaction (the erasure job's first step). The database's erase
    functions read the person from this row, which nobody changes afterwards: not from the
    request, which the application keeps updating (audit migration 0027). Running it again for
    the same pseudonym changes nothing."""
    if not ErasureSubject.objects.filter(pseudonym=pseudonym).exists():
        ErasureSubject.objects.create(
            pseudonym=pseudonym,
            user_id=user_id,
            request_id=request_id,
            targets=[[str(kind), str(key)] for kind, key in targets],
        )


def rewrite_events(pseudonym: str, updates: Iterable[tuple[Any, Mapping[str, Any]]]) -> int:
    """Replace erasable columns of audit events, for the erasure under way with ``pseudonym``.
    ``updates`` pairs an event's id with its new columns. Returns how many events changed.

    The ORM refuses updates to the log, and in production the application's database role may
    not update it at all: on PostgreSQL this calls ``gatehouse_erase_audit_quotes`` (audit
    migrations 0012, 0023 and 0027), a function the owner role holds, which also refuses what
    erasure never does: an event neither about the person nor quoting an address, a quote
    changed other than by putting the pseudonym (or its address) in place of what named them,
    an IP address replaced rather than cut to its network, another person's address or
    browser. It takes the person from the erasure's ``ErasureSubject``, and waits for any
    sealing batch under way (audit.chain.sealer.SEAL_OR_ERASE_LOCK).

    The events' salts go with the rewrite, and erasure marks are left in their place, so the
    hash chain still verifies. SQLite has this module's checks only: the columns, and that each
    event marked is one this erasure could have rewritten (what the verifier checks too)."""
    rows = []
    updates_seen = list(updates)
    for event_id, columns in updates_seen:
        refused = set(columns) - ERASABLE_FIELDS
        if refused:
            raise ValueError(f"erasure cannot change {', '.join(sorted(refused))}")
        rows.append({"id": str(event_id), **columns})
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT gatehouse_erase_audit_quotes(%s, %s::jsonb)",
                [pseudonym, json.dumps(rows, cls=DjangoJSONEncoder)],
            )
            return int(cursor.fetchone()[0])
    subject = _erasure_subject(pseudonym)
    for row in rows:
        models.QuerySet.update(AuditEvent.objects.filter(pk=row.pop("id")), **row)
    _drop_salts(subject, [event_id for event_id, _ in updates_seen])
    return len(rows)


def _erasure_subject(pseudonym: str) -> ErasureSubject:
    subject = ErasureSubject.objects.filter(pseudonym=pseudonym).first()
    if subject is None:
        raise ValueError(f"no erasure is under way with pseudonym {pseudonym}")
    return subject


def _drop_salts(subject: ErasureSubject, event_ids: list[Any]) -> None:
    """SQLite's side of what the erase function does on PostgreSQL (audit migration 0023):
    the rewritten events' salts go, and a mark says erasure took them (audit/chain/), on
    events this erasure could have rewritten only."""
    salted = list(
        AuditSalt.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True)
    )
    for event in AuditEvent.objects.filter(pk__in=salted):
        if not subject.could_have_rewritten(event):
            raise ValueError(f"audit event {event.pk} is not about the person erased")
    AuditErasureMark.objects.bulk_create(
        [AuditErasureMark(event_id=event_id, pseudonym=subject.pseudonym) for event_id in salted],
        ignore_conflicts=True,
    )
    AuditSalt.objects.filter(event_id__in=salted).delete()
