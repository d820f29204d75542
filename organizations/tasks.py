"""Background jobs for organizations: cleaning up after a removed member, re-checking domains."""

from __future__ import annotations

import logging

from celery import shared_task

from config.refusals import Refusal
from organizations.models import Domain, Membership
from organizations.services.domains import verify_domain
from organizations.services.members import SessionStoreDown, deprovision_now

logger = logging.getLogger(__name__)

MAX_RETRIES = 8
# Domains re-checked per query: the list is read in batches, never whole.
RECHECK_BATCH = 200


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def deprovision_membership(self, membership_id: int) -> str:
    """End what a removed member had through the organization. Safe to run twice.

    Access itself ended when the membership did (every org page and API call checks for an
    active membership, and their open invitations were withdrawn with it). Here: their sessions
    stop pointing at the organization (``deprovision_now``, which a SCIM deactivation also
    runs in its request; this job then finds the work done). Later capabilities (OAuth grants,
    SSO links) add their own revocations there.
    """
    try:
        return deprovision_now(membership_id)
    except SessionStoreDown as exc:  # session store down: try again later
        raise self.retry(exc=exc, countdown=min(600, 2**self.request.retries * 5)) from exc


@shared_task(acks_late=True)
def sweep_removed_memberships() -> int:
    """Queue the cleanup of removals whose job never ran (the broker was down when they
    happened)."""
    pending = Membership.objects.filter(
        status=Membership.Status.REMOVED, deprovisioned_at__isnull=True
    ).values_list("pk", flat=True)[:500]
    for pk in pending:
        deprovision_membership.delay(pk)
    return len(pending)


@shared_task(acks_late=True)
def recheck_verified_domains() -> int:
    """Look every verified domain's TXT record up again; one whose record is gone stops
    counting (``verify_domain`` un-verifies it and audits the loss). Each lookup runs outside
    any transaction, and each result is saved in its own."""
    checked, after = 0, 0
    while True:
        batch = list(
            Domain.objects.filter(verified_at__isnull=False, pk__gt=after)
            .select_related("organization")
            .order_by("pk")[:RECHECK_BATCH]
        )
        for domain in batch:
            try:
                verify_domain(actor=None, org=domain.organization, domain_id=domain.pk)
            except Refusal:  # removed meanwhile
                logger.warning("domain re-check refused for %s", domain.pk)
            checked += 1
        if len(batch) < RECHECK_BATCH:
            return checked
        after = batch[-1].pk
