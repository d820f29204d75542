"""What every SSO service shares: the connection it acts on, fetched for this organization and
locked, the input cleaned the same way everywhere, and the audit event's shape."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from audit.actions import Action
from audit.services import record
from config.refusals import NotFound, Refusal
from organizations.models import Membership, Organization
from sso.models import Connection

_ATTRIBUTE_NAME = re.compile(r"^[\w.:/#@+-]{1,200}$")


def locked_connection(org: Organization, connection_id: Any) -> Connection:
    """This organization's connection, locked until the transaction ends (404 otherwise)."""
    try:
        return Connection.objects.for_org(org).select_for_update().get(pk=int(connection_id))
    except (Connection.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such connection.") from None


def connection_of_org(org: Organization, connection_id: Any) -> Connection:
    """This organization's connection, read without a lock (404 otherwise)."""
    try:
        return Connection.objects.for_org(org).get(pk=int(connection_id))
    except (Connection.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such connection.") from None


def changed_fields(before: dict, after: dict) -> list[str]:
    return sorted(k for k in after if before.get(k) != after.get(k))


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Refusal("Give the connection a name, such as “Okta” or “Entra ID”.")
    if len(name) > 120:
        raise Refusal("The name is too long (120 characters at most).")
    return name


def clean_url(value: str, label: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise Refusal(f"Enter the {label}.")
        return ""
    try:
        URLValidator(schemes=["https", "http"])(value)
    except ValidationError:
        raise Refusal(f"The {label} is not a URL.") from None
    if len(value) > 1000:
        raise Refusal(f"The {label} is too long.")
    return value


def clean_attribute(value: str, label: str) -> str:
    value = (value or "").strip()
    if value and not _ATTRIBUTE_NAME.match(value):
        raise Refusal(f"The {label} is not a valid attribute name.")
    return value


def audit(action: Action, actor: Membership | None, connection: Connection, **data: Any) -> None:
    """The event of a change to ``connection``, by ``actor`` (None: Gatehouse itself)."""
    record(
        action,
        actor=actor.user if actor else None,
        actor_text="" if actor else "system",
        organization=connection.organization,
        target=connection,
        data={"connection": connection.slug, **data},
    )
