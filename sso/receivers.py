"""Audit of successful SSO logins (allauth's user_logged_in carries the social login), and the
end of cached connections whose configuration a write changes (``sso.connection_cache``)."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from organizations.models import Domain, Organization
from sso import connection_cache
from sso.models import Connection, IdPCertificate, connection_of
from sso.services import logins


@receiver(user_logged_in, dispatch_uid="sso_audit_login")
def audit_sso_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is None:
        return
    connection = connection_of(sociallogin)
    if connection is None:
        return
    from sso.saml.logout import remember

    state = sociallogin.state or {}
    logins.confirm_identity(sociallogin, user)
    remember(request, connection, state)
    logins.record_success(connection, user, idp_mfa=bool(state.get("gatehouse_idp_mfa")))


# --- What a cached connection holds changed ---------------------------------------------------


def _slugs_of_organization(organization_id: Any) -> list[str]:
    return list(
        Connection.objects.filter(organization_id=organization_id).values_list("slug", flat=True)
    )


@receiver(post_save, sender=Connection, dispatch_uid="sso_connection_saved")
@receiver(post_delete, sender=Connection, dispatch_uid="sso_connection_deleted")
def connection_changed(sender: Any, instance: Connection, **kwargs: Any) -> None:
    connection_cache.invalidate([instance.slug])


@receiver(post_save, sender=IdPCertificate, dispatch_uid="sso_certificate_saved")
@receiver(post_delete, sender=IdPCertificate, dispatch_uid="sso_certificate_deleted")
def certificate_changed(sender: Any, instance: IdPCertificate, **kwargs: Any) -> None:
    slugs = Connection.objects.filter(pk=instance.connection_id).values_list("slug", flat=True)
    connection_cache.invalidate(list(slugs))


@receiver(m2m_changed, sender=Connection.domains.through, dispatch_uid="sso_domains_changed")
def connection_domains_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, Connection):
        connection_cache.invalidate([instance.slug])
    else:  # a domain's connections changed (the reverse side)
        connection_cache.invalidate(_slugs_of_organization(instance.organization_id))


@receiver(post_save, sender=Domain, dispatch_uid="sso_domain_saved")
@receiver(post_delete, sender=Domain, dispatch_uid="sso_domain_deleted")
def domain_changed(sender: Any, instance: Domain, **kwargs: Any) -> None:
    # Whether it is verified decides whom the organization's connections may sign in.
    connection_cache.invalidate(_slugs_of_organization(instance.organization_id))


@receiver(post_save, sender=Organization, dispatch_uid="sso_organization_saved")
@receiver(post_delete, sender=Organization, dispatch_uid="sso_organization_deleted")
def organization_changed(sender: Any, instance: Organization, **kwargs: Any) -> None:
    connection_cache.invalidate(_slugs_of_organization(instance.pk))
