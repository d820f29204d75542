"""SAML endpoints. allauth's views start the login and carry the POST across the SameSite
boundary; Gatehouse's finish the login, answer logout messages and serve SP metadata.

Whatever the IdP (or an attacker) posts, the finish view answers with a login or a refusal
that names the check that failed (``sso.saml.processor``): never a 500, and nothing written
before every check has passed. A login's writes then commit together, in one transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.authentication import get_authentication_records
from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.providers.saml.views import SAMLViewMixin
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from config.refusals import Refusal, refusal_page
from sso import admission, entry
from sso.checks import Check, logout_refused
from sso.diagnostics import answer_refusal, connection_test_result
from sso.models import Connection
from sso.replay import ReplayCacheDown, first_use
from sso.saml.config import GatehouseAuth, build_auth, saml_settings
from sso.saml.processor import MALFORMED, ResponseProcessor
from sso.services import logins
from sso.services.logins import record_sso_logout

logger = logging.getLogger(__name__)


@method_decorator(login_not_required, name="dispatch")
class FinishACSView(SAMLViewMixin, View):
    # allauth's ACS view posts here with a 302, and browsers follow it with a GET.
    http_method_names = ["get"]

    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        provider = self.get_provider(organization_slug)  # 404 for an unknown connection
        connection: Connection = provider.app.gatehouse_connection
        testing = entry.is_test(request, connection)
        if not (connection.is_active or testing):
            return render(request, "sso/unavailable.html", {"connection": connection}, status=404)
        processor = ResponseProcessor(request, provider, connection)
        try:
            login = processor.run()
            if testing:
                entry.end_test(request)
                return connection_test_result(
                    request, connection, login=login, details=processor.details
                )
            admission.admit(request, connection, login)
            logins.carry_admission(login)
            # The login's writes (account, identity, membership, their audit events) commit
            # together; a refusal on the way rolls them back and is recorded on its own.
            with transaction.atomic():
                return complete_social_login(request, login)
        except Refusal as refusal:
            return answer_refusal(request, connection, refusal, details=processor.details)


finish_acs = FinishACSView.as_view()


# --- Single logout started by the IdP ---------------------------------------------------------


def session_identity(request: HttpRequest, connection: Connection) -> str | None:
    """The subject this browser's session signed in as through this connection, if it did.

    allauth keeps a record of how the current session authenticated; a session that came in
    by password, or through another connection, is not this IdP's to end.
    """
    user = request.user
    if not user.is_authenticated:
        return None
    for rec in reversed(get_authentication_records(request, user)):
        if rec.get("method") == "socialaccount" and rec.get("provider") == connection.slug:
            return str(rec.get("uid"))
    return None


# How old a LogoutRequest may be (from its IssueInstant). python3-saml checks NotOnOrAfter only
# when the IdP sends one, and nothing stops a captured request from being played again.
LOGOUT_REQUEST_MAX_AGE = 300


def fresh_logout_request(connection: Connection, xml: str) -> bool:
    """A signed LogoutRequest is honoured once, and only within a few minutes of being issued:
    its ID goes into the replay cache for as long as it would be accepted."""
    root = OneLogin_Saml2_XML.to_etree(xml)
    request_id, issued = root.get("ID"), root.get("IssueInstant")
    if not request_id or not issued:
        return False
    drift = OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT
    issued_at = OneLogin_Saml2_Utils.parse_SAML_to_time(issued)
    now = OneLogin_Saml2_Utils.now()
    if issued_at > now + drift or issued_at + LOGOUT_REQUEST_MAX_AGE < now - drift:
        return False
    return first_use(connection.pk, f"logout:{request_id}", issued_at + LOGOUT_REQUEST_MAX_AGE)


def _verified_logout(
    request: HttpRequest, provider: Any, connection: Connection
) -> tuple[GatehouseAuth, str | None, str | None]:
    """The processed logout message, where to go next, and the subject a LogoutRequest names;
    or the refusal of the check it failed (signed, valid, fresh, used once)."""
    try:
        auth = build_auth(request, provider.app, for_logout=True)
        # The session is ended by the caller, once the request is known to be about it.
        redirect_to = auth.process_slo(keep_local_session=True)
        named = None
        if auth.get_last_request_xml() and not auth.get_errors():
            named = OneLogin_Saml2_Logout_Request.get_nameid(
                auth.get_last_request_xml(), auth.get_settings().get_sp_key()
            )
    except MALFORMED as exc:
        raise logout_refused(Check.MALFORMED, connection, type(exc).__name__) from exc
    if auth.get_errors():
        raise logout_refused(Check.INVALID, connection, str(auth.get_last_error_reason() or ""))
    if auth.get_last_request_xml():
        try:
            stale = not fresh_logout_request(connection, auth.get_last_request_xml())
        except ReplayCacheDown:
            raise logout_refused(Check.REPLAY_CACHE_UNAVAILABLE, connection, status=503) from None
        if stale:
            raise logout_refused(Check.REPLAYED_OR_STALE, connection)
    return auth, redirect_to, named


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class SLSView(SAMLViewMixin, View):
    """Single logout from the IdP: a signed LogoutRequest or LogoutResponse, nothing else.

    A valid LogoutRequest ends this browser's session only when the session came in through
    this connection as the person the request names.
    """

    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        provider = self.get_provider(organization_slug)
        connection: Connection = provider.app.gatehouse_connection
        if not connection.idp_slo_url:
            return render(request, "sso/logout_failed.html", {"connection": connection}, status=404)
        identity = session_identity(request, connection)
        try:
            _, redirect_to, named = _verified_logout(request, provider, connection)
        except Refusal as refusal:
            logger.warning(
                "SAML logout refused on %s: %s %s", connection.slug, refusal.code, refusal.message
            )
            return refusal_page(
                request,
                refusal,
                template="sso/logout_failed.html",
                context={"connection": connection},
            )
        if identity is not None and named is not None and named == identity:
            if request.user.is_authenticated:
                record_sso_logout(connection, request.user)
            get_account_adapter(request).logout(request)
        # A LogoutResponse (the IdP's answer to a logout Gatehouse started) ends here. Not the
        # account adapter's logout URL: for a session still signed in through SAML that would
        # start another logout at the IdP, whose answer would come back here.
        return HttpResponseRedirect(
            redirect_to or resolve_url(account_settings.LOGOUT_REDIRECT_URL)
        )


sls = SLSView.as_view()


# --- Gatehouse's SP metadata ------------------------------------------------------------------


@method_decorator(login_not_required, name="dispatch")
class MetadataView(SAMLViewMixin, View):
    """The SP metadata an IdP imports: entity id, ACS and SLS URLs, Gatehouse's certificate."""

    http_method_names = ["get", "head"]

    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        provider = self.get_provider(organization_slug)
        config = saml_settings(request, provider.app)
        # The finish view decrypts an encrypted assertion whenever one comes; the certificate
        # is published for encryption too, or an IdP that encrypts would have no key to use.
        config["security"]["wantAssertionsEncrypted"] = True
        try:
            settings = OneLogin_Saml2_Settings(settings=config, sp_validation_only=True)
            metadata = settings.get_sp_metadata()
            errors = settings.validate_metadata(metadata)
        except MALFORMED as exc:
            errors = [str(exc)]
        if errors:
            logger.warning("SP metadata of %s not valid: %s", organization_slug, errors)
            return HttpResponse(
                "This connection's service-provider settings are incomplete.",
                status=409,
                content_type="text/plain",
            )
        response = HttpResponse(metadata, content_type="application/samlmetadata+xml")
        if request.GET.get("download"):
            response["Content-Disposition"] = (
                f'attachment; filename="gatehouse-{organization_slug}-metadata.xml"'
            )
        return response


metadata = MetadataView.as_view()
