"""Recording audit events: the only way rows get into the audit log."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import connection, models, transaction

from audit import context
from audit.actions import Action, Outcome
from audit.models import AuditEvent

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
    """
    if not isinstance(action, Action):
        action = Action(action)  # unknown names fail here, not in a report months later
    where = context.current()
    actor_user = actor if getattr(actor, "is_authenticated", False) else None
    target_type, target_id, target_text = _describe(target)
    return AuditEvent.objects.create(
        action=action.value,
        outcome=outcome.value if isinstance(outcome, Outcome) else Outcome(outcome).value,
        actor=actor_user,
        actor_text=(actor_text or (str(actor_user) if actor_user else "anonymous"))[:320],
        organization_id=getattr(organization, "pk", organization),
        target_type=target_type,
        target_id=target_id,
        target_text=target_text,
        ip=where.ip,
        user_agent=where.user_agent,
        request_id=where.request_id,
        data=redact(dict(data or {})),
    )


# --- Rewriting the log: erasure and retention only ---------------------------------------------

# The columns erasure may rewrite (audit migration 0011 names the same ones to the database).
ERASABLE_FIELDS = frozenset({"actor_text", "target_text", "ip", "user_agent", "data"})


@contextmanager
def _with_setting(name: str) -> Iterator[None]:
    # SET LOCAL lasts until the transaction ends, so the block must be the whole transaction:
    # inside someone else's it would stay on for the rest of theirs.
    if connection.in_atomic_block:
        raise RuntimeError(f"{name} must open its own transaction")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL {name} = 'on'")
        yield


def erasure_mode() -> Any:
    """A transaction in which the database lets the erasure job rewrite the erasable columns of
    audit and consent events (``gatehouse.erasure``); everything else stays refused."""
    return _with_setting("gatehouse.erasure")


def maintenance_mode() -> Any:
    """A transaction in which the database lets retention jobs delete log rows
    (``gatehouse.audit_maintenance``)."""
    return _with_setting("gatehouse.audit_maintenance")


def rewrite_event(event_id: Any, **columns: Any) -> int:
    """Replace erasable columns of one audit event, inside ``erasure_mode``. The ORM refuses
    updates to the log; this is the one way past it, and only for these columns."""
    refused = set(columns) - ERASABLE_FIELDS
    if refused:
        raise ValueError(f"erasure cannot change {', '.join(sorted(refused))}")
    return models.QuerySet.update(AuditEvent.objects.filter(pk=event_id), **columns)
