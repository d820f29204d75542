"""Turning off a stream that has failed for 7 days, and telling its organization."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from audit.actions import Action, Outcome
from audit.services import record
from audit.streams.models import LogStream
from organizations.models import Membership, Organization, Role


def turn_off(stream: LogStream) -> None:
    """Mark ``stream`` disabled (the caller saves it, inside its transaction), audit it, and
    email the organization's owners and admins once that commits."""
    stream.status = LogStream.Status.DISABLED
    org = Organization.objects.get(pk=stream.organization_id)
    record(
        Action.AUDIT_STREAM_DISABLED,
        actor_text="system",
        organization=org,
        target=stream,
        outcome=Outcome.FAILURE,
        data={
            "stream": str(stream.public_id),
            "kind": stream.kind,
            "position": stream.position,
            "failing_since": stream.failing_since.isoformat() if stream.failing_since else None,
            "last_error": stream.last_error,
        },
    )
    transaction.on_commit(lambda: _email_admins(org, stream))


def _email_admins(org: Organization, stream: LogStream) -> None:
    from accounts.services import outside_a_request

    admins = (
        Membership.objects.active()
        .for_org(org)
        .filter(role__in=[Role.OWNER, Role.ADMIN])
        .select_related("user")
    )
    link = settings.GATEHOUSE_PUBLIC_URL + reverse("orgs:streams", args=[org.slug])
    with outside_a_request():
        for membership in admins:
            get_adapter().send_mail(
                "audit/email/stream_disabled",
                membership.user.email,
                {"organization": org, "stream": stream, "portal_url": link},
            )
