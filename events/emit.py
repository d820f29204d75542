"""Turning a successful audit event into outbox rows (called by ``audit.services.record``).

Only successes produce events: a refusal's audit event is written after its change rolled
back, and there was no change to report. Payloads come from columns already in memory (the
audit event, and the object it is about), so emitting never reads the database.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from events.models import Event
from events.registry import SCHEMA_VERSION, TYPES_BY_ACTION

# Per object type, the plain columns a payload copies: (payload key, attribute).
_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "user": (
        ("email", "email"),
        ("name", "display_name"),
        ("blocked", "is_blocked"),
        ("created_at", "date_joined"),
    ),
    "organization": (("slug", "slug"), ("name", "name"), ("created_at", "created_at")),
    "membership": (("role", "role"), ("status", "status")),
    "invitation": (("email", "email"), ("role", "role")),
    "domain": (("name", "name"),),
    "connection": (("name", "name"), ("protocol", "protocol")),
}


def enabled() -> bool:
    return bool(getattr(settings, "GATEHOUSE_EVENTS_ENABLED", True))


def for_audit(audit_event: Any, target: models.Model | None, actor: Any) -> list[Event]:
    """The outbox rows ``audit_event`` produces (none for a failure or an unmapped action),
    not yet written: the caller writes them with the audit row, in its transaction."""
    if audit_event.outcome != "success" or not enabled():
        return []
    types = TYPES_BY_ACTION.get(audit_event.action, ())
    if not types:
        return []
    data = payload(audit_event, target, actor)
    return [
        Event(
            type=t.name,
            organization_id=audit_event.organization_id,
            occurred_at=audit_event.occurred_at,
            audit_event_id=audit_event.pk,
            subject_type=audit_event.target_type,
            subject_id=audit_event.target_id,
            data=data,
            schema_version=SCHEMA_VERSION,
        )
        for t in types
    ]


def payload(audit_event: Any, target: models.Model | None, actor: Any) -> dict[str, Any]:
    details = dict(audit_event.data or {})
    details.setdefault("action", audit_event.action)
    return {
        "object": describe(target, audit_event),
        "actor": _actor(actor, audit_event.actor_text),
        "details": details,
    }


def describe(target: models.Model | None, audit_event: Any) -> dict[str, Any]:
    """The object an event is about: its type, its public id (the primary key when it has
    none) and a few plain columns."""
    if target is None:
        return {"type": audit_event.target_type or "none", "id": audit_event.target_id or "-"}
    kind = target._meta.model_name or ""
    public_id = getattr(target, "public_id", None)
    result: dict[str, Any] = {"type": kind, "id": str(public_id or target.pk)}
    for key, attribute in _FIELDS.get(kind, ()):
        value = getattr(target, attribute, None)
        if value is None:
            continue
        result[key] = value.isoformat() if hasattr(value, "isoformat") else value
    if kind == "domain":
        result["verified"] = getattr(target, "verified_at", None) is not None
    return result


def _actor(actor: Any, actor_text: str) -> dict[str, Any]:
    if getattr(actor, "is_authenticated", False) and getattr(actor, "public_id", None):
        return {"type": "user", "id": str(actor.public_id)}
    client_id = getattr(actor, "client_id", None)
    if client_id:
        return {"type": "client", "id": str(client_id)[:64]}
    if actor_text.startswith("scim:"):  # a SCIM directory names itself so (sso/scim)
        return {"type": "directory", "id": actor_text[5:][:64]}
    return {"type": "system"}
