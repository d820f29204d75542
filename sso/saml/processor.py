"""The checks a SAML response posted to a connection's ACS must pass, in order.

``ResponseProcessor.run`` calls its ``_verify_*`` methods one after the other, in the order of
the SAML step table (``sso.checks.Step``); each passes or raises the refusal of a named check.
python3-saml's own validation is one of them (strict mode, signatures, issuer, destination,
timestamps), its failures named after its error codes; the others are what python3-saml leaves
optional or does not know (audience required, bounded lifetime, InResponseTo bound to this
browser, replay, identity attributes given once). Nothing is written before every check passed.
"""

from __future__ import annotations

import binascii
import time
from typing import Any

from allauth.core.internal import httpkit
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.saml import utils as allauth_saml
from allauth.socialaccount.sessions import LoginSession
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError

from config.refusals import Refusal
from sso.admission import idp_reported_mfa
from sso.checks import Check, refused, saml_library_check
from sso.models import Connection
from sso.replay import ReplayCacheDown, first_use
from sso.saml.config import GatehouseAuth, build_auth, identity_attributes

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
# A bearer assertion must say when it stops being usable, and not in the far future: the
# replay cache keeps each assertion id until then.
MAX_ASSERTION_LIFETIME = 24 * 3600


class ResponseProcessor:
    """One ACS post through ``connection``: ``run`` returns the verified login or raises the
    refusal of the first check that failed. ``details`` collects what the IdP sent, for the
    "Test connection" page (filled in as far as the checks got)."""

    def __init__(self, request: HttpRequest, provider: Any, connection: Connection) -> None:
        self.request = request
        self.provider = provider
        self.connection = connection
        self.details: dict[str, Any] = {}
        self.posted = HttpRequest()
        self.auth: GatehouseAuth | None = None
        self.state: dict[str, Any] | None = None

    def run(self) -> Any:
        self._verify_acs_session()
        self._verify_posted_response()
        self._verify_configuration()
        self._verify_with_python3_saml()
        self._verify_audience()
        self._verify_lifetime()
        self._read_details()
        self._verify_authenticated()
        self._verify_in_response_to()
        self._verify_first_use()
        self._verify_identity_attributes()
        return self._verified_login()

    def _fail(self, check: Check, reason: str = "") -> Refusal:
        return refused(check, self.connection, reason)

    @property
    def _auth(self) -> GatehouseAuth:
        assert self.auth is not None  # set by _verify_configuration, the third check
        return self.auth

    # --- The response is well-formed ------------------------------------------------------------

    def _verify_acs_session(self) -> None:
        """allauth's ACS view kept the POST in this browser's session for the hop here."""
        acs_session = LoginSession(self.request, "saml_acs_session", "saml-acs-session")
        data = acs_session.store.get("request")
        acs_session.delete()
        if not data:
            raise self._fail(
                Check.ACS_SESSION_MISSING, "The sign-in took too long or cookies are off."
            )
        self.posted = httpkit.deserialize_request(data, HttpRequest())

    def _verify_posted_response(self) -> None:
        if not self.posted.POST.get("SAMLResponse"):
            raise self._fail(Check.MALFORMED_RESPONSE, "No SAMLResponse was posted.")

    def _verify_configuration(self) -> None:
        try:
            self.auth = build_auth(self.posted, self.provider.app)
        except OneLogin_Saml2_Error as exc:  # e.g. no current IdP certificate any more
            raise self._fail(Check.CONFIGURATION, str(exc)[:300]) from exc

    def _verify_with_python3_saml(self) -> None:
        """python3-saml's checks, strict: signature, issuer, destination, timestamps..."""
        auth = self._auth
        try:
            # InResponseTo is bound below, to a request id stashed in *this* session.
            auth.process_response(request_id=None)
        except MALFORMED as exc:
            raise self._fail(saml_library_check(exc), str(exc)[:300]) from exc
        if auth.get_errors():
            error = auth.last_response.validation_error if auth.last_response else None
            check = saml_library_check(error) if error is not None else Check.INVALID_RESPONSE
            raise self._fail(check, auth.get_last_error_reason() or "")

    # --- Meant for this connection, within its validity ---------------------------------------

    def _verify_audience(self) -> None:
        # python3-saml checks the audience only when the assertion names one: an assertion
        # without <Audience> would be good at every service provider the IdP trusts.
        response = self._auth.last_response
        audiences = response.get_audiences() if response is not None else []
        if not audiences:
            raise self._fail(
                Check.AUDIENCE_MISSING,
                "The assertion names no audience: it must name this connection.",
            )
        if audiences != [self._auth.get_settings().get_sp_data()["entityId"]]:
            raise self._fail(
                Check.WRONG_AUDIENCE,
                "The assertion must name this connection as its only audience.",
            )

    def _verify_lifetime(self) -> None:
        not_on_or_after = self._auth.get_last_assertion_not_on_or_after()
        if not_on_or_after is None or not_on_or_after - time.time() > MAX_ASSERTION_LIFETIME:
            raise self._fail(
                Check.NOT_ON_OR_AFTER_REQUIRED,
                "The assertion's SubjectConfirmationData must have a NotOnOrAfter at most "
                "24 hours ahead.",
            )

    def _read_details(self) -> None:
        auth = self._auth
        self.details["attributes"] = auth.get_attributes()
        self.details["nameid"] = auth.get_nameid()
        self.details["authn_contexts"] = auth.get_last_authn_contexts()

    def _verify_authenticated(self) -> None:
        if not self._auth.is_authenticated():
            raise self._fail(Check.NOT_AUTHENTICATED)

    # --- Answers a sign-in started here, seen once ---------------------------------------------

    def _verify_in_response_to(self) -> None:
        in_response_to = self._auth.get_last_response_in_response_to()
        self.details["idp_initiated"] = not in_response_to
        if not in_response_to:
            if not self.connection.allow_idp_initiated:
                raise self._fail(
                    Check.IDP_INITIATED_DISABLED,
                    "IdP-initiated sign-in is off for this connection.",
                )
            return
        try:
            self.state = self.provider.unstash_redirect_state(self.request, in_response_to)
        except PermissionDenied:
            raise self._fail(
                Check.IN_RESPONSE_TO,
                "This response answers a sign-in this browser did not start (or started more "
                "than 10 minutes ago).",
            ) from None

    def _verify_first_use(self) -> None:
        auth = self._auth
        try:
            fresh = first_use(
                self.connection.pk,
                auth.get_last_assertion_id(),
                auth.get_last_assertion_not_on_or_after(),
            )
        except ReplayCacheDown:
            raise self._fail(Check.REPLAY_CACHE_DOWN, "Sign-in is briefly unavailable.") from None
        if not fresh:
            raise self._fail(Check.REPLAYED, "This assertion was already used.")

    # --- Names the person once ------------------------------------------------------------------

    def _verify_identity_attributes(self) -> None:
        response = self._auth.last_response
        names = identity_attributes(self.provider.app)
        repeated = response.repeated_attributes(names) if response is not None else []
        if repeated:
            # allauth would take the first value; whoever ordered them would pick the account.
            raise self._fail(
                Check.IDENTITY_ATTRIBUTE_REPEATED,
                f"The assertion gives {', '.join(repeated)} more than once (two Attribute "
                "elements or two values): it must name the person once.",
            )

    def _verified_login(self) -> Any:
        auth = self._auth
        try:
            login = self.provider.sociallogin_from_response(self.request, auth)
        except (ValueError, TypeError, ImproperlyConfigured) as exc:  # no usable NameID
            raise self._fail(Check.SUBJECT, str(exc)[:300]) from exc
        if self.state is not None:
            login.state = self.state
        else:
            next_url = allauth_saml.decode_relay_state(self.posted.POST.get("RelayState"))
            if next_url:
                login.state["next"] = next_url
        login.state["process"] = AuthProcess.LOGIN
        login.state["gatehouse_idp_mfa"] = idp_reported_mfa(self.connection, login, self.details)
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
