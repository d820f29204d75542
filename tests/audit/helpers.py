"""Audit events made directly, at chosen times and in chosen organizations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.models import AuditEvent

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(org: Any = None, *, at: datetime | None = None, **fields: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "action": "login.succeeded",
        "actor_text": "pat@example.com",
        "organization_id": getattr(org, "pk", org),
        "occurred_at": at or BASE,
    }
    made = AuditEvent(**(values | fields))
    made.save()
    return made


def series(org: Any, count: int, *, start: datetime = BASE, **fields: Any) -> list[AuditEvent]:
    """``count`` events a minute apart, oldest first."""
    return [event(org, at=start + timedelta(minutes=i), **fields) for i in range(count)]


@contextmanager
def dated(when: datetime) -> Iterator[None]:
    """Audit events recorded inside the block (by any service, not only ``event``) say they
    happened at ``when``: an organization set up long ago has old events of its own at the
    front of its chain. Only the events' default time moves; every other clock reads now."""
    field = AuditEvent._meta.get_field("occurred_at")
    default = field.default
    field.default = lambda: when
    field.__dict__.pop("_get_default", None)  # Django caches the default's callable
    try:
        yield
    finally:
        field.default = default
        field.__dict__.pop("_get_default", None)


def erasure_under_way(user: Any, pseudonym: str, **request: Any) -> Any:
    """An erasure of ``user`` begun as the job begins one: the request marked ``erasing`` with
    its pseudonym, and whom the pseudonym stands for recorded (audit migration 0027)."""
    from audit.services import record_erasure_subject
    from consent.models import DataSubjectRequest

    made = DataSubjectRequest.objects.create(
        user=user, kind="erasure", status="erasing", pseudonym=pseudonym, **request
    )
    record_erasure_subject(
        pseudonym=pseudonym, user_id=user.pk, request_id=made.public_id, targets=[]
    )
    return made
