"""Single logout started at Gatehouse: signing out of a session that came through a SAML
connection also signs the person out at the IdP (a signed LogoutRequest naming the NameID
and SessionIndex the IdP gave at login). Logouts the IdP starts arrive at the SLS view."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from sso.models import Connection, Status

logger = logging.getLogger(__name__)
SESSION_KEY = "gatehouse_saml_session"


def remember(request: HttpRequest, connection: Connection, state: dict) -> None:
    """At login: what the IdP needs to hear to end its own session later."""
    saml = state.get("gatehouse_saml") if isinstance(state, dict) else None
    if connection.is_saml and isinstance(saml, dict) and connection.idp_slo_url:
        request.session[SESSION_KEY] = {"slug": connection.slug, **saml}


def forget(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def idp_logout_url(request: HttpRequest) -> str | None:
    """Where to send the browser after Gatehouse's own logout, if the IdP should hear of it."""
    info: Any = request.session.get(SESSION_KEY)
    if not isinstance(info, dict):
        return None
    connection = (
        Connection.objects.filter(slug=info.get("slug"), status=Status.ACTIVE)
        .exclude(idp_slo_url="")
        .first()
    )
    if connection is None:
        return None
    from sso.adapter import social_app
    from sso.saml.config import build_auth

    try:
        auth = build_auth(request, social_app(connection))
        return auth.logout(
            return_to=request.build_absolute_uri(reverse("account_login")),
            name_id=info.get("name_id"),
            session_index=info.get("session_index"),
            name_id_format=info.get("name_id_format"),
            nq=info.get("name_id_nq"),
            spnq=info.get("name_id_spnq"),
        )
    except Exception:  # a broken connection must never stop the local logout
        logger.exception("could not build a SAML LogoutRequest for %s", connection.slug)
        return None
