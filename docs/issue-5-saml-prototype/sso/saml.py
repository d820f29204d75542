"""LAB PROTOTYPE: Gatehouse's SAML ACS on top of allauth's SAML provider and python3-saml.

allauth keeps: the provider (attribute mapping, SocialLogin), LoginView (signed AuthnRequest,
request id stashed in the session as state), ACSView (POST -> cookie hop), complete_social_login.
Gatehouse owns: how python3-saml is configured (several IdP certificates), the extra named
checks python3-saml does not make, the replay cache, the IdP-initiated policy, and never a 500.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import time

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.helpers import complete_social_login, render_authentication_error
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.saml import utils as allauth_saml
from allauth.socialaccount.providers.saml.views import SAMLViewMixin
from allauth.socialaccount.sessions import LoginSession
from allauth.core.internal import httpkit
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils

logger = logging.getLogger(__name__)
MAX_ASSERTION_LIFETIME = 24 * 3600


class GatehouseResponse(OneLogin_Saml2_Response):
    """python3-saml's checks, then the ones it leaves optional."""

    def is_valid(self, request_data, request_id=None, raise_exceptions=False):
        if not super().is_valid(request_data, request_id, raise_exceptions):
            return False
        try:
            sp_entity_id = self._settings.get_sp_data()["entityId"]
            # python3-saml checks the audience only when one is present.
            if self.get_audiences() != [sp_entity_id]:
                raise OneLogin_Saml2_ValidationError(
                    "audience_required", OneLogin_Saml2_ValidationError.WRONG_AUDIENCE
                )
            # ...and accepts a bearer assertion without NotOnOrAfter for ever.
            nooa = self.get_assertion_not_on_or_after()
            if nooa is None or nooa - time.time() > MAX_ASSERTION_LIFETIME:
                raise OneLogin_Saml2_ValidationError(
                    "not_on_or_after_required", OneLogin_Saml2_ValidationError.WRONG_SUBJECTCONFIRMATION
                )
        except OneLogin_Saml2_ValidationError as e:
            self._error = str(e)
            if raise_exceptions:
                raise
            return False
        return True


class GatehouseAuth(OneLogin_Saml2_Auth):
    response_class = GatehouseResponse


def build_auth(request: HttpRequest, app, *, for_logout: bool = False) -> GatehouseAuth:
    config = allauth_saml.build_saml_config(request, app.settings, app.client_id)
    certs = app.gatehouse_connection.idp_certificates
    # Rotation: python3-saml accepts a signature by any of these (allauth passes only one).
    config["idp"]["x509certMulti"] = {"signing": list(certs)}
    if for_logout:
        # Only on the SLS: an unsigned LogoutRequest would let any page log users out.
        config["security"]["wantMessagesSigned"] = True
    return GatehouseAuth(allauth_saml.prepare_django_request(request), config)


def first_use(connection_id: int, assertion_id: str, not_on_or_after: int) -> bool:
    """True once per assertion: an atomic add that lives until the assertion expires."""
    ttl = int(not_on_or_after - time.time()) + OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT
    key = f"sso:saml:seen:{connection_id}:{hashlib.sha256(assertion_id.encode()).hexdigest()}"
    return cache.add(key, 1, timeout=max(ttl, 1))


class FinishACSView(SAMLViewMixin, View):
    def fail(self, provider, code: str, reason: str = "") -> HttpResponse:
        logger.warning("SAML ACS refused: %s %s", code, reason)
        return render_authentication_error(
            self.request, provider,
            extra_context={"saml_errors": [code], "saml_last_error_reason": reason},
        )

    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        provider = self.get_provider(organization_slug)  # 404 for unknown/inactive connections
        conn = provider.app.gatehouse_connection
        acs_session = LoginSession(request, "saml_acs_session", "saml-acs-session")
        data = acs_session.store.get("request")
        acs_session.delete()
        if not data:
            return self.fail(provider, "acs_session_missing")
        acs_request = httpkit.deserialize_request(data, HttpRequest())
        try:
            auth = build_auth(acs_request, provider.app)
            # InResponseTo is bound below, to a request id stashed in *this* session.
            auth.process_response(request_id=None)
        except (binascii.Error, ValueError, SyntaxError, OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as e:
            # XMLSyntaxError is a SyntaxError; DTDForbidden a ValueError; ValidationError (e.g. no
            # NameID with wantNameId) is NOT an OneLogin_Saml2_Error.
            return self.fail(provider, "invalid_response", str(e))
        if auth.get_errors():
            return self.fail(provider, ",".join(auth.get_errors()), auth.get_last_error_reason())
        if not auth.is_authenticated():
            return self.fail(provider, "not_authenticated")
        in_response_to = auth.get_last_response_in_response_to()
        if not in_response_to and not conn.allow_idp_initiated:
            return self.fail(provider, "idp_initiated_disabled")
        if not first_use(conn.pk, auth.get_last_assertion_id(), auth.get_last_assertion_not_on_or_after()):
            return self.fail(provider, "replayed")
        try:
            login = provider.sociallogin_from_response(request, auth)
        except (ValueError, ImproperlyConfigured) as e:  # no usable NameID/uid, too long...
            return self.fail(provider, "bad_subject", str(e))
        if in_response_to:
            try:
                login.state = provider.unstash_redirect_state(request, in_response_to)
            except PermissionDenied:
                return self.fail(provider, "unknown_in_response_to")
        else:
            login.state["process"] = AuthProcess.LOGIN
            next_url = allauth_saml.decode_relay_state(acs_request.POST.get("RelayState"))
            if next_url:
                login.state["next"] = next_url
        return complete_social_login(request, login)


finish_acs = login_not_required(FinishACSView.as_view())


class SLSView(SAMLViewMixin, View):
    """allauth's SLS, but a LogoutRequest/LogoutResponse must be signed, and bad input is a 400."""

    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        from allauth.account.adapter import get_adapter as get_account_adapter
        from django.http import HttpResponseRedirect

        provider = self.get_provider(organization_slug)
        if not provider.app.gatehouse_connection.idp_slo_url:
            return HttpResponse("Single logout is not set up.", status=404, content_type="text/plain")
        adapter = get_account_adapter(request)
        try:
            auth = build_auth(request, provider.app, for_logout=True)
            redirect_to = auth.process_slo(
                delete_session_cb=lambda: adapter.logout(request),
                keep_local_session=not request.user.is_authenticated,
            )
        except (binascii.Error, ValueError, SyntaxError, OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as e:
            # XMLSyntaxError is a SyntaxError; DTDForbidden a ValueError; ValidationError (e.g. no
            # NameID with wantNameId) is NOT an OneLogin_Saml2_Error.
            logger.warning("SAML SLS refused: %s", e)
            return HttpResponse("Invalid logout message.", status=400, content_type="text/plain")
        if auth.get_errors():
            logger.warning("SAML SLS refused: %s", auth.get_last_error_reason())
            return HttpResponse("Invalid logout message.", status=400, content_type="text/plain")
        return HttpResponseRedirect(redirect_to or adapter.get_logout_redirect_url(request))


sls = csrf_exempt(login_not_required(SLSView.as_view()))
