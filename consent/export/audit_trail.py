"""The audit-trail section of an export: the security log of the person's account.

Where someone other than the person acted (staff, an organization admin, a stranger trying their
address), it says so by role, without naming them or keeping their IP address or browser: a
failed login with their address records the attacker's IP, which is not theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from accounts.models import User
from audit.models import AuditEvent
from consent.addresses import EMAIL_PATTERN, any_address, proven_addresses
from organizations.models import Membership, Role

# What stands in for a person who is not the one exporting.
SOMEONE_ELSE = "someone else"
# Who acted in a login step with the person's address, before anyone was signed in.
SIGNING_IN_AS_YOU = "someone signing in with your address"


def audit_events(user: User) -> list[dict[str, Any]]:
    """What the person did, what was done to them or their memberships, and the login steps
    taken with their address."""
    addresses = proven_addresses(user)
    memberships = [
        str(pk) for pk in Membership.objects.filter(user=user).values_list("pk", flat=True)
    ]
    events = AuditEvent.objects.filter(
        Q(actor_id=user.pk)
        | Q(target_type="user", target_id=str(user.pk))
        | Q(target_type="membership", target_id__in=memberships)
        | (Q(actor_id__isnull=True) & any_address("actor_text", addresses))
    ).order_by("occurred_at")
    rows = list(events.iterator(chunk_size=1000))
    roles = _actor_roles(rows, user, addresses)
    redact = _Redactor(addresses)
    exported = []
    for event in rows:
        own = event.actor_id == user.pk
        about_them = (event.target_type == "user" and event.target_id == str(user.pk)) or (
            event.target_type == "membership" and event.target_id in memberships
        )
        exported.append(
            {
                "action": event.action,
                "outcome": event.outcome,
                "occurred_at": event.occurred_at,
                "organization_id": event.organization_id,
                "actor": "you" if own else roles.get(event.pk, SOMEONE_ELSE),
                "target": (
                    "you" if event.target_type == "user" and about_them else event.target_type
                ),
                "target_text": event.target_text
                if about_them or event.target_type == "organization"
                else "",
                "ip": event.ip if own else None,
                "user_agent": event.user_agent if own else "",
                # What someone did to another person (a block reason, their new name) is that
                # person's data, not this one's: only events about them or their own context.
                "data": redact(event.data)
                if about_them or event.target_type in ("", "organization")
                else {},
            }
        )
    return exported


def _actor_roles(events: list[AuditEvent], user: User, addresses: list[str]) -> dict[Any, str]:
    """A role word for each event someone else performed: never who they were."""
    own_addresses = {a.lower() for a in addresses}
    others = {e.actor_id for e in events if e.actor_id and e.actor_id != user.pk}
    staff = set(User.objects.filter(pk__in=others, is_staff=True).values_list("pk", flat=True))
    admins = set(
        Membership.objects.filter(
            user_id__in=others, role__in=[Role.OWNER, Role.ADMIN]
        ).values_list("user_id", "organization_id")
    )
    roles: dict[Any, str] = {}
    for event in events:
        if event.actor_id == user.pk:
            continue
        if event.actor_id is None:
            if event.actor_text.lower() in own_addresses:
                # A login step with their address: theirs, or a stranger's guess at it.
                roles[event.pk] = SIGNING_IN_AS_YOU
            elif event.actor_text in ("", "system"):
                roles[event.pk] = "system"
            else:
                roles[event.pk] = SOMEONE_ELSE
        elif event.actor_id in staff:
            roles[event.pk] = "support staff"
        elif (event.actor_id, event.organization_id) in admins:
            roles[event.pk] = "organization admin"
        else:
            roles[event.pk] = SOMEONE_ELSE
    return roles


class _Redactor:
    """Replaces addresses other than the person's own in audit data."""

    def __init__(self, own: Iterable[str]) -> None:
        self.own = {a.lower() for a in own}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            return EMAIL_PATTERN.sub(
                lambda m: m.group(0) if m.group(0).lower() in self.own else f"[{SOMEONE_ELSE}]",
                value,
            )
        return value
