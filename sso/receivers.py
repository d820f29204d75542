"""Audit of successful SSO logins (allauth's user_logged_in carries the social login)."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import user_logged_in
from django.dispatch import receiver

from sso.models import connection_of
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
