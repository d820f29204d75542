"""Notices to an organization's owners and admins before an IdP signing certificate of one of
its connections expires: 30 and 7 days ahead, once per threshold."""

from __future__ import annotations

from datetime import datetime, timedelta

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from audit.actions import Action
from audit.services import record
from config.refusals import service
from organizations.models import Membership, Role
from sso.models import IdPCertificate, Status

WARN_DAYS = (30, 7)


def _threshold_due(cert: IdPCertificate, now: datetime) -> int | None:
    """The tightest threshold ``cert`` has crossed and not been warned of (a notice for it
    covers the wider ones too), or None."""
    days_left = (cert.not_after - now).days
    crossed = min((d for d in WARN_DAYS if days_left < d), default=None)
    return crossed if crossed is not None and crossed not in cert.warned_days else None


def certificates_to_warn(now: datetime | None = None) -> list[tuple[IdPCertificate, int]]:
    """Each certificate a notice is due for, with the threshold it is for."""
    now = now or timezone.now()
    due = []
    for cert in IdPCertificate.objects.filter(
        not_after__gt=now, not_after__lte=now + timedelta(days=max(WARN_DAYS))
    ).select_related("connection__organization"):
        if cert.connection.status == Status.DISABLED:
            continue
        if cert.connection.certificates.filter(not_after__gt=cert.not_after).exists():
            continue  # a successor is already in place: the rotation is done
        days = _threshold_due(cert, now)
        if days is not None:
            due.append((cert, days))
    return due


@service
def warn_of_expiry(*, certificate_id: int, days: int) -> bool:
    """Email the owners and admins of the certificate's organization that it expires within
    ``days`` days, and remember it. Harmless to repeat: a threshold already warned of sends
    nothing. The emails leave once this commits."""
    cert = (
        IdPCertificate.objects.select_for_update()
        .select_related("connection__organization")
        .filter(pk=certificate_id)
        .first()
    )
    if cert is None or days in cert.warned_days:
        return False
    connection = cert.connection
    org = connection.organization
    admins = list(
        Membership.objects.active()
        .for_org(org)
        .filter(role__in=[Role.OWNER, Role.ADMIN])
        .select_related("user")
    )
    link = settings.GATEHOUSE_PUBLIC_URL + reverse("orgs:sso", args=[org.slug])
    for membership in admins:
        get_adapter().send_mail(
            "sso/email/certificate_expiring",
            membership.user.email,
            {
                "organization": org,
                "connection": connection,
                "certificate": cert,
                "days_left": max(cert.days_left, 0),
                "portal_url": link,
            },
        )
    # Both thresholds at once when the first notice was missed: one email, not two.
    cert.warned_days = sorted({*cert.warned_days, *[d for d in WARN_DAYS if d >= days]})
    cert.save(update_fields=["warned_days"])
    record(
        Action.SSO_CERTIFICATE_EXPIRING,
        actor_text="system",
        organization=org,
        target=connection,
        data={
            "connection": connection.slug,
            "fingerprint": cert.fingerprint_sha256,
            "days": days,
            "recipients": len(admins),
        },
    )
    return True
