"""SAML endpoints. allauth's views start the login and carry the POST across the SameSite
boundary; Gatehouse's finish the login, answer logout messages and serve SP metadata.

The finish view is a pipeline of named checks. Whatever the IdP (or an attacker) posts, the
answer is a login or a refusal that names the check that failed: never a 500, and nothing
written before every check has passed.
"""

from __future__ import annotations

import binascii
import logging
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.authentication import get_authentication_records
from allauth.account.internal.decorators import login_not_required
from allauth.core.internal import httpkit
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.saml import utils as allauth_saml
from allauth.socialaccount.providers.saml.views import SAMLViewMixin
from allauth.socialaccount.sessions import LoginSession
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from audit.actions import Action, Outcome
from audit.services import record
from sso import entry, logins
from sso.models import Connection
from sso.replay import ReplayCacheDown, first_use
from sso.saml.config import build_auth, identity_attributes, saml_settings
from sso.saml.response import check_name

logger = logging.getLogger(__name__)

# What python3-saml and lxml raise for input that is not a SAML message at all: bad base64
# (binascii.Error), not XML (XMLSyntaxError, a SyntaxError), a DTD (DTDForbidden, a ValueError).
# OneLogin_Saml2_ValidationError is not an OneLogin_Saml2_Error: both are listed.
MALFORMED = (
    binascii.Error,
    ValueError,
    SyntaxError,
    TypeError,
    OneLogin_Saml2_Error,
    OneLogin_Saml2_ValidationError,
)


class Refused(Exception):
    def __init__(self, check: str, reason: str = "") -> None:
        super().__init__(check)
        self.check = check
        self.reason = reason


@method_decorator(login_not_required, name="dispatch")
class FinishACSView(SAMLViewMixin, View):
    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        provider = self.get_provider(organization_slug)  # 404 for an unknown connection
        connection: Connection = provider.app.gatehouse_connection
        testing = entry.is_test(request, connection)
        if not (connection.is_active or testing):
            return render(request, "sso/unavailable.html", {"connection": connection}, status=404)
        details: dict[str, Any] = {}
        try:
            login = self.verified_login(request, provider, connection, details)
            if testing:
                entry.end_test(request)
                return logins.test_result(request, connection, login=login, details=details)
            logins.admit(request, connection, login)
        except Refused as refusal:
            if testing:
                entry.end_test(request)
                return logins.test_result(
                    request, connection, check=refusal.check, reason=refusal.reason, details=details
                )
            return logins.refuse_login(request, connection, refusal.check, refusal.reason)
        except logins.LoginRefused as refusal:
            return logins.refuse_login(request, connection, refusal.check, refusal.message)
        return complete_social_login(request, login)

    def verified_login(
        self, request: HttpRequest, provider: Any, connection: Connection, details: dict
    ) -> Any:
        acs_session = LoginSession(request, "saml_acs_session", "saml-acs-session")
        data = acs_session.store.get("request")
        acs_session.delete()
        if not data:
            raise Refused("acs_session_missing", "The sign-in took too long or cookies are off.")
        acs_request = httpkit.deserialize_request(data, HttpRequest())
        if not acs_request.POST.get("SAMLResponse"):
            raise Refused("malformed_response", "No SAMLResponse was posted.")
        try:
            auth = build_auth(acs_request, provider.app)
        except OneLogin_Saml2_Error as exc:  # e.g. no current IdP certificate any more
            raise Refused("configuration", str(exc)[:300]) from exc
        try:
            # InResponseTo is bound below, to a request id stashed in *this* session.
            auth.process_response(request_id=None)
        except MALFORMED as exc:
            raise Refused(check_name(exc), str(exc)[:300]) from exc
        if auth.get_errors():
            raise Refused(
                (auth.last_response.failed_check if auth.last_response else "")
                or "invalid_response",
                auth.get_last_error_reason() or "",
            )
        details["attributes"] = auth.get_attributes()
        details["nameid"] = auth.get_nameid()
        details["authn_contexts"] = auth.get_last_authn_contexts()
        if not auth.is_authenticated():
            raise Refused("not_authenticated")
        in_response_to = auth.get_last_response_in_response_to()
        details["idp_initiated"] = not in_response_to
        if not in_response_to and not connection.allow_idp_initiated:
            raise Refused(
                "idp_initiated_disabled", "IdP-initiated sign-in is off for this connection."
            )
        state: dict[str, Any] | None = None
        if in_response_to:
            try:
                state = provider.unstash_redirect_state(request, in_response_to)
            except PermissionDenied:
                raise Refused(
                    "in_response_to",
                    "This response answers a sign-in this browser did not start (or started "
                    "more than 10 minutes ago).",
                ) from None
        try:
            fresh = first_use(
                connection.pk,
                auth.get_last_assertion_id(),
                auth.get_last_assertion_not_on_or_after(),
            )
        except ReplayCacheDown:
            raise Refused("replay_cache_down", "Sign-in is briefly unavailable.") from None
        if not fresh:
            raise Refused("replayed", "This assertion was already used.")
        repeated = (
            auth.last_response.repeated_attributes(identity_attributes(provider.app))
            if auth.last_response is not None
            else []
        )
        if repeated:
            # allauth would take the first value; whoever ordered them would pick the account.
            raise Refused(
                "identity_attribute_repeated",
                f"The assertion gives {', '.join(repeated)} more than once (two Attribute "
                "elements or two values): it must name the person once.",
            )
        try:
            login = provider.sociallogin_from_response(request, auth)
        except (ValueError, TypeError, ImproperlyConfigured) as exc:  # no usable NameID
            raise Refused("subject", str(exc)[:300]) from exc
        if state is not None:
            login.state = state
        else:
            login.state["process"] = AuthProcess.LOGIN
            next_url = allauth_saml.decode_relay_state(acs_request.POST.get("RelayState"))
            if next_url:
                login.state["next"] = next_url
        login.state["process"] = AuthProcess.LOGIN
        login.state["gatehouse_idp_mfa"] = logins.idp_reported_mfa(connection, login, details)
        # What a LogoutRequest to the IdP must name later (sso.saml.logout.remember keeps it
        # in the session once the login completes).
        login.state["gatehouse_saml"] = {
            "name_id": auth.get_nameid(),
            "name_id_format": auth.get_nameid_format(),
            "name_id_nq": auth.get_nameid_nq(),
            "name_id_spnq": auth.get_nameid_spnq(),
            "session_index": auth.get_session_index(),
        }
        return login

    # allauth's ACS view posts here with a 302, and browsers follow it with a GET.
    http_method_names = ["get"]


finish_acs = FinishACSView.as_view()


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


def logout_refused(
    request: HttpRequest, connection: Connection, check: str, reason: str, status: int = 400
) -> HttpResponse:
    """A logout message Gatehouse will not act on: on record, and a page rather than a 500."""
    logger.warning("SAML logout refused on %s: %s %s", connection.slug, check, reason)
    record(
        Action.SSO_LOGOUT_REFUSED,
        actor=None,
        actor_text=connection.slug,
        organization=connection.organization,
        target=connection,
        outcome=Outcome.FAILURE,
        data={"connection": connection.slug, "check": check, "reason": reason[:200]},
    )
    return render(request, "sso/logout_failed.html", {"connection": connection}, status=status)


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
            auth = build_auth(request, provider.app, for_logout=True)
            # The session is ended below, once the request is known to be about this session.
            redirect_to = auth.process_slo(keep_local_session=True)
            named = None
            if auth.get_last_request_xml() and not auth.get_errors():
                named = OneLogin_Saml2_Logout_Request.get_nameid(
                    auth.get_last_request_xml(), auth.get_settings().get_sp_key()
                )
        except MALFORMED as exc:
            return logout_refused(request, connection, "malformed", type(exc).__name__)
        if auth.get_errors():
            return logout_refused(
                request, connection, "invalid", str(auth.get_last_error_reason() or "")
            )
        if auth.get_last_request_xml():
            try:
                stale = not fresh_logout_request(connection, auth.get_last_request_xml())
            except ReplayCacheDown:
                return logout_refused(request, connection, "replay_cache_unavailable", "", 503)
            if stale:
                return logout_refused(request, connection, "replayed_or_stale", "")
        if identity is not None and named is not None and named == identity:
            logins.end_sso_session(request, connection)
        # A LogoutResponse (the IdP's answer to a logout Gatehouse started) ends here. Not the
        # account adapter's logout URL: for a session still signed in through SAML that would
        # start another logout at the IdP, whose answer would come back here.
        return HttpResponseRedirect(
            redirect_to or resolve_url(account_settings.LOGOUT_REDIRECT_URL)
        )


sls = SLSView.as_view()


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
