"""An organization's own backends: M2M apps bound to one organization, made by its admins on
the portal's Applications tab, with permissions on Gatehouse's management API only.

Each function checks the member's permission and looks the app up ``for_org(org)`` (reads),
then makes one call to a service of ``provider.services.applications``, which owns the
transaction and the audit event. A refused access is an ``org.access_denied`` refusal (403),
another organization's app a 404, exactly as on the portal's other tabs.
"""

from __future__ import annotations

from datetime import timedelta

from config.refusals import NotFound, Refusal
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from organizations.services.guards import require
from provider.management_api import PERMISSIONS, management_api
from provider.models import Application, ApplicationKind
from provider.services import applications

# What an org admin may choose as the overlap of a rotated secret.
OVERLAPS = {
    "0": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}


def org_applications(org: Organization) -> list[Application]:
    return list(
        Application.objects.for_org(org)
        .filter(kind=ApplicationKind.M2M)
        .prefetch_related("api_access")
        .order_by("name", "pk")
    )


def org_application(org: Organization, application_id: int) -> Application:
    """One of ``org``'s apps, or a 404 (another organization's app does not exist here)."""
    app = Application.objects.for_org(org).filter(pk=application_id).first()
    if app is None:
        raise NotFound("No such application.")
    return app


def create_org_application(
    *, actor: Membership, org: Organization, name: str, permissions: list[str]
) -> applications.Registered:
    """An M2M app bound to ``org`` that may ask for ``permissions`` of the management API."""
    require(actor, org, Perm.MANAGE_APPLICATIONS, "create application")
    chosen = list(dict.fromkeys(permissions))
    unknown = [p for p in chosen if p not in PERMISSIONS]
    if unknown:
        raise Refusal(f"Unknown permissions: {', '.join(unknown)}.")
    if not chosen:
        raise Refusal("Choose at least one permission.")
    return applications.create_application(
        actor=actor.user,
        name=name,
        kind=ApplicationKind.M2M,
        organization=org,
        apis={management_api(): chosen},
    )


def rotate_org_secret(
    *, actor: Membership, org: Organization, application_id: int, overlap: str
) -> tuple[Application, str]:
    require(actor, org, Perm.MANAGE_APPLICATIONS, "rotate application secret")
    app = org_application(org, application_id)
    if overlap not in OVERLAPS:
        raise Refusal("Choose how long the old secret keeps working.")
    secret = applications.rotate_client_secret(
        actor=actor.user, application=app, overlap=OVERLAPS[overlap]
    )
    return app, secret


def set_org_app_disabled(
    *, actor: Membership, org: Organization, application_id: int, disabled: bool, reason: str
) -> Application:
    require(actor, org, Perm.MANAGE_APPLICATIONS, "disable application")
    app = org_application(org, application_id)
    applications.set_disabled(actor=actor.user, application=app, disabled=disabled, reason=reason)
    app.refresh_from_db(fields=["disabled_at"])
    return app
