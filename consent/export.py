"""Data export: a person asks for a copy of everything Gatehouse holds about them.

The flow: ``request_export`` records a ``DataSubjectRequest`` (one open at a time, a few a day)
and queues ``consent.tasks.build_export``, which calls ``build``. That collects every section of
``SECTIONS`` into a zip in memory, encrypts it into an ``ExportArchive`` row (web and worker nodes
share no disk) and emails the person a single-use link holding a random token, of which only the
SHA-256 is stored. The link's page spends the token on POST only (``consent.export_views``);
``expire`` deletes archives whose link ran out unused.

What goes in is decided by ``SECTIONS``, one exporter per kind of row that holds the person's
data; erasure walks the same list. Exporters keep other people out: no inviter, no session key,
no factor secret, and in audit events the person did not perform, no actor identity, address or
browser (a failed login with their address records the attacker's IP, which is not theirs).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import zipfile
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, NamedTuple

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.mfa.policy import DEVICE_MODELS
from accounts.models import OutboundEmail, User
from accounts.services import outside_a_request
from audit.actions import Action
from audit.models import AuditEvent
from audit.services import record
from config import encryption
from consent.models import (
    ConsentEvent,
    ConsentState,
    DataSubjectRequest,
    ExportArchive,
    Method,
)
from organizations.models import Invitation, Membership, Role

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
REQUESTS_PER_DAY = 3
# A pending export older than this lost its task; a new request replaces it.
STALE_AFTER = timedelta(hours=6)
EMAIL_TEMPLATE = "email/consent/export_ready"
# What stands in for a person who is not the one exporting.
SOMEONE_ELSE = "someone else"
# Who acted in a login step with the person's address, before anyone was signed in.
SIGNING_IN_AS_YOU = "someone signing in with your address"
EMAIL_PATTERN = re.compile(r"[^\s@<>\"',;:()\[\]]+@[^\s@<>\"',;:()\[\]]+\.[A-Za-z0-9-]{2,}")
# Emails whose subject names another person (the inviter): exported with a neutral subject.
_NEUTRAL_SUBJECTS = {"organizations/email/invitation": "Invitation to join an organization"}

Export = DataSubjectRequest.Kind.EXPORT
Status = DataSubjectRequest.Status


class ExportRefused(Exception):
    """An export request that cannot be taken, with a message fit to show the person."""

    def __init__(self, message: str, *, status: int = 429) -> None:
        super().__init__(message)
        self.status = status


# --- Requesting ----------------------------------------------------------------------------


def _open_export(user: User) -> DataSubjectRequest | None:
    return DataSubjectRequest.objects.filter(
        user=user, kind=Export, status__in=[Status.PENDING, Status.READY]
    ).first()


def _link_ran_out(export: DataSubjectRequest) -> bool:
    expires = export.download_expires_at
    return export.status == Status.READY and expires is not None and expires <= timezone.now()


def _never_built(export: DataSubjectRequest) -> bool:
    return export.status == Status.PENDING and export.requested_at < timezone.now() - STALE_AFTER


@transaction.atomic
def request_export(*, user: User, via: str = DataSubjectRequest.Via.SELF) -> DataSubjectRequest:
    """Ask for an export of ``user``'s data. Returns the open request if there already is one
    (pending or ready); otherwise creates one, audits it and queues the build once this
    transaction commits. Raises ``ExportRefused`` past ``REQUESTS_PER_DAY`` in 24 hours."""
    from consent.tasks import build_export

    existing = _open_export(user)
    if existing is not None and _link_ran_out(existing):
        # The hourly sweep has not reached it yet: expire it now rather than refuse.
        ExportArchive.objects.filter(request=existing).delete()
        DataSubjectRequest.objects.filter(pk=existing.pk, status=Status.READY).update(
            status=Status.EXPIRED, completed_at=timezone.now()
        )
        existing = None
    elif existing is not None and _never_built(existing):
        # Its task was lost (a broker outage, retries exhausted): free the one open slot.
        DataSubjectRequest.objects.filter(pk=existing.pk, status=Status.PENDING).update(
            status=Status.FAILED, last_error="never built", completed_at=timezone.now()
        )
        existing = None
    if existing is not None:
        return existing
    since = timezone.now() - timedelta(days=1)
    recent = DataSubjectRequest.objects.filter(
        user=user, kind=Export, requested_at__gte=since
    ).count()
    if recent >= REQUESTS_PER_DAY:
        raise ExportRefused(
            f"You can ask for an export {REQUESTS_PER_DAY} times a day. Please try again tomorrow."
        )
    try:
        with transaction.atomic():
            export = DataSubjectRequest.objects.create(
                user=user, kind=Export, status=Status.PENDING, via=via
            )
    except IntegrityError:
        # Another request of theirs won the race to the one-open-export constraint.
        existing = _open_export(user)
        if existing is None:
            raise
        return existing
    record(
        Action.PRIVACY_EXPORT_REQUESTED,
        actor=user,
        target=user,
        data={"request": str(export.public_id), "via": via},
    )
    pk = export.pk
    transaction.on_commit(lambda: build_export.delay(pk))
    return export


# --- What goes in ----------------------------------------------------------------------------


class Section(NamedTuple):
    """One kind of data about a person: its file name in the zip, the exporter, and the models
    (``app_label.ModelName``) whose rows it covers."""

    name: str
    export: Callable[[User], Any]
    covers: tuple[str, ...] = ()


def addresses_of(user: User) -> list[str]:
    """The addresses the person has proven they hold (the login address first). An address
    added but never verified proves nothing: matching on it would hand anyone who typed a
    stranger's address that stranger's invitations, emails and failed logins."""
    verified = list(
        EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )
    proven = {address.lower() for address in verified}
    found = [user.email] if (user.email or "").lower() in proven else []
    seen: dict[str, str] = {}
    for address in [*found, *verified]:
        if address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())


def any_address(field: str, addresses: Iterable[str]) -> Q:
    """Rows whose ``field`` is one of ``addresses``, in any case (nothing for no addresses)."""
    query = Q(pk__in=[])
    for address in addresses:
        if "@" in address:
            query |= Q(**{f"{field}__iexact": address})
    return query


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
        Invitation.objects.filter(any_address("email", addresses_of(user)) | Q(accepted_by=user))
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
    emails = OutboundEmail.objects.filter(any_address("to", addresses_of(user))).order_by(
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


def _audit_events(user: User) -> list[dict[str, Any]]:
    addresses = addresses_of(user)
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


SECTIONS: list[Section] = [
    Section("user", _user, ("accounts.User",)),
    Section("email_addresses", _email_addresses, ("account.EmailAddress",)),
    Section("memberships", _memberships, ("organizations.Membership",)),
    Section("invitations", _invitations, ("organizations.Invitation",)),
    Section("sessions", _sessions, ("usersessions.UserSession",)),
    Section(
        "mfa_devices",
        _mfa_devices,
        tuple(model._meta.label for model in DEVICE_MODELS.values()),
    ),
    Section("linked_identities", _linked_identities, ("socialaccount.SocialAccount",)),
    Section("consent", _consent, ("consent.ConsentEvent", "consent.ConsentState")),
    Section("data_requests", _data_requests, ("consent.DataSubjectRequest",)),
    Section("outbound_email", _outbound_email, ("accounts.OutboundEmail",)),
    Section("audit_events", _audit_events, ("audit.AuditEvent",)),
]

# Models that point at a user or hold an address but are not exported, and why. A test fails
# when a new such model is in neither list.
NOT_EXPORTED: dict[str, str] = {
    "admin.LogEntry": "Django admin's change log: what staff did to other records",
    "accounts.User_groups": "staff permission groups, not data about a customer",
    "accounts.User_user_permissions": "staff permissions, not data about a customer",
    "django_otp_webauthn.WebAuthnUserHandle": "a random handle for passkeys, meaningless alone",
    "sso.Connection": "who configured an organization's SSO, not data about them",
    "consent.PolicyVersion": "who drafted a policy text, not data about them",
}

README = """\
Your data from {product}
{underline}

This archive holds a copy of what {product} keeps about your account, made on {generated_at}.

manifest.json          When this copy was made, your account's identifier, and the SHA-256 of
                       every other file here, so you can check nothing was changed.
user.json              Your profile: address, name, when you joined and last signed in, and
                       whether the account is blocked (with the reason staff recorded).
email_addresses.json   The email addresses on your account.
memberships.json       The organizations you belong to (or belonged to), with your role.
invitations.json       Invitations to join an organization that were sent to your addresses.
sessions.json          Where you are (or were) signed in: IP address, browser, and when.
mfa_devices.json       Your second factors, by kind and name. Their secrets are never exported.
linked_identities.json Accounts at other sign-in providers linked to yours.
consent.json           What you agreed to or withdrew, when, and which policy version.
receipts/              One signed receipt per consent decision. Check them with the public
                       keys at {public_url}/consent/.well-known/jwks.json.
data_requests.json     Your data export and account erasure requests.
outbound_email.json    Emails we sent to your addresses (subjects and dates, not contents).
audit_events.json      The security log of your account. Where someone other than you acted
                       (staff, an organization admin, or a stranger trying your address), it
                       says so without naming them or keeping their IP address or browser.
"""


# --- Building --------------------------------------------------------------------------------


def _json(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False).encode()


def build_zip(user: User, *, generated_at: Any = None) -> bytes:
    """The export of ``user`` as zip bytes (unencrypted)."""
    generated_at = generated_at or timezone.now()
    product = getattr(settings, "GATEHOUSE_PRODUCT_NAME", "Gatehouse")
    title = f"Your data from {product}"
    files: dict[str, bytes] = {
        "README.txt": README.format(
            product=product,
            underline="=" * len(title),
            generated_at=generated_at.isoformat(),
            public_url=settings.GATEHOUSE_PUBLIC_URL,
        ).encode()
    }
    for section in SECTIONS:
        files[f"{section.name}.json"] = _json(section.export(user))
    for public_id, receipt in (
        ConsentEvent.objects.filter(user=user).order_by("id").values_list("public_id", "receipt")
    ):
        files[f"receipts/{public_id}.jwt"] = receipt.encode()
    manifest = {
        "format": "gatehouse-export",
        "format_version": FORMAT_VERSION,
        "generated_at": generated_at,
        "subject": user.public_id,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    stamp = timezone.localtime(generated_at).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in {"manifest.json": _json(manifest), **files}.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def encrypt_archive(data: bytes) -> bytes:
    return encryption.encrypt_bytes(data)


def decrypt_archive(token: bytes | memoryview) -> bytes:
    return encryption.decrypt_bytes(bytes(token))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def download_url(export: DataSubjectRequest, token: str) -> str:
    return settings.GATEHOUSE_PUBLIC_URL + reverse(
        "consent:export-download", args=[export.public_id, token]
    )


def build(request_id: int) -> str:
    """Build, store and announce the export of one request. Returns "ready", "failed", or
    "skipped" when the request is not pending (already built, or gone): running it twice
    builds one archive and sends one email."""
    with transaction.atomic():
        export = (
            DataSubjectRequest.objects.select_for_update()
            .select_related("user")
            .filter(pk=request_id, kind=Export)
            .first()
        )
        if export is None or export.status != Status.PENDING:
            return "skipped"
        export.attempts += 1
        user = export.user
        if user.erased_at is not None:
            return _fail(export, "the account was erased")
        now = timezone.now()
        try:
            with transaction.atomic():
                payload = build_zip(user, generated_at=now)
        except OperationalError:
            raise  # the task retries with backoff
        except (DatabaseError, ValueError, TypeError, KeyError) as exc:
            logger.exception("export %s failed to build", export.public_id)
            return _fail(export, f"could not build the archive ({type(exc).__name__})")
        if len(payload) > settings.GATEHOUSE_EXPORT_MAX_BYTES:
            return _fail(export, f"archive of {len(payload)} bytes is over the size limit")
        ExportArchive.objects.create(
            request=export,
            data=encrypt_archive(payload),
            sha256=hashlib.sha256(payload).hexdigest(),
            size=len(payload),
        )
        token = secrets.token_urlsafe(32)
        export.download_token_hash = hash_token(token)
        export.download_expires_at = now + timedelta(hours=settings.GATEHOUSE_EXPORT_LINK_HOURS)
        export.status = Status.READY
        export.last_error = ""
        export.save(
            update_fields=[
                "attempts",
                "download_token_hash",
                "download_expires_at",
                "status",
                "last_error",
            ]
        )
        record(
            Action.PRIVACY_EXPORT_READY,
            actor_text="system",
            target=user,
            data={"request": str(export.public_id), "size": len(payload)},
        )
        _send_ready_email(export, token)
    return "ready"


def _fail(export: DataSubjectRequest, reason: str) -> str:
    export.status = Status.FAILED
    export.last_error = reason[:200]
    export.completed_at = timezone.now()
    export.save(update_fields=["attempts", "status", "last_error", "completed_at"])
    return "failed"


def _send_ready_email(export: DataSubjectRequest, token: str) -> None:
    user = export.user
    with outside_a_request():
        get_adapter().send_mail(
            EMAIL_TEMPLATE,
            user.email,
            {
                "user": user,
                "download_url": download_url(export, token),
                "expires_at": export.download_expires_at,
                "link_hours": settings.GATEHOUSE_EXPORT_LINK_HOURS,
            },
        )


# --- Downloading -----------------------------------------------------------------------------

MAX_TOKEN_LENGTH = 128  # token_urlsafe(32) is 43 characters; anything far longer is junk


def find_download(*, user: User, public_id: Any, token: str) -> DataSubjectRequest | None:
    """The ready, unspent, unexpired export of ``user`` that ``token`` opens, without spending
    it (the confirmation page a mail scanner may fetch)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    export = DataSubjectRequest.objects.filter(
        public_id=public_id,
        user=user,
        kind=Export,
        status=Status.READY,
        downloaded_at__isnull=True,
        download_expires_at__gt=timezone.now(),
    ).first()
    if export is None or not hmac.compare_digest(export.download_token_hash, hash_token(token)):
        return None
    return export


@transaction.atomic
def spend_download(
    *, user: User, public_id: Any, token: str
) -> tuple[DataSubjectRequest, bytes | None] | None:
    """Spend the link's token and hand back the decrypted zip, or ``None`` when the token is
    wrong, spent, expired or someone else's. A conditional UPDATE spends it, so of two
    concurrent downloads exactly one wins; the archive is deleted in the same transaction.
    An archive that can no longer be read (its encryption key was dropped, or it was altered)
    fails the request and comes back as ``(request, None)``: the person asks for a new one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = timezone.now()
    spent = DataSubjectRequest.objects.filter(
        public_id=public_id,
        user=user,
        kind=Export,
        status=Status.READY,
        download_token_hash=hash_token(token),
        downloaded_at__isnull=True,
        download_expires_at__gt=now,
    ).update(downloaded_at=now, status=Status.DOWNLOADED, completed_at=now)
    if spent != 1:
        return None
    export = DataSubjectRequest.objects.get(public_id=public_id)
    archive = ExportArchive.objects.filter(request=export).first()
    if archive is None:
        transaction.set_rollback(True)  # nothing to hand over: leave the link as it was
        return None
    try:
        payload = decrypt_archive(archive.data)
    except encryption.SecretUnreadable:
        payload = None
    archive.delete()
    if payload is None or not hmac.compare_digest(
        hashlib.sha256(payload).hexdigest(), archive.sha256
    ):
        logger.error("export archive %s cannot be read", export.public_id)
        DataSubjectRequest.objects.filter(pk=export.pk).update(
            status=Status.FAILED, last_error="archive unreadable"
        )
        return export, None
    record(
        Action.PRIVACY_EXPORT_DOWNLOADED,
        actor=user,
        target=user,
        data={"request": str(export.public_id), "size": len(payload)},
    )
    return export, payload


# --- Expiry ----------------------------------------------------------------------------------

_BATCH = 200


def expire() -> int:
    """Mark ready exports whose link ran out as expired and delete their archives, in batches.
    Returns how many expired."""
    expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                DataSubjectRequest.objects.select_for_update(skip_locked=True)
                .filter(kind=Export, status=Status.READY, download_expires_at__lt=timezone.now())
                .values_list("pk", flat=True)[:_BATCH]
            )
            if not batch:
                return expired
            ExportArchive.objects.filter(request_id__in=batch).delete()
            expired += DataSubjectRequest.objects.filter(pk__in=batch).update(
                status=Status.EXPIRED, completed_at=timezone.now()
            )
