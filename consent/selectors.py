"""Reading consent: which purposes apply to a person, where they stand, what they still owe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from consent.models import ConsentEvent, ConsentState, PolicyVersion, Purpose
from organizations.models import Membership


def purposes_in_scope(user: Any) -> QuerySet[Purpose]:
    """Gatehouse-wide purposes and those of organizations the person is an active member of,
    archived ones included."""
    orgs = Membership.objects.active().filter(user=user).values("organization_id")
    return Purpose.objects.filter(Q(organization__isnull=True) | Q(organization_id__in=orgs))


def applicable_purposes(user: Any) -> QuerySet[Purpose]:
    """The purposes in scope that are still asked for. Apps' access (OAuth consent) is not
    among them: it is asked on each app's consent screen and ended on /account/apps/, never
    chosen on the privacy page nor owed at the re-acceptance gate (consent.app_access)."""
    return purposes_in_scope(user).filter(archived=False).exclude(kind=Purpose.Kind.OAUTH_APP)


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


def current_versions(purposes: list[Purpose]) -> dict[int, PolicyVersion]:
    """The latest published version of each purpose's document, keyed by document id: one query
    for the lot (``Purpose.current_version`` costs one per purpose)."""
    document_ids = {p.document_id for p in purposes if p.document_id}
    if not document_ids:
        return {}
    latest = (
        PolicyVersion.objects.published()
        .filter(document_id=OuterRef("document_id"))
        .order_by("-published_at", "-id")
        .values("pk")[:1]
    )
    versions = PolicyVersion.objects.filter(document_id__in=document_ids, pk=Subquery(latest))
    return {v.document_id: v for v in versions}


@dataclass(frozen=True)
class ConsentRow:
    """Where one person stands on one purpose."""

    purpose: Purpose
    granted: bool | None  # None: never decided
    version: PolicyVersion | None  # what the current decision was made on
    current_version: PolicyVersion | None
    needs_reacceptance: bool
    decided_at: datetime | None


def consent_rows(user: Any) -> list[ConsentRow]:
    """Every purpose that applies to the person, with their current decision. Purposes whose
    document has nothing published yet are left out: there is nothing to agree to."""
    states = {s.purpose_id: s for s in current_states(user)}
    pending = set(pending_required(user).values_list("pk", flat=True))
    purposes = [
        p
        for p in applicable_purposes(user).select_related("organization")
        if not (p.document_id and not p.binding_version_id)
    ]
    current = current_versions(purposes)
    rows = []
    for purpose in purposes:
        state = states.get(purpose.pk)
        rows.append(
            ConsentRow(
                purpose=purpose,
                granted=state.granted if state else None,
                version=state.version if state else None,
                current_version=current.get(purpose.document_id) if purpose.document_id else None,
                needs_reacceptance=purpose.pk in pending,
                decided_at=state.event.occurred_at if state else None,
            )
        )
    return rows
