"""OAuth consent in the consent ledger (issue 15, item 6): a person's "Allow" on a third-party
app's consent screen, and the end of that access, recorded as consent events with signed
receipts (method ``oauth_consent``), beside the ``Authorization`` that remembers the decision.

Each app has a purpose per organization it was allowed for (and one for access outside any
organization), made the first time someone allows it (``consent.app_access``). The event's
details name the app, the permissions (scopes) and the organization, and go into its receipt.
The access ends, and a withdrawal is recorded, when the person removes it on /account/apps/,
when they leave the organization it was given for, and when their account is erased; an
authorization from before the ledger recorded OAuth consent has no grant to withdraw.

Everything here joins the caller's transaction: the event commits with the authorization.
"""

from __future__ import annotations

from typing import Any

from config.provider_settings import OIDC_SCOPES
from consent.app_access import app_purpose, lock_person, record_app_decision
from consent.models import ConsentEvent, Decision, Purpose
from provider.models import Application, Authorization
from provider.scopes import GatehouseScopes

__all__ = ["EndedBy", "lock_person", "record_all_ended", "record_allowed", "record_ended"]


class EndedBy:
    """Why an app's access ended: the words in the withdrawal's details."""

    PERSON = "person"
    REMOVED_FROM_ORGANIZATION = "removed_from_organization"
    ERASURE = "erasure"


def purpose_key(application: Application) -> str:
    return f"oauth-app-{application.pk}"


def _description(application: Application, organization: Any) -> str:
    words = GatehouseScopes().get_all_scopes()
    askable = GatehouseScopes().get_available_scopes(application)
    permissions = [OIDC_SCOPES.get(scope) or words.get(scope, scope) for scope in askable]
    where = f" at {organization.name}" if organization is not None else ""
    text = (
        f"Lets {application.name} sign you in{where} and act for you with the permissions "
        f"you allow on its consent screen. It may ask to: {'; '.join(permissions)}."
    )
    if application.self_registered:
        text += (
            f" It registered itself from {application.registered_from} (an AI agent or an "
            "app Gatehouse has not vetted)."
        )
    return text


def _details(application: Application, organization: Any, scopes: list[str]) -> dict[str, Any]:
    where = None
    if organization is not None:
        where = {"id": str(organization.public_id), "slug": organization.slug}
        where["name"] = organization.name
    return {
        "client_id": application.client_id,
        "app": application.name,
        "agent": application.self_registered,
        "scopes": sorted(set(scopes)),
        "organization": where,
    }


def record_allowed(*, authorization: Authorization, scopes: list[str]) -> ConsentEvent:
    """The person allowed the app ``scopes`` on its consent screen: a granted event on the
    app's purpose for that organization, linked from the authorization."""
    application, organization = authorization.application, authorization.organization
    purpose = app_purpose(
        key=purpose_key(application),
        name=f"{application.name}: access to your account",
        description=_description(application, organization),
        organization=organization,
    )
    event = record_app_decision(
        user=authorization.user,
        purpose=purpose,
        decision=Decision.GRANTED,
        details=_details(application, organization, scopes),
        actor=authorization.user,
    )
    assert event is not None  # a grant is always recorded
    authorization.consent_event = event
    authorization.save(update_fields=["consent_event", "updated_at"])
    return event


def record_ended(
    *, authorization: Authorization, ended_by: str, actor: Any = None
) -> ConsentEvent | None:
    """The app's access given through ``authorization`` ended: a withdrawal, if the ledger
    holds a grant for it. Call before deleting the authorization."""
    application, organization = authorization.application, authorization.organization
    purpose = Purpose.objects.filter(
        key=purpose_key(application), organization=organization, kind=Purpose.Kind.OAUTH_APP
    ).first()
    if purpose is None:
        return None
    details = {**_details(application, organization, authorization.scopes), "ended_by": ended_by}
    return record_app_decision(
        user=authorization.user,
        purpose=purpose,
        decision=Decision.WITHDRAWN,
        details=details,
        actor=actor,
    )


def record_all_ended(
    *, user: Any, ended_by: str, organization: Any = None, actor: Any = None
) -> int:
    """Every authorization of ``user`` (or those given for ``organization``) is about to go:
    a withdrawal for each the ledger holds a grant for. Returns how many were recorded.

    The person's lock first, then their authorization rows, as allowing and Remove access
    take them: an Allow that commits meanwhile is seen (and withdrawn), never lost."""
    lock_person(user)
    authorizations = (
        Authorization.objects.filter(user=user)
        .select_related("application", "organization", "user")
        .select_for_update(of=("self",))
    )
    if organization is not None:
        authorizations = authorizations.filter(organization=organization)
    return sum(
        record_ended(authorization=authorization, ended_by=ended_by, actor=actor) is not None
        for authorization in authorizations.order_by("pk")
    )
