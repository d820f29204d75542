"""Background jobs for organizations: cleaning up after a removed member, re-checking domains."""

from __future__ import annotations

import logging

from celery import shared_task

from config.refusals import Refusal
from organizations.models import Domain, Membership
from organizations.services.active import ACTIVE_ORG_SESSION_KEY
from organizations.services.domains import verify_domain
from organizations.services.members import finish_deprovisioning

logger = logging.getLogger(__name__)

MAX_RETRIES = 8
# Domains re-checked per query: the list is read in batches, never whole.
RECHECK_BATCH = 200


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def deprovision_membership(self, membership_id: int) -> str:
    """End what a removed member had through the organization. Safe to run twice.

    Access itself ended when the membership did (every org page and API call checks for an
    active membership, and their open invitations were withdrawn with it). Here: their sessions
    stop pointing at the organization. Later capabilities (OAuth grants, SSO links) add their
    own revocations here.
    """
    membership = (
        Membership.objects.select_related("organization", "user").filter(pk=membership_id).first()
    )
    if membership is None or membership.is_active:
        return "not removed"
    if membership.deprovisioned_at is not None:
        return "already done"
    try:
        cleared = _clear_active_org(membership.user_id, membership.organization_id)
    except Exception as exc:  # session store down: try again later
        raise self.retry(exc=exc, countdown=min(600, 2**self.request.retries * 5)) from exc
    done = finish_deprovisioning(membership_id=membership.pk, sessions_cleared=cleared)
    return "done" if done else "changed meanwhile"


def _clear_active_org(user_id: int, org_id: int) -> int:
    from importlib import import_module

    from allauth.usersessions.models import UserSession
    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore
    cleared = 0
    for session_key in UserSession.objects.filter(user_id=user_id).values_list(
        "session_key", flat=True
    ):
        session = store(session_key)
        if session.exists(session_key) and session.get(ACTIVE_ORG_SESSION_KEY) == org_id:
            del session[ACTIVE_ORG_SESSION_KEY]
            session.save()
            cleared += 1
    return cleared


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
