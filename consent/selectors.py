"""Reading consent: which purposes apply to a person, where they stand, what they still owe."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from consent.models import ConsentEvent, ConsentState, Purpose
from organizations.models import Membership


def purposes_in_scope(user: Any) -> QuerySet[Purpose]:
    """Gatehouse-wide purposes and those of organizations the person is an active member of,
    archived ones included."""
    orgs = Membership.objects.active().filter(user=user).values("organization_id")
    return Purpose.objects.filter(Q(organization__isnull=True) | Q(organization_id__in=orgs))


def applicable_purposes(user: Any) -> QuerySet[Purpose]:
    """The purposes in scope that are still asked for."""
    return purposes_in_scope(user).filter(archived=False)


def pending_required(user: Any) -> QuerySet[Purpose]:
    """Required purposes the person has not accepted in their binding version: what the
    re-acceptance page asks for. One query. A required purpose whose document has no published
    version yet binds nobody."""
    satisfied = ConsentState.objects.filter(
        user=user,
        purpose=OuterRef("pk"),
        granted=True,
        version_published_at__gte=OuterRef("binding_published_at"),
    )
    return (
        applicable_purposes(user)
        .filter(required=True, binding_version__isnull=False)
        .exclude(Exists(satisfied))
    )


def current_states(user: Any) -> QuerySet[ConsentState]:
    """The person's current decisions, from the state table: one indexed query."""
    return ConsentState.objects.filter(user=user).select_related(
        "purpose", "purpose__organization", "version", "event"
    )


def derived_current_events(user: Any) -> QuerySet[ConsentEvent]:
    """The same, derived from the events alone (the latest per purpose): the evidence the state
    table must agree with (``manage.py check_consent_state``, the tests)."""
    latest = ConsentEvent.objects.filter(
        user=OuterRef("user"), purpose=OuterRef("purpose")
    ).order_by("-occurred_at", "-id")
    return ConsentEvent.objects.filter(user=user, pk=latest.values("pk")[:1])


def do_not_sell(user: Any) -> bool:
    return ConsentState.objects.filter(
        user=user, purpose__key="do_not_sell", purpose__organization__isnull=True, granted=True
    ).exists()
