"""The consent ledger's half of OAuth consent (issue 15): a third-party app's access to a
person's account is recorded like any other consent, as an event with a signed receipt.

The provider decides when (``provider.services.consent_ledger``): a person allows an app on
its consent screen, or the access ends (Remove access, removal from the organization it was
given for, erasure). This module decides how: the app's purpose, the event with its details,
the current state and the audit event. Nothing else may record a decision on an app's purpose
(``consent.services`` refuses), so the ledger follows the provider's ``Authorization`` rows:
granted while one exists, withdrawn once it is gone.

Apps' purposes are never asked at sign-up, never shown as a choice on the privacy page and
never required, so they cannot hold anyone at the re-acceptance gate (``consent.selectors``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from consent.models import ConsentEvent, ConsentState, Decision, LawfulBasis, Method, Purpose
from consent.services import move_state, new_event
from consent.signals import consent_changed

OAUTH_APP = Purpose.Kind.OAUTH_APP


def lock_person(user: User) -> None:
    """One consent writer per person at a time, as for every other consent (consent.services).
    The provider takes this lock before its authorization rows, so that allowing an app,
    removing its access and a removal from an organization wait for each other in one order
    rather than deadlock."""
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()


@service(durable=False)
def app_purpose(*, key: str, name: str, description: str, organization: Any) -> Purpose:
    """The purpose of one app's access in one organization (``None``: outside any), made the
    first time someone allows it. Its name and description follow the app's as they change;
    events keep the name they were signed with."""
    purpose, created = Purpose.objects.get_or_create(
        key=key,
        organization=organization,
        defaults={
            "name": name[:200],
            "description": description,
            "kind": OAUTH_APP,
            "lawful_basis": LawfulBasis.CONSENT,
            "required": False,
            "offered_at_signup": False,
        },
    )
    if purpose.kind != OAUTH_APP:
        # A purpose staff made by hand under the same key: never record an app's access on it.
        raise Refusal(f"The purpose “{key}” exists and is not an app's access.", status=409)
    if created:
        record(
            Action.CONSENT_CATALOGUE_CHANGED,
            actor_text="system",
            target=purpose,
            organization=organization,
            data={"model": "purpose", "created": True, "changed": [], "kind": OAUTH_APP},
        )
    elif (purpose.name, purpose.description, purpose.archived) != (name[:200], description, False):
        purpose.name, purpose.description, purpose.archived = name[:200], description, False
        purpose.save(update_fields=["name", "description", "archived"])
    return purpose


@service(durable=False)
def record_app_decision(
    *,
    user: User,
    purpose: Purpose,
    decision: str,
    details: dict[str, Any],
    actor: Any = None,
) -> ConsentEvent | None:
    """Record that ``user`` allowed an app (every "Allow" on its consent screen is a decision
    of its own, so each writes an event) or that its access ended (written only while the
    ledger says granted: ending it twice records it once). Returns the event, or None when
    there was nothing to withdraw. ``details`` (the app, its permissions, the organization)
    go into the event and its receipt. ``actor`` is who decided: the person, whoever removed
    them from the organization, or None for Gatehouse itself (an erasure)."""
    if purpose.kind != OAUTH_APP:
        raise Refusal("Only an app's purpose records OAuth consent.", status=409)
    if decision not in Decision.values:
        raise Refusal("The decision is “granted” or “withdrawn”.")
    lock_person(user)
    state = ConsentState.objects.filter(user=user, purpose=purpose).select_related("event").first()
    granted = decision == Decision.GRANTED
    if not granted and (state is None or not state.granted):
        return None
    event = new_event(
        user=user,
        purpose=purpose,
        version=None,
        decision=decision,
        method=Method.OAUTH_CONSENT,
        actor=actor,
        occurred_at=None,
        ip=None,
        user_agent=None,
        details=details,
    )
    move_state(state, event, granted=granted)
    record(
        Action.CONSENT_GRANTED if granted else Action.CONSENT_WITHDRAWN,
        actor=actor,
        actor_text="" if actor is not None else "system",
        target=user,
        organization=purpose.organization_id,
        data={
            "purpose": purpose.key,
            "version": None,
            "method": Method.OAUTH_CONSENT,
            "event": str(event.public_id),
            "client_id": str(details.get("client_id", "")),
        },
    )
    transaction.on_commit(
        lambda: consent_changed.send(
            sender=ConsentEvent, event=event, user=user, purpose=purpose, decision=decision
        )
    )
    return event
