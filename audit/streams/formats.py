"""What a log stream sends for each audit event: Gatehouse's own JSON record, or an OCSF event.

A stream sends sealed events (docs/events.md, section 0 item 6), so every record carries its
place in the organization's chain (``chain.position``, ``chain.hash``): a SIEM can de-duplicate
on the position and check the copy it keeps against a signed checkpoint. A test message from
the portal has no place in the chain and says ``"test": true`` instead.

OCSF (1.3): sign-ins and sign-outs are Authentication events (class 3002), account lifecycle
changes are Account Change events (3001), and everything else is a Base Event (class 0) with
Gatehouse's record under ``unmapped``, so a stream in OCSF mode never drops an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from audit.models import AuditEvent

OCSF_VERSION = "1.3.0"
PRODUCT = {"name": "Gatehouse", "vendor_name": "Gatehouse"}

IAM_CATEGORY = 3
AUTHENTICATION = 3002
ACCOUNT_CHANGE = 3001
BASE_EVENT = 0

LOGON, LOGOFF = 1, 2
# Authentication: action -> activity. Failed sign-ins are Logon with status Failure.
AUTHENTICATION_ACTIVITIES: Mapping[str, int] = {
    "login.succeeded": LOGON,
    "login.failed": LOGON,
    "login.blocked": LOGON,
    "login.sso_required": LOGON,
    "login.method_not_allowed": LOGON,
    "login.code_rejected": LOGON,
    "sso.login_succeeded": LOGON,
    "sso.login_failed": LOGON,
    "mfa.verified": LOGON,
    "mfa.failed": LOGON,
    "logout": LOGOFF,
    "sso.logout": LOGOFF,
    "oauth.logout": LOGOFF,
}
MFA_ACTIONS = frozenset({"mfa.verified", "mfa.failed"})

# Account Change: action -> activity (OCSF's own numbers).
ACCOUNT_CHANGE_ACTIVITIES: Mapping[str, int] = {
    "user.signed_up": 1,
    "sso.user_created": 1,
    "oauth.api_user_created": 1,
    "scim.user_provisioned": 1,
    "user.unblocked": 2,
    "scim.user_reactivated": 2,
    "password.changed": 3,
    "password.reset": 4,
    "user.blocked": 5,
    "scim.user_deactivated": 5,
    "privacy.user_erased": 6,
    "mfa.device_added": 10,
    "mfa.device_removed": 11,
}

ACTIVITY_NAMES: Mapping[tuple[int, int], str] = {
    (AUTHENTICATION, LOGON): "Logon",
    (AUTHENTICATION, LOGOFF): "Logoff",
    (ACCOUNT_CHANGE, 1): "Create",
    (ACCOUNT_CHANGE, 2): "Enable",
    (ACCOUNT_CHANGE, 3): "Password Change",
    (ACCOUNT_CHANGE, 4): "Password Reset",
    (ACCOUNT_CHANGE, 5): "Disable",
    (ACCOUNT_CHANGE, 6): "Delete",
    (ACCOUNT_CHANGE, 10): "MFA Factor Enable",
    (ACCOUNT_CHANGE, 11): "MFA Factor Disable",
}


@dataclass(frozen=True)
class Item:
    """One audit event on its way down a stream: its place in the chain, or ``test``."""

    event: AuditEvent
    position: int | None = None
    chain_hash: str | None = None  # hex
    test: bool = False


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def record(item: Item, user_ids: Mapping[int, str] | None = None) -> dict[str, Any]:
    """Gatehouse's JSON record of one event: the audit row as it stands, the public ids of
    the people it names, and its place in the chain."""
    event, users = item.event, user_ids or {}
    target_id = event.target_id
    if event.target_type == "user" and target_id.isdigit():
        target_id = users.get(int(target_id), target_id)
    out: dict[str, Any] = {
        "id": str(event.id),
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "action": event.action,
        "outcome": event.outcome,
        "organization_id": event.organization_id,
        "actor": {
            "id": users.get(event.actor_id) if event.actor_id else None,
            "text": event.actor_text,
        },
        "target": {"type": event.target_type, "id": target_id, "text": event.target_text},
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "data": event.data,
    }
    if item.test:
        out["test"] = True
    else:
        out["chain"] = {"position": item.position, "hash": item.chain_hash}
    return out


def public_user_ids(events: Iterable[AuditEvent]) -> dict[int, str]:
    """The public ids of the users a batch names, in one query (records never carry the
    internal key of a person)."""
    from accounts.models import User

    wanted: set[int] = set()
    for event in events:
        if event.actor_id:
            wanted.add(event.actor_id)
        if event.target_type == "user" and event.target_id.isdigit():
            wanted.add(int(event.target_id))
    if not wanted:
        return {}
    pairs = User.objects.filter(pk__in=wanted).values_list("pk", "public_id")
    return {pk: str(public_id) for pk, public_id in pairs}


def _ocsf_class(action: str) -> tuple[int, int]:
    if action in AUTHENTICATION_ACTIVITIES:
        return AUTHENTICATION, AUTHENTICATION_ACTIVITIES[action]
    if action in ACCOUNT_CHANGE_ACTIVITIES:
        return ACCOUNT_CHANGE, ACCOUNT_CHANGE_ACTIVITIES[action]
    return BASE_EVENT, 0


def _user(doc: Mapping[str, Any], *, subject: str) -> dict[str, Any]:
    """An OCSF User object for the person an event is about: the actor of a sign-in, the
    target of an account change."""
    part = doc[subject]
    user: dict[str, Any] = {}
    if part.get("id"):
        user["uid"] = str(part["id"])
    text = part.get("text") or ""
    if "@" in text:
        user["email_addr"] = text
    user["name"] = text or "unknown"
    return user


def ocsf(item: Item, user_ids: Mapping[int, str] | None = None) -> dict[str, Any]:
    """The OCSF event for one audit event (section 1.3 of docs/events.md)."""
    doc = record(item, user_ids)
    class_uid, activity_id = _ocsf_class(item.event.action)
    failed = item.event.outcome != "success"
    out: dict[str, Any] = {
        "category_uid": IAM_CATEGORY if class_uid else 0,
        "class_uid": class_uid,
        "activity_id": activity_id,
        "type_uid": class_uid * 100 + activity_id,
        "time": _millis(item.event.occurred_at),
        "severity_id": 3 if failed else 1,  # Medium for a failure, Informational otherwise
        "status_id": 2 if failed else 1,
        "status": "Failure" if failed else "Success",
        "message": item.event.get_action_display(),
        "metadata": {
            "product": PRODUCT,
            "version": OCSF_VERSION,
            "uid": doc["id"],
            "correlation_uid": item.event.request_id or None,
            "sequence": item.position,
        },
    }
    out["metadata"] = {k: v for k, v in out["metadata"].items() if v is not None}
    if item.event.ip:
        out["src_endpoint"] = {"ip": item.event.ip}
    if class_uid:
        out["activity_name"] = ACTIVITY_NAMES[(class_uid, activity_id)]
    if class_uid == AUTHENTICATION:
        out["user"] = _user(doc, subject="actor")
        # T14: Authentication needs service or dst_endpoint; Gatehouse is the service.
        out["service"] = {"name": "Gatehouse", "uid": settings.GATEHOUSE_PUBLIC_URL}
        out["is_remote"] = True
        if item.event.action in MFA_ACTIONS:
            out["is_mfa"] = True
    elif class_uid == ACCOUNT_CHANGE:
        out["user"] = _user(doc, subject="target")
        out["actor"] = {"user": _user(doc, subject="actor")}
    # Whatever OCSF has no attribute for stays readable under ``unmapped``; the chain rides
    # there too, so an OCSF copy can be checked against a checkpoint as well.
    out["unmapped"] = doc
    return out
