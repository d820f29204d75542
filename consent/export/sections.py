"""What goes into an export: one section per kind of row that holds the person's data.

``SECTIONS`` decides it, and erasure has an answer for every model listed here or in
``NOT_EXPORTED`` (consent.erasure.removal.WHAT_HAPPENS). Exporters keep other people out: no
inviter, no session key, no factor secret, no operator's address or browser; the audit trail
has its own module (consent.export.audit_trail).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.apps import apps
from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from accounts.mfa.policy import DEVICE_MODELS
from accounts.models import OutboundEmail, User
from consent.addresses import any_address, proven_addresses
from consent.export.audit_trail import SOMEONE_ELSE, audit_events
from consent.models import ConsentEvent, ConsentState, DataSubjectRequest, Method
from organizations.models import Invitation, Membership

# Emails whose subject names another person (the inviter): exported with a neutral subject.
_NEUTRAL_SUBJECTS = {"organizations/email/invitation": "Invitation to join an organization"}


class Section(NamedTuple):
    """One kind of data about a person: its file name in the zip, the exporter, and the models
    (``app_label.ModelName``) whose rows it covers."""

    name: str
    export: Callable[[User], Any]
    covers: tuple[str, ...] = ()


def _user(user: User) -> dict[str, Any]:
    return {
        "public_id": user.public_id,
        "email": user.email,
        "display_name": user.display_name,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "is_active": user.is_active,
        "mfa_required": user.mfa_required,
        "is_blocked": user.is_blocked,
        "blocked_at": user.blocked_at,
        "blocked_reason": user.blocked_reason,
    }


def _profile(user: User) -> list[dict[str, Any]]:
    """The answers to the operator's profile fields, decrypted; skipped ones say so."""
    from accounts.profiling.selectors import answers

    return [
        {
            "field": answer.field.key,
            "label": answer.field.label,
            "value": answer.value,
            "skipped": answer.skipped,
        }
        for answer in sorted(answers(user).values(), key=lambda a: a.field.key)
    ]


def _email_addresses(user: User) -> list[dict[str, Any]]:
    return list(
        EmailAddress.objects.filter(user=user).order_by("pk").values("email", "verified", "primary")
    )


def _memberships(user: User) -> list[dict[str, Any]]:
    return [
        {
            "organization": {"name": m.organization.name, "slug": m.organization.slug},
            "role": m.role,
            "status": m.status,
            "source": m.source,
            "created_at": m.created_at,
            "ended_at": m.ended_at,
        }
        for m in Membership.objects.filter(user=user).select_related("organization").order_by("pk")
    ]


def _invitations(user: User) -> list[dict[str, Any]]:
    # Across organizations on purpose: the person's view of every invitation they received.
    # The inviter and the token hash stay out.
    invitations = (
        Invitation.objects.filter(
            any_address("email", proven_addresses(user)) | Q(accepted_by=user)
        )
        .select_related("organization")
        .order_by("created_at", "pk")
    )
    return [
        {
            "organization": {"name": i.organization.name, "slug": i.organization.slug},
            "email": i.email,
            "role": i.role,
            "state": i.state,
            "created_at": i.created_at,
            "sent_at": i.sent_at,
            "expires_at": i.expires_at,
            "accepted_at": i.accepted_at,
            "accepted_by_you": i.accepted_by_id == user.pk,
            "revoked_at": i.revoked_at,
        }
        for i in invitations
    ]


def _sessions(user: User) -> list[dict[str, Any]]:
    return list(
        UserSession.objects.filter(user=user)
        .order_by("created_at")
        .values("ip", "user_agent", "created_at", "last_seen_at")
    )


def _imported_identities(user: User) -> list[dict[str, Any]]:
    """Which other systems they were moved in from, and those systems' ids for them
    (accounts/imports/)."""
    from accounts.models import ImportedIdentity

    rows: Any = (
        ImportedIdentity.objects.filter(user=user)
        .order_by("created_at")
        .values("source", "external_id", "created_at", "updated_at")
    )
    return list(rows)


def _sign_ins(user: User) -> list[dict[str, Any]]:
    """Each sign-in's risk signals (accounts/takeover/), with where it came from."""
    from accounts.models import SignInRisk

    rows: Any = (
        SignInRisk.objects.filter(user=user)
        .order_by("created_at")
        .values(
            "created_at",
            "ip",
            "user_agent",
            "new_device",
            "new_network",
            "failures_before",
            "challenged",
            "stepped_up",
            "disowned_at",
        )
    )
    return list(rows)


def _mfa_devices(user: User) -> list[dict[str, Any]]:
    # Kind, name and dates only: never TOTP keys, backup-code hashes or passkey public keys.
    devices = []
    for kind, model in DEVICE_MODELS.items():
        for device in model.objects.filter(user=user).order_by("pk"):
            devices.append(
                {
                    "kind": kind.value,
                    "name": device.name,
                    "confirmed": device.confirmed,
                    "created_at": getattr(device, "created_at", None),
                    "last_used_at": getattr(device, "last_used_at", None),
                }
            )
    return devices


def _linked_identities(user: User) -> list[dict[str, Any]]:
    return list(
        SocialAccount.objects.filter(user=user)
        .order_by("pk")
        .values("provider", "uid", "extra_data", "date_joined", "last_login")
    )


def _directory_records(user: User) -> list[dict[str, Any]]:
    """What organizations' directories (SCIM) sent about them, as sent: no password is ever
    kept, so none is here."""
    records = apps.get_model("sso", "ScimUser").objects.filter(user=user)
    return [
        {
            "organization": record.organization.name,
            "userName": record.user_name,
            "externalId": record.external_id,
            "active": record.active,
            "state": record.link_state,
            "record": record.document,
            "created": record.created_at,
            "updated": record.updated_at,
        }
        for record in records.select_related("organization").order_by("pk")
    ]


def _consent(user: User) -> dict[str, Any]:
    def version(v: Any) -> dict[str, Any] | None:
        if v is None:
            return None
        return {
            "id": v.pk,
            "document": v.document.key,
            "label": v.label,
            "published_at": v.published_at,
            "content_sha256": v.content_sha256,
            "text_url": settings.GATEHOUSE_PUBLIC_URL
            + reverse("consent:policy-text", args=[v.document_id, v.pk]),
        }

    states = ConsentState.objects.filter(user=user).select_related(
        "purpose", "version__document", "event"
    )
    events = (
        ConsentEvent.objects.filter(user=user)
        .select_related("purpose", "version__document")
        .order_by("occurred_at", "id")
    )
    return {
        "current": [
            {
                "purpose": {"key": s.purpose.key, "name": s.purpose.name},
                "granted": s.granted,
                "version": version(s.version),
                "since": s.event.occurred_at,
                "event": s.event.public_id,
            }
            for s in states.order_by("purpose__key")
        ],
        "events": [
            {
                "id": e.public_id,
                "purpose": {"key": e.purpose.key, "name": e.purpose.name},
                "decision": e.decision,
                "method": e.method,
                "version": version(e.version),
                "details": e.details,  # OAuth consent: the app, its scopes, the organization
                "occurred_at": e.occurred_at,
                "recorded_by": "you" if e.actor_id in (None, user.pk) else SOMEONE_ELSE,
                # The address and browser are theirs when they acted themselves, or when an
                # import brought their own from where they consented; an operator's are not.
                "ip": e.ip if _their_own_context(e, user) else None,
                "user_agent": e.user_agent if _their_own_context(e, user) else "",
                "receipt": f"receipts/{e.public_id}.jwt",
            }
            for e in events
        ],
    }


def _their_own_context(event: ConsentEvent, user: User) -> bool:
    return event.actor_id in (None, user.pk) or event.method == Method.IMPORT


def _data_requests(user: User) -> list[Any]:
    return list(
        DataSubjectRequest.objects.filter(user=user)
        .order_by("requested_at")
        .values(
            "public_id",
            "kind",
            "status",
            "via",
            "requested_at",
            "scheduled_for",
            "cancelled_at",
            "completed_at",
            "download_expires_at",
            "downloaded_at",
        )
    )


def _outbound_email(user: User) -> list[dict[str, Any]]:
    # Not the bodies: until sent they hold live links and codes.
    emails = OutboundEmail.objects.filter(any_address("to", proven_addresses(user))).order_by(
        "created_at"
    )
    return [
        {
            "template": e.template,
            "to": e.to,
            "subject": _NEUTRAL_SUBJECTS.get(e.template, e.subject),
            "status": e.status,
            "created_at": e.created_at,
            "sent_at": e.sent_at,
        }
        for e in emails.iterator(chunk_size=500)
    ]


def _connected_apps(user: User) -> dict[str, Any]:
    """The apps the person let act for them, and the tokens those apps hold (never the token
    values, which Gatehouse does not keep). provider sits above consent: looked up by name."""
    from django.apps import apps

    authorization = apps.get_model("provider", "Authorization")
    access_token = apps.get_model("provider", "AccessToken")
    refresh_token = apps.get_model("provider", "RefreshToken")
    return {
        "authorizations": [
            {
                "app": a.application.name,
                "client_id": a.application.client_id,
                "organization": a.organization.slug if a.organization else None,
                "scopes": a.scopes,
                "created_at": a.created_at,
                "last_used_at": a.last_used_at,
            }
            for a in authorization.objects.filter(user=user).select_related(
                "application", "organization"
            )
        ],
        "access_tokens": list(
            access_token.objects.filter(user=user)
            .order_by("created")
            .values("application__name", "scope", "created", "expires")
        ),
        "refresh_tokens": list(
            refresh_token.objects.filter(user=user)
            .order_by("created")
            .values("application__name", "created", "revoked")
        ),
    }


SECTIONS: list[Section] = [
    Section("user", _user, ("accounts.User",)),
    Section("profile", _profile, ("accounts.ProfileAnswer",)),
    Section("email_addresses", _email_addresses, ("account.EmailAddress",)),
    Section("memberships", _memberships, ("organizations.Membership",)),
    Section("invitations", _invitations, ("organizations.Invitation",)),
    Section("sessions", _sessions, ("usersessions.UserSession",)),
    Section("sign_ins", _sign_ins, ("accounts.SignInRisk",)),
    Section("imported_identities", _imported_identities, ("accounts.ImportedIdentity",)),
    Section(
        "mfa_devices",
        _mfa_devices,
        tuple(model._meta.label for model in DEVICE_MODELS.values()),
    ),
    Section("linked_identities", _linked_identities, ("socialaccount.SocialAccount",)),
    Section("consent", _consent, ("consent.ConsentEvent", "consent.ConsentState")),
    Section("data_requests", _data_requests, ("consent.DataSubjectRequest",)),
    Section("outbound_email", _outbound_email, ("accounts.OutboundEmail",)),
    Section("audit_events", audit_events, ("audit.AuditEvent",)),
    Section("directory_records", _directory_records, ("sso.ScimUser",)),
    Section(
        "connected_apps",
        _connected_apps,
        (
            "provider.Authorization",
            "provider.AccessToken",
            "provider.RefreshToken",
            "provider.IDToken",
            "provider.Grant",
            "provider.DeviceGrant",
            "provider.ProviderSession",
        ),
    ),
]

# Models that point at a user or hold an address but are not exported, and why. A test fails
# when a new such model is in neither list.
NOT_EXPORTED: dict[str, str] = {
    "admin.LogEntry": "Django admin's change log: what staff did to other records",
    "accounts.User_groups": "staff permission groups, not data about a customer",
    "accounts.User_user_permissions": "staff permissions, not data about a customer",
    "django_otp_webauthn.WebAuthnUserHandle": "a random handle for passkeys, meaningless alone",
    "accounts.MFAReset": "resets of their second factors: the same facts (who asked, why, "
    "when) are in the exported audit events (mfa.reset_requested, mfa.reset_cancelled)",
    "accounts.KnownSign": "keyed hashes of devices and networks, meaningless alone (the "
    "sign-ins they come from are exported)",
    "sso.Connection": "who configured an organization's SSO, not data about them",
    "sso.Directory": "who turned on an organization's SCIM, not data about them",
    "audit.AuditExport": "an admin's export of an organization's log, not data about them",
    "audit.AuditVerification": "an admin's check of an organization's log, not data about them",
    "sso.DirectoryToken": "who made an organization's SCIM token, not data about them",
    "consent.PolicyVersion": "who drafted a policy text, not data about them",
    "provider.Application": "who registered an OAuth client, not data about them",
    "accounts.Impersonation": "support's sessions as them: the same facts (who, why, when, "
    "each page seen) are in the exported audit events (impersonation.*)",
    "accounts.ApprovalLink": "hashed one-use links to approve support's sessions, meaningless "
    "alone (each approval or refusal is in the exported audit events)",
}
