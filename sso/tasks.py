"""Background jobs for SSO: re-reading IdP metadata, warning about expiring IdP certificates."""

from __future__ import annotations

import logging

from allauth.account.adapter import get_adapter
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from accounts.services import outside_a_request
from organizations.models import Membership, Role
from sso import services
from sso.models import Connection, Status

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def refresh_saml_metadata() -> int:
    """Re-read every SAML connection's metadata URL: new IdP certificates arrive before the
    IdP starts signing with them. Returns how many refreshed."""
    refreshed = 0
    ids = (
        Connection.objects.exclude(metadata_url="")
        .exclude(status=Status.DISABLED)
        .values_list("pk", flat=True)
    )
    for connection_id in ids:
        try:
            refreshed += services.refresh_metadata(connection_id)
        except Exception:  # one broken connection must not stop the others
            logger.exception("metadata refresh of connection %s failed", connection_id)
    return refreshed


@shared_task(acks_late=True)
def warn_expiring_certificates() -> int:
    """Email an organization's owners and admins 30 and 7 days before an IdP signing
    certificate of one of its connections expires. Returns how many notices went out."""
    sent = 0
    for cert, days in services.certificates_to_warn():
        connection = cert.connection
        org = connection.organization
        admins = list(
            Membership.objects.active()
            .for_org(org)
            .filter(role__in=[Role.OWNER, Role.ADMIN])
            .select_related("user")
        )
        link = settings.GATEHOUSE_PUBLIC_URL + reverse("orgs:sso", args=[org.slug])
        with transaction.atomic(), outside_a_request():
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
            services.mark_warned(cert, days, len(admins))
        sent += 1
    return sent
