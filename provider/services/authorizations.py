"""A person's standing permission for an app: given on the consent screen, shown on
/account/apps/, ended by "Remove access"."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from audit.actions import Action
from audit.services import record
from config.refusals import service
from provider.models import Application, Authorization
from provider.services import consent_ledger


def covers(*, user: Any, application: Application, scopes: list[str], organization: Any) -> bool:
    """Whether the person has already allowed ``application`` every one of ``scopes`` (for
    that organization, or without one)."""
    found = (
        Authorization.objects.filter(user=user, application=application, organization=organization)
        .values_list("scopes", flat=True)
        .first()
    )
    return found is not None and set(scopes) <= set(found)


@service(durable=False)
def grant_authorization(
    *, user: Any, application: Application, scopes: list[str], organization: Any = None
) -> Authorization:
    """Record that the person allowed ``application`` ``scopes`` on its consent screen (added
    to what it had): the authorization, and the decision in the consent ledger with a signed
    receipt (``consent_event``, provider.services.consent_ledger), in one transaction."""
    consent_ledger.lock_person(user)  # before the authorization row: one order of locks
    authorization, created = Authorization.objects.select_for_update().get_or_create(
        user=user,
        application=application,
        organization=organization,
        defaults={"scopes": sorted(set(scopes))},
    )
    added = sorted(set(scopes) - set(authorization.scopes)) if not created else sorted(scopes)
    if not created:
        authorization.scopes = sorted(set(authorization.scopes) | set(scopes))
    authorization.last_used_at = timezone.now()
    authorization.save()
    event = consent_ledger.record_allowed(authorization=authorization, scopes=scopes)
    record(
        Action.OAUTH_AUTHORIZED,
        actor=user,
        target=authorization,
        organization=organization,
        data={
            "client_id": application.client_id,
            "app": application.name,
            "scopes": " ".join(sorted(scopes)),
            "added": " ".join(added),
            "first_time": created,
            "consent_event": str(event.public_id),
        },
    )
    return authorization
