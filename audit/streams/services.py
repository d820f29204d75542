"""Changing log streams: the only write path for them (views and the admin call these).

Each change checks the caller may manage the organization's integrations, writes the stream
and its audit event in one transaction, and names in the event the kind and the fields that
changed, never the credential. Addresses are vetted (DNS) before the transaction opens.
The HTTPS kind's signing secret is made here and returned once; the HEC token and Datadog key
are what the admin pasted. All three are kept encrypted and never shown again, and none of
them follows a changed destination: a new URL or Datadog site needs the token or key pasted
again, and gives an HTTPS stream a new signing secret.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from audit.actions import Action
from audit.services import build, record
from audit.streams import source
from audit.streams.checks import StreamSettings, checked, credential_for_move, moved_fields
from audit.streams.formats import Item
from audit.streams.models import LogStream
from audit.streams.transports import Batch, Sent, send
from config.encryption import SecretUnreadable, encrypt
from config.refusals import NotFound, Refusal, service
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from organizations.services.guards import require

EDITABLE = ("name", "format", "url", "host", "port", "datadog_site", "ca_pem", "actions")


@dataclass(frozen=True)
class Created:
    stream: LogStream
    signing_secret: str  # the HTTPS kind's, shown once; empty for the other kinds


@dataclass(frozen=True)
class Updated:
    stream: LogStream
    # An HTTPS stream's new signing secret when its URL changed, shown once; else empty.
    signing_secret: str


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in standard base64 (T6)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _audit(action: Action, actor: Membership, stream: LogStream, **data: Any) -> None:
    record(
        action,
        actor=actor.user,
        organization=stream.organization_id,
        target=stream,
        data={"stream": str(stream.public_id), "kind": stream.kind, **data},
    )


def stream_of(org: Organization, public_id: Any, *, lock: bool = False) -> LogStream:
    """The organization's stream with that public id; another organization's is not found."""
    rows = LogStream.objects.for_org(org)
    if lock:
        rows = rows.select_for_update()
    try:
        return rows.get(public_id=public_id)
    except (LogStream.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such log stream.") from None


def create_stream(*, actor: Membership, org: Organization, chosen: StreamSettings) -> Created:
    """A new active stream, sending the events sealed from now on."""
    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.create_stream")
    clean = checked(chosen, creating=True)
    return _create(actor=actor, org=org, clean=clean)


@service
def _create(*, actor: Membership, org: Organization, clean: StreamSettings) -> Created:
    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.create_stream")
    secret = new_signing_secret() if clean.kind == LogStream.Kind.HTTPS else ""
    stream = LogStream.objects.create(
        organization=org,
        name=clean.name,
        kind=clean.kind,
        format=clean.format,
        url=clean.url,
        host=clean.host,
        port=clean.port,
        datadog_site=clean.datadog_site,
        ca_pem=clean.ca_pem,
        actions=clean.actions,
        credential_encrypted=encrypt(secret or clean.credential)
        if secret or clean.credential
        else "",
        position=source.sealed_size(org.pk),
        next_attempt_at=timezone.now(),
        created_by_text=str(actor.user)[:320],
    )
    _audit(Action.AUDIT_STREAM_CREATED, actor, stream, format=stream.format, name=stream.name)
    return Created(stream=stream, signing_secret=secret)


def update_stream(
    *, actor: Membership, org: Organization, stream_id: Any, chosen: StreamSettings
) -> Updated:
    """New settings for a stream; its kind stays (make a new stream for another kind). An
    empty credential keeps the one kept, as long as the stream keeps its destination: a new
    URL or Datadog site without the HEC token or Datadog key is refused (on the credential
    field) and changes nothing, and a new URL gives an HTTPS stream a new signing secret,
    returned once. The saved credential is never sent anywhere but where it was given."""
    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.update_stream")
    current = stream_of(org, stream_id)
    clean = checked(StreamSettings(**{**chosen.__dict__, "kind": current.kind}), creating=False)
    return _update(actor=actor, org=org, stream_id=stream_id, clean=clean)


@service
def _update(
    *, actor: Membership, org: Organization, stream_id: Any, clean: StreamSettings
) -> Updated:
    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.update_stream")
    stream = stream_of(org, stream_id, lock=True)
    # Judged against the locked row, so no change saved meanwhile can slip past it.
    credential_for_move(stream, clean)
    moved = bool(moved_fields(stream, clean))
    changed = [name for name in EDITABLE if getattr(stream, name) != getattr(clean, name)]
    for name in changed:
        setattr(stream, name, getattr(clean, name))
    secret = ""
    if stream.kind == LogStream.Kind.HTTPS:
        if moved:  # the old receiver knows the old secret: it must not sign for the new one
            secret = new_signing_secret()
            stream.credential_encrypted = encrypt(secret)
            changed.append("credential")
    elif clean.credential:
        stream.credential_encrypted = encrypt(clean.credential)
        changed.append("credential")
    if changed:
        stream.updated_at = timezone.now()
        stream.save()
        _audit(Action.AUDIT_STREAM_UPDATED, actor, stream, changed=changed)
    return Updated(stream=stream, signing_secret=secret)


@service
def pause_stream(*, actor: Membership, org: Organization, stream_id: Any) -> LogStream:
    """Stop sending; the stream keeps its place and resumes from it."""
    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.pause_stream")
    stream = stream_of(org, stream_id, lock=True)
    if stream.status != LogStream.Status.PAUSED:
        stream.status = LogStream.Status.PAUSED
        stream.updated_at = timezone.now()
        stream.save(update_fields=["status", "updated_at"])
        _audit(Action.AUDIT_STREAM_PAUSED, actor, stream, position=stream.position)
    return stream


@service
def resume_stream(*, actor: Membership, org: Organization, stream_id: Any) -> LogStream:
    """Send again, from where the stream stopped (a paused or a turned-off stream)."""
    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.resume_stream")
    stream = stream_of(org, stream_id, lock=True)
    if stream.status in (LogStream.Status.PAUSED, LogStream.Status.DISABLED):
        stream.status = LogStream.Status.ACTIVE
        stream.failing_since = None
        stream.attempts = 0
        stream.next_attempt_at = timezone.now()
        stream.updated_at = timezone.now()
        stream.save()
        _audit(Action.AUDIT_STREAM_RESUMED, actor, stream, position=stream.position)
    return stream


@service
def delete_stream(*, actor: Membership, org: Organization, stream_id: Any) -> None:
    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.delete_stream")
    stream = stream_of(org, stream_id, lock=True)
    _audit(Action.AUDIT_STREAM_DELETED, actor, stream, name=stream.name, position=stream.position)
    stream.delete()


@service
def record_test(
    *, actor: Membership, org: Organization, stream: LogStream, delivered: bool, summary: str
) -> None:
    """The test button's audit event, written after the test message went (or did not)."""
    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.test_stream")
    _audit(Action.AUDIT_STREAM_TESTED, actor, stream, delivered=delivered, result=summary)


def send_test(*, actor: Membership, org: Organization, stream_id: Any) -> Sent:
    """Send one test message (an ``audit.stream_tested`` event marked ``"test": true``,
    outside the stream's place) and put the answer on record. Returns the answer for the
    portal to show."""
    from audit.streams.delivery import UNREADABLE, destination_of, entries

    require(actor, org, Perm.MANAGE_INTEGRATIONS, "audit.test_stream")
    stream = stream_of(org, stream_id)
    sample = build(
        Action.AUDIT_STREAM_TESTED,
        actor=actor.user,
        organization=org,
        target=stream,
        data={"stream": str(stream.public_id), "kind": stream.kind, "test": True},
    )
    batch = Batch(
        entries=entries(stream, [Item(event=sample, test=True)]), batch_id=f"test-{sample.id}"
    )
    try:
        sent = send(destination_of(stream), batch)
    except SecretUnreadable:
        sent = Sent(delivered=False, error=UNREADABLE)
    record_test(
        actor=actor, org=org, stream=stream, delivered=sent.delivered, summary=sent.summary()
    )
    return sent


def refused_field(refusal: Refusal) -> str | None:
    """The form field a settings refusal belongs to (None: the form as a whole)."""
    return refusal.code or None
