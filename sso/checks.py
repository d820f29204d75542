"""Every check an SSO sign-in (or an IdP's logout message) must pass, in one enumeration.

A check has a name (``Check.WRONG_AUDIENCE.code == "wrong_audience"``: what the audit log,
the refusal page and "Test connection" show), the step it belongs to in each flow, and a
message that tells the organization's IT admin what it means on their side. The step table
"Test connection" shows is derived from here (``steps``), so a check cannot fail without a
step to show it in, and the checks raised anywhere are members of ``Check``, never strings.

A failed check is a ``config.refusals.Refusal`` (``refused``): its ``code`` is the check's
name, and it carries the audit event of the refused sign-in (or logout message).
"""

from __future__ import annotations

import enum

from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError

from audit.actions import Action
from config.refusals import Refusal
from sso.models import Connection

SAML = "saml"
OIDC = "oidc"
SAML_LOGOUT = "saml_logout"


class Step(enum.Enum):
    """The steps of each flow, in the order a sign-in meets them."""

    def __init__(self, flows: frozenset[str], label: str) -> None:
        self.flows = flows
        self.label = label

    SAML_FORMAT = (frozenset({SAML}), "The response is well-formed SAML 2.0")
    SAML_SIGNATURE = (frozenset({SAML}), "Signed by one of the IdP's certificates, with SHA-256")
    SAML_AUDIENCE = (
        frozenset({SAML}),
        "Meant for this connection (issuer, audience, destination, recipient)",
    )
    SAML_VALIDITY = (frozenset({SAML}), "Within its validity period")
    SAML_REQUEST = (
        frozenset({SAML}),
        "Answers a sign-in started here (or IdP-initiated sign-in is allowed)",
    )
    SAML_REPLAY = (frozenset({SAML}), "Not seen before (replay protection)")
    SAML_SUBJECT = (
        frozenset({SAML}),
        "Names the person once (NameID; email and name attributes neither repeated nor "
        "multi-valued)",
    )
    OIDC_DISCOVERY = (frozenset({OIDC}), "The IdP's discovery document is readable")
    OIDC_SIGN_IN = (frozenset({OIDC}), "The person signed in at the IdP")
    OIDC_TOKEN = (frozenset({OIDC}), "The code was exchanged for an ID token")
    OIDC_SIGNATURE = (
        frozenset({OIDC}),
        "The ID token is signed with the configured algorithm and an IdP key",
    )
    OIDC_AUDIENCE = (frozenset({OIDC}), "Issued by this IdP for this client")
    OIDC_VALIDITY = (frozenset({OIDC}), "Within its validity period")
    OIDC_NONCE = (frozenset({OIDC}), "The nonce matches this sign-in")
    OIDC_SUBJECT = (frozenset({OIDC}), "Names the person; userinfo agrees")
    ACCOUNT_RULES = (
        frozenset({SAML, OIDC}),
        "Gatehouse's account rules (domain, new accounts, removed members)",
    )
    SAML_LOGOUT = (
        frozenset({SAML_LOGOUT}),
        "A logout message from the IdP is signed, fresh and used only once",
    )


_F, _SIG, _AUD, _VAL = Step.SAML_FORMAT, Step.SAML_SIGNATURE, Step.SAML_AUDIENCE, Step.SAML_VALIDITY


class Check(enum.Enum):
    """Each check: the steps it fails (one per flow it is part of) and its meaning for the IT
    admin. SAML checks python3-saml makes carry the name of its error constant
    (``OneLogin_Saml2_ValidationError.WRONG_AUDIENCE`` is ``WRONG_AUDIENCE``)."""

    def __init__(self, steps: Step | tuple[Step, ...], message: str) -> None:
        self.steps: tuple[Step, ...] = steps if isinstance(steps, tuple) else (steps,)
        self.message = message

    @property
    def code(self) -> str:
        """The check's name, as recorded and shown."""
        return self.name.lower()

    # --- SAML: the response is well-formed ---------------------------------------------------
    ACS_SESSION_MISSING = (
        _F,
        "The browser came back without the sign-in it started: it took too long, or cookies are "
        "blocked.",
    )
    MALFORMED_RESPONSE = (_F, "What was posted is not a SAML response (not base64 or not XML).")
    INVALID_RESPONSE = (_F, "The IdP's answer is not a valid SAML response.")
    CONFIGURATION = (
        (_F, Step.OIDC_DISCOVERY),
        "The connection's settings do not make a usable configuration (an IdP certificate that "
        "expired, say): review the connection.",
    )
    UNSUPPORTED_SAML_VERSION = (_F, "The response is not SAML 2.0.")
    MISSING_ID = (_F, "The response has no ID.")
    WRONG_NUMBER_OF_ASSERTIONS = (_F, "The response must hold exactly one assertion.")
    MISSING_STATUS = (_F, "The response has no Status.")
    MISSING_STATUS_CODE = (_F, "The response's Status has no StatusCode.")
    STATUS_CODE_IS_NOT_SUCCESS = (
        _F,
        "The IdP answered with an error status instead of signing the person in.",
    )
    INVALID_XML_FORMAT = (_F, "The response does not follow the SAML 2.0 schema.")
    WRONG_NUMBER_OF_AUTHSTATEMENTS = (_F, "The assertion must hold one AuthnStatement.")
    NO_ATTRIBUTESTATEMENT = (_F, "The assertion has no AttributeStatement.")
    ENCRYPTED_ATTRIBUTES = (_F, "Encrypted attributes are not supported: send them in clear.")
    AUTHN_CONTEXT_MISMATCH = (_F, "The authentication context is not the one requested.")
    NOT_AUTHENTICATED = (_F, "The IdP's response does not sign the person in.")

    # --- SAML: signed with a current IdP certificate -------------------------------------------
    INVALID_SIGNATURE = (
        _SIG,
        "The signature does not verify with any current IdP certificate of the connection: add "
        "the certificate the IdP signs with now.",
    )
    NO_SIGNED_ASSERTION = (_SIG, "The assertion must be signed.")
    NO_SIGNED_MESSAGE = (_SIG, "The message must be signed.")
    NO_SIGNATURE_FOUND = (_SIG, "No signature was found.")
    WRONG_SIGNED_ELEMENT = (_SIG, "The signature covers an element it should not.")
    ID_NOT_FOUND_IN_SIGNED_ELEMENT = (_SIG, "The signed element has no ID.")
    DUPLICATED_ID_IN_SIGNED_ELEMENTS = (_SIG, "Two signed elements share one ID.")
    INVALID_SIGNED_ELEMENT = (_SIG, "A signed element is not a Response or an Assertion.")
    DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS = (_SIG, "A signature references one element twice.")
    UNEXPECTED_SIGNED_ELEMENTS = (_SIG, "Elements are signed that should not be.")
    WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE = (_SIG, "The response carries several signatures.")
    WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION = (_SIG, "The assertion carries several signatures.")
    WRONG_NUMBER_OF_SIGNATURES = (_SIG, "The message carries the wrong number of signatures.")
    DEPRECATED_SIGNATURE_METHOD = (
        _SIG,
        "The IdP signs with a deprecated algorithm (SHA-1): configure it to sign with SHA-256.",
    )
    DEPRECATED_DIGEST_METHOD = (
        _SIG,
        "The IdP digests with a deprecated algorithm (SHA-1): configure it to use SHA-256.",
    )
    NO_ENCRYPTED_ASSERTION = (_SIG, "The assertion was expected encrypted.")
    NO_ENCRYPTED_NAMEID = (_SIG, "The NameID was expected encrypted.")
    KEYINFO_NOT_FOUND_IN_ENCRYPTED_DATA = (_SIG, "The encrypted assertion names no key.")
    CHILDREN_NODE_NOT_FOUND_IN_KEYINFO = (_SIG, "The encrypted assertion's KeyInfo is empty.")
    UNSUPPORTED_RETRIEVAL_METHOD = (_SIG, "The encrypted key is referenced in an unsupported way.")

    # --- SAML: meant for this connection -------------------------------------------------------
    WRONG_ISSUER = (_AUD, "The issuer is not the connection's IdP entity ID.")
    ISSUER_MULTIPLE_IN_RESPONSE = (_AUD, "The response names several issuers.")
    ISSUER_NOT_FOUND_IN_ASSERTION = (_AUD, "The assertion names no issuer.")
    WRONG_AUDIENCE = (
        _AUD,
        "The assertion's Audience must be the connection's entity ID, and only it.",
    )
    AUDIENCE_MISSING = (_AUD, "The assertion names no Audience: it must name this connection.")
    WRONG_DESTINATION = (_AUD, "The response's Destination is not this connection's ACS URL.")
    EMPTY_DESTINATION = (_AUD, "The response's Destination is empty.")
    WRONG_SUBJECTCONFIRMATION = (
        _AUD,
        "No bearer SubjectConfirmation names this connection's ACS URL as its Recipient.",
    )
    SP_NAME_QUALIFIER_NAME_MISMATCH = (_AUD, "The NameID's SPNameQualifier names another SP.")

    # --- SAML: within its validity period ------------------------------------------------------
    ASSERTION_EXPIRED = (_VAL, "The assertion has expired: check the IdP's clock.")
    ASSERTION_TOO_EARLY = (_VAL, "The assertion is not valid yet: check the IdP's clock.")
    RESPONSE_EXPIRED = (_VAL, "The response has expired.")
    SESSION_EXPIRED = (_VAL, "The IdP session the assertion names has expired.")
    MISSING_CONDITIONS = (_VAL, "The assertion has no Conditions.")
    NOT_ON_OR_AFTER_REQUIRED = (
        _VAL,
        "The SubjectConfirmationData must say when the assertion stops being usable "
        "(NotOnOrAfter), at most 24 hours ahead.",
    )

    # --- SAML: answers a sign-in started here --------------------------------------------------
    IN_RESPONSE_TO = (
        Step.SAML_REQUEST,
        "The response answers a sign-in this browser did not start, or started more than 10 "
        "minutes ago.",
    )
    WRONG_INRESPONSETO = (Step.SAML_REQUEST, "InResponseTo names another request.")
    IDP_INITIATED_DISABLED = (
        Step.SAML_REQUEST,
        "The IdP started this sign-in, and IdP-initiated sign-in is off for this connection.",
    )

    # --- SAML: not seen before -----------------------------------------------------------------
    REPLAYED = (Step.SAML_REPLAY, "This assertion was already used.")
    REPLAY_CACHE_DOWN = (
        Step.SAML_REPLAY,
        "Gatehouse could not check the assertion against those already used: try again shortly.",
    )

    # --- SAML and OIDC: names the person once --------------------------------------------------
    SUBJECT = (
        (Step.SAML_SUBJECT, Step.OIDC_SUBJECT),
        "The subject (SAML NameID, OIDC sub) is missing, empty or too long.",
    )
    NO_NAMEID = (Step.SAML_SUBJECT, "The assertion has no NameID.")
    EMPTY_NAMEID = (Step.SAML_SUBJECT, "The assertion's NameID is empty.")
    IDENTITY_ATTRIBUTE_REPEATED = (
        Step.SAML_SUBJECT,
        "The email or name attribute comes twice, or with several values: it must name the "
        "person once.",
    )
    DUPLICATED_ATTRIBUTE_NAME_FOUND = (Step.SAML_SUBJECT, "An attribute name comes twice.")

    # --- OIDC ----------------------------------------------------------------------------------
    DISCOVERY = (Step.OIDC_DISCOVERY, "The IdP's discovery document could not be read or used.")
    IDP_UNREACHABLE = (Step.OIDC_DISCOVERY, "The IdP could not be reached.")
    CANCELLED = (Step.OIDC_SIGN_IN, "The person cancelled the sign-in at the IdP.")
    IDP_ERROR = (Step.OIDC_SIGN_IN, "The IdP answered with an error instead of a code.")
    STATE = (
        Step.OIDC_SIGN_IN,
        "The answer belongs to a sign-in this browser did not start, already finished, or "
        "started more than 10 minutes ago.",
    )
    PERMISSION_DENIED = (Step.OIDC_SIGN_IN, "The sign-in was refused on its way back from the IdP.")
    PROVIDER_ERROR = (Step.OIDC_SIGN_IN, "The IdP's answer could not be used.")
    TOKEN_EXCHANGE = (
        Step.OIDC_TOKEN,
        "The IdP refused to exchange the code for tokens: check the client ID, the client secret "
        "and how Gatehouse authenticates to the token endpoint.",
    )
    ID_TOKEN_MISSING = (Step.OIDC_TOKEN, "The token response has no ID token.")
    SIGNATURE = (Step.OIDC_SIGNATURE, "The ID token's signature does not verify.")
    SIGNING_KEY = (Step.OIDC_SIGNATURE, "No key in the IdP's key set (JWKS) fits the ID token.")
    JWKS = (Step.OIDC_SIGNATURE, "The IdP's key set (JWKS) could not be read.")
    ALGORITHM = (
        Step.OIDC_SIGNATURE,
        "The ID token is not signed with the algorithm the connection names.",
    )
    ID_TOKEN_FORMAT = (Step.OIDC_SIGNATURE, "The ID token is not a JWT.")
    ID_TOKEN = (Step.OIDC_SIGNATURE, "The ID token is not valid.")
    ISSUER = (
        Step.OIDC_AUDIENCE,
        "The issuer is not the one the connection was set up with: save the IdP's settings "
        "again if it moved.",
    )
    AUDIENCE = (Step.OIDC_AUDIENCE, "The ID token is meant for another client.")
    EXPIRED = (Step.OIDC_VALIDITY, "The ID token has expired: check the IdP's clock.")
    NOT_YET_VALID = (Step.OIDC_VALIDITY, "The ID token is not valid yet: check the IdP's clock.")
    NONCE = (Step.OIDC_NONCE, "The ID token's nonce is not the one sent with this sign-in.")
    CLAIMS = (Step.OIDC_SUBJECT, "The ID token lacks a required claim.")
    USERINFO = (Step.OIDC_SUBJECT, "The userinfo endpoint could not be read.")
    USERINFO_SUBJECT = (Step.OIDC_SUBJECT, "userinfo is about another subject than the ID token.")

    # --- Gatehouse's account rules (both protocols) --------------------------------------------
    EMAIL_DOMAIN = (
        Step.ACCOUNT_RULES,
        "The IdP sent no email address in a verified domain the connection serves.",
    )
    JIT_DISABLED = (
        Step.ACCOUNT_RULES,
        "New accounts are not created at sign-in (just-in-time accounts are off) and this person "
        "has no invitation.",
    )
    MEMBERSHIP_REMOVED = (
        Step.ACCOUNT_RULES,
        "The organization's admins removed this person: signing in does not bring them back.",
    )
    DIRECTORY_DEACTIVATED = (
        Step.ACCOUNT_RULES,
        "The organization's SCIM directory turned this person off: signing in does not bring "
        "them back; turning them on in the directory does.",
    )
    ACCOUNT_BLOCKED = (Step.ACCOUNT_RULES, "The account is blocked.")
    CONCURRENT_LOGIN = (
        Step.ACCOUNT_RULES,
        "Two first sign-ins of the same person crossed: the other one set the account up.",
    )
    IDENTITY_GONE = (
        Step.ACCOUNT_RULES,
        "The identity was removed or moved to another account while the sign-in was on its way.",
    )
    PRIVILEGED_ACCOUNT = (
        Step.ACCOUNT_RULES,
        "The account is the organization's owner or Gatehouse staff: an IdP never signs it in.",
    )
    ACCOUNT_CONFLICT = (
        Step.ACCOUNT_RULES,
        "An account already uses the address in a way single sign-on cannot settle.",
    )
    SIGN_IN_POLICY = (
        Step.ACCOUNT_RULES,
        "Another organization the person belongs to requires another way to sign in.",
    )

    # --- SAML single logout started by the IdP -------------------------------------------------
    MALFORMED = (Step.SAML_LOGOUT, "The logout message is not a SAML message.")
    INVALID = (Step.SAML_LOGOUT, "The logout message is unsigned or not valid.")
    REPLAY_CACHE_UNAVAILABLE = (
        Step.SAML_LOGOUT,
        "Gatehouse could not check the logout message against those already used.",
    )
    REPLAYED_OR_STALE = (
        Step.SAML_LOGOUT,
        "The logout request was already used, or was issued more than 5 minutes ago.",
    )


def steps(flow: str) -> list[Step]:
    """The steps of a flow (``SAML``, ``OIDC``, ``SAML_LOGOUT``), in order."""
    return [step for step in Step if flow in step.flows]


def checks_of(step: Step) -> list[Check]:
    return [check for check in Check if step in check.steps]


def by_code(flow: str, code: str) -> Check | None:
    """The check of ``flow`` with this name, if there is one."""
    found = Check.__members__.get(code.upper()) if code.islower() else None
    return found if found is not None and any(flow in s.flows for s in found.steps) else None


# --- python3-saml's errors, named ------------------------------------------------------------

# Each of python3-saml's validation error codes, as the check of the same name.
LIBRARY_CHECKS: dict[int, Check] = {
    code: Check[name]
    for name, code in vars(OneLogin_Saml2_ValidationError).items()
    if name.isupper() and isinstance(code, int) and name in Check.__members__
}


def saml_library_check(exc: Exception) -> Check:
    """The check a python3-saml (or lxml) exception means: its validation errors by their
    code, its other errors as an invalid response, anything else as a malformed one."""
    if isinstance(exc, OneLogin_Saml2_ValidationError):
        return LIBRARY_CHECKS.get(exc.code, Check.INVALID_RESPONSE)
    if isinstance(exc, OneLogin_Saml2_Error):
        return Check.INVALID_RESPONSE
    return Check.MALFORMED_RESPONSE


# --- Failed checks as refusals ---------------------------------------------------------------


def refused(
    check: Check, connection: Connection, reason: str = "", *, status: int = 403
) -> Refusal:
    """A sign-in through ``connection`` refused by ``check``, on the record once answered:
    ``sso.login_failed`` with the check's name and the reason (the check's own message when
    no more precise one is given)."""
    message = reason or check.message
    return Refusal(
        message,
        status=status,
        code=check.code,
        action=Action.SSO_LOGIN_FAILED,
        actor_text=f"sso:{connection.slug}",
        organization=connection.organization,
        target=connection,
        details={"connection": connection.slug, "check": check.code, "reason": message[:300]},
    )


def logout_refused(
    check: Check, connection: Connection, reason: str = "", *, status: int = 400
) -> Refusal:
    """A logout message from the IdP that Gatehouse does not act on, on the record."""
    message = reason or check.message
    return Refusal(
        message,
        status=status,
        code=check.code,
        action=Action.SSO_LOGOUT_REFUSED,
        actor_text=connection.slug,
        organization=connection.organization,
        target=connection,
        details={"connection": connection.slug, "check": check.code, "reason": message[:200]},
    )
