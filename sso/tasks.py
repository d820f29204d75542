"""Background jobs for SSO: re-reading IdP metadata, warning about expiring IdP certificates."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.services import outside_a_request
from sso.models import Connection, Status
from sso.services import expiry, saml

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
            refreshed += saml.refresh_metadata(connection_id)
        except Exception:  # one broken connection must not stop the others
            logger.exception("metadata refresh of connection %s failed", connection_id)
    return refreshed


@shared_task(acks_late=True)
def warn_expiring_certificates() -> int:
    """Email an organization's owners and admins 30 and 7 days before an IdP signing
    certificate of one of its connections expires. Returns how many notices went out."""
    sent = 0
    for cert, days in expiry.certificates_to_warn():
        # A worker has no request: the emails' links and site name come from PUBLIC_URL.
        with outside_a_request():
            sent += expiry.warn_of_expiry(certificate_id=cert.pk, days=days)
    return sent
