"""The one registry of event types: which audit actions produce which events, and what their
payloads hold.

An event type is named ``<object>.<what happened>`` and is produced by the successful audit
actions it lists; an action may feed more than one type (an erased account is both
``user.deleted`` and ``erasure.completed``). A type's payload is built from the audit event and
the object it was about, from columns already in memory: building it never queries the
database, so it adds nothing to a login's single statement (docs/events.md, T9). Payloads hold
stable identifiers and a few plain fields; no secret, token or IP address.

Every payload has the same envelope (``PAYLOAD_SCHEMA``): ``object`` (what the event is about),
``actor`` (who acted: a person, an app, the directory or Gatehouse itself) and ``details``
(the audit event's own redacted data: a login's method, the fields that changed, a role).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.actions import Action as A

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    actions: frozenset[str]
    objects: tuple[str, ...]  # the object types its payload may carry
    example: Mapping[str, Any] = field(default_factory=dict)


def _type(name: str, description: str, actions: set[A], *objects: str) -> EventType:
    return EventType(name, description, frozenset(a.value for a in actions), objects)


_SESSION_ENDED = {A.LOGOUT, A.SESSION_REVOKED, A.SESSIONS_REVOKED_ALL, A.SSO_LOGOUT}
_CONNECTION_CHANGED = {
    A.SSO_CONNECTION_CREATED,
    A.SSO_CONNECTION_UPDATED,
    A.SSO_CONNECTION_ACTIVATED,
    A.SSO_CONNECTION_DISABLED,
    A.SSO_CONNECTION_DELETED,
}

EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        _type(
            "user.created",
            "An account was created: sign-up, first SSO sign-in, the API or a directory (SCIM).",
            {
                A.USER_SIGNED_UP,
                A.SSO_USER_CREATED,
                A.OAUTH_API_USER_CREATED,
                A.SCIM_USER_PROVISIONED,
                A.USER_IMPORTED,
            },
            "user",
        ),
        _type(
            "user.updated",
            "A person's profile or primary address changed (by them, support or the directory).",
            {A.PROFILE_UPDATED, A.EMAIL_CHANGED, A.USER_EDITED_BY_STAFF, A.USER_IMPORT_UPDATED},
            "user",
        ),
        _type("user.blocked", "Support blocked an account.", {A.USER_BLOCKED}, "user"),
        _type("user.unblocked", "Support unblocked an account.", {A.USER_UNBLOCKED}, "user"),
        _type(
            "user.deleted",
            "An account was erased; details.former_id is the id apps knew it by.",
            {A.PRIVACY_USER_ERASED},
            "user",
        ),
        _type("email.verified", "A person verified an email address.", {A.EMAIL_VERIFIED}, "user"),
        _type(
            "session.started",
            "A person signed in (password, code, passkey, social or SSO).",
            {A.LOGIN_SUCCEEDED, A.SSO_LOGIN_SUCCEEDED},
            "user",
        ),
        _type(
            "session.ended",
            "A person signed out, or their sessions were ended. Sessions that simply expire "
            "produce no event.",
            _SESSION_ENDED,
            "user",
        ),
        _type("mfa.enrolled", "A second factor was added.", {A.MFA_DEVICE_ADDED}, "user"),
        _type(
            "mfa.removed",
            "A second factor was removed, or all of them by a reset once its waiting period ended.",
            {A.MFA_DEVICE_REMOVED, A.MFA_RESET},
            "user",
        ),
        _type(
            "organization.created", "An organization was created.", {A.ORG_CREATED}, "organization"
        ),
        _type(
            "organization.updated",
            "An organization's settings or policy changed.",
            {A.ORG_UPDATED, A.ORG_POLICY_UPDATED},
            "organization",
            "organizationpolicy",
        ),
        _type(
            "membership.created",
            "A person joined an organization.",
            {A.ORG_MEMBER_JOINED},
            "user",
        ),
        _type(
            "membership.role_changed",
            "A member's role changed (by an admin, the IdP's groups or the directory's).",
            {A.ORG_MEMBER_ROLE_CHANGED, A.SSO_ROLE_MAPPED, A.SCIM_ROLE_MAPPED},
            "user",
        ),
        _type(
            "membership.removed",
            "A member was removed or left.",
            {A.ORG_MEMBER_REMOVED, A.ORG_MEMBER_LEFT},
            "user",
        ),
        _type(
            "membership.deprovisioned",
            "A removed member's access was cleaned up (sessions and tokens ended).",
            {A.ORG_MEMBER_DEPROVISIONED},
            "user",
        ),
        _type(
            "invitation.created", "An invitation was sent.", {A.ORG_INVITATION_SENT}, "invitation"
        ),
        _type(
            "invitation.accepted",
            "An invitation was accepted.",
            {A.ORG_INVITATION_ACCEPTED},
            "invitation",
        ),
        _type(
            "invitation.revoked",
            "An invitation was revoked.",
            {A.ORG_INVITATION_REVOKED},
            "invitation",
        ),
        _type(
            "domain.verified",
            "An organization's domain was verified.",
            {A.ORG_DOMAIN_VERIFIED},
            "domain",
        ),
        _type(
            "sso_connection.updated",
            "An SSO connection was created, changed, turned on or off, or deleted "
            "(details.action says which).",
            _CONNECTION_CHANGED,
            "connection",
        ),
        _type(
            "scim.user_updated",
            "The directory updated a user.",
            {A.SCIM_USER_UPDATED},
            "user",
            "scimuser",
        ),
        _type(
            "scim.user_deactivated",
            "The directory deactivated a user.",
            {A.SCIM_USER_DEACTIVATED},
            "user",
            "scimuser",
            "membership",
        ),
        _type(
            "scim.user_reactivated",
            "The directory reactivated a user.",
            {A.SCIM_USER_REACTIVATED},
            "user",
            "scimuser",
            "membership",
        ),
        _type(
            "scim.user_deleted",
            "The directory deleted a user.",
            {A.SCIM_USER_DELETED},
            "user",
            "scimuser",
            "membership",
        ),
        _type(
            "scim.group_changed",
            "The directory created, changed or deleted a group, or changed its members "
            "(details.action says which).",
            {
                A.SCIM_GROUP_CREATED,
                A.SCIM_GROUP_UPDATED,
                A.SCIM_GROUP_DELETED,
                A.SCIM_GROUP_MEMBERS_CHANGED,
            },
            "scimgroup",
        ),
        _type(
            "consent.changed",
            "A person gave or withdrew consent (details name the purposes and versions).",
            {A.CONSENT_GRANTED, A.CONSENT_WITHDRAWN},
            "user",
        ),
        _type(
            "erasure.completed",
            "A person's erasure finished: their data is gone or pseudonymised.",
            {A.PRIVACY_USER_ERASED, A.ORG_MEMBER_ERASED},
            "user",
            "membership",
        ),
    )
}

TYPES_BY_ACTION: dict[str, tuple[EventType, ...]] = {}
for _t in EVENT_TYPES.values():
    for _action in sorted(_t.actions):
        TYPES_BY_ACTION[_action] = (*TYPES_BY_ACTION.get(_action, ()), _t)


_ID = {"type": "string", "minLength": 1, "maxLength": 64}
PAYLOAD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["object", "actor", "details"],
    "additionalProperties": False,
    "properties": {
        "object": {
            "type": "object",
            "required": ["type", "id"],
            "properties": {
                "type": {"type": "string"},
                "id": _ID,
                "email": {"type": "string"},
                "name": {"type": "string"},
                "slug": {"type": "string"},
                "role": {"type": "string"},
                "status": {"type": "string"},
                "protocol": {"type": "string"},
                "verified": {"type": "boolean"},
                "blocked": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
            },
            "additionalProperties": False,
        },
        "actor": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["user", "client", "directory", "system"]},
                "id": _ID,
            },
            "additionalProperties": False,
        },
        "details": {"type": "object"},
    },
}


def schema_for(event_type: EventType) -> dict[str, Any]:
    """The JSON Schema of ``event_type``'s payload: the envelope, with the object types the
    type carries."""
    schema = dict(PAYLOAD_SCHEMA)
    properties = dict(schema["properties"])
    obj = dict(properties["object"])
    obj["properties"] = {**obj["properties"], "type": {"enum": list(event_type.objects)}}
    properties["object"] = obj
    schema["properties"] = properties
    schema["title"] = event_type.name
    schema["description"] = event_type.description
    return schema


# The type names as choices, for the API's schema (one named enum wherever a type appears).
TYPE_CHOICES = [(name, name) for name in sorted(EVENT_TYPES)]
