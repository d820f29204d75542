"""The checks an OpenID Connect sign-in's ID token (and userinfo) must pass, in order.

allauth's code flow skips the ID token's signature and has no nonce. ``IDTokenProcessor.run``
calls its ``_verify_*`` methods one after the other, in the order of the OIDC step table
(``sso.checks.Step``); each passes or raises the refusal of a named check. The algorithm is the
one the connection names, never the one in the token's header, and the issuer the one stored
when the connection was set up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
from allauth.socialaccount import app_settings
from django.utils.crypto import constant_time_compare
from jwt.exceptions import InvalidSubjectError

from config.refusals import Refusal
from sso.checks import Check, refused
from sso.models import ID_TOKEN_ALGORITHMS, Connection
from sso.oidc.keys import SigningKeys

LEEWAY_SECONDS = 60
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "nonce"]
# PyJWT's errors, as the checks they fail (each class a leaf of PyJWT's hierarchy).
JWT_ERRORS: tuple[tuple[type[Exception], Check, str], ...] = (
    (jwt.InvalidSignatureError, Check.SIGNATURE, "The ID token's signature does not verify."),
    (jwt.ExpiredSignatureError, Check.EXPIRED, "The ID token has expired."),
    (jwt.InvalidAudienceError, Check.AUDIENCE, "The ID token is meant for another client."),
    (jwt.InvalidIssuerError, Check.ISSUER, "The ID token comes from another issuer."),
    (jwt.ImmatureSignatureError, Check.NOT_YET_VALID, "The ID token is not valid yet."),
    (InvalidSubjectError, Check.SUBJECT, "The ID token's subject is not a string."),
)


class IDTokenProcessor:
    """One sign-in's ID token through ``connection``, checked against the IdP's ``discovery``
    document, this client and the nonce sent with this sign-in."""

    def __init__(
        self,
        connection: Connection,
        *,
        discovery: dict,
        client_id: str,
        expected_nonce: str | None,
        keys: SigningKeys,
    ) -> None:
        self.connection = connection
        self.discovery = discovery
        self.client_id = client_id
        self.expected_nonce = expected_nonce
        self.keys = keys

    def run(self, raw: Any) -> dict:
        """The verified claims of the ID token ``raw``, or the refusal of the failed check."""
        token = self._verify_present(raw)
        self._verify_issuer_configured()
        algorithm = self._verify_algorithm_allowed()
        header = self._verify_format(token)
        self._verify_header_algorithm(header, algorithm)
        key = self.keys.key_for(header.get("kid"), algorithm)
        claims = self._verify_signature_and_claims(token, key, algorithm)
        self._verify_subject(claims)
        self._verify_audiences(claims)
        self._verify_nonce(claims)
        return claims

    def userinfo(self, claims: dict, read: Callable[[], Any]) -> dict:
        """What the userinfo endpoint says (``read`` asks it), when the IdP has one: about the
        ID token's subject, or refused."""
        if not self.discovery.get("userinfo_endpoint"):
            return {}
        try:
            userinfo = read()
        except Exception as exc:  # requests' errors, or a body that is not JSON
            raise self._fail(
                Check.USERINFO, f"userinfo could not be read: {type(exc).__name__}"
            ) from exc
        if not isinstance(userinfo, dict) or str(userinfo.get("sub")) != str(claims["sub"]):
            raise self._fail(Check.USERINFO_SUBJECT, "userinfo is about another subject.")
        return userinfo

    def _fail(self, check: Check, reason: str) -> Refusal:
        return refused(check, self.connection, reason)

    def _verify_present(self, raw: Any) -> str:
        if not raw:
            raise self._fail(Check.ID_TOKEN_MISSING, "The token response has no ID token.")
        return str(raw)

    def _verify_issuer_configured(self) -> None:
        issuer = self.connection.issuer
        if not issuer or self.discovery.get("issuer") != issuer:
            raise self._fail(Check.ISSUER, "The discovery document names another issuer.")

    def _verify_algorithm_allowed(self) -> str:
        algorithm = self.connection.id_token_algorithm
        if algorithm not in ID_TOKEN_ALGORITHMS:
            raise self._fail(Check.ALGORITHM, f"Signing algorithm {algorithm} is not allowed.")
        return algorithm

    def _verify_format(self, token: str) -> dict:
        try:
            return dict(jwt.get_unverified_header(token))
        except jwt.PyJWTError as exc:
            raise self._fail(Check.ID_TOKEN_FORMAT, f"The ID token is not a JWT: {exc}") from exc

    def _verify_header_algorithm(self, header: dict, algorithm: str) -> None:
        if header.get("alg") != algorithm:
            raise self._fail(
                Check.ALGORITHM,
                f"The ID token is signed with {header.get('alg')!r}, not {algorithm}.",
            )

    def _verify_signature_and_claims(self, token: str, key: Any, algorithm: str) -> dict:
        try:
            return dict(
                jwt.decode(
                    token,
                    key=key,
                    algorithms=[algorithm],  # from the connection, never from the token's header
                    audience=self.client_id,
                    issuer=self.connection.issuer,
                    leeway=LEEWAY_SECONDS,
                    options={"require": REQUIRED_CLAIMS},
                )
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise self._jwt_failure(exc) from exc

    def _jwt_failure(self, exc: Exception) -> Refusal:
        for error, check, reason in JWT_ERRORS:
            if isinstance(exc, error):
                return self._fail(check, reason)
        if isinstance(exc, jwt.MissingRequiredClaimError):
            return self._fail(Check.CLAIMS, f"The ID token lacks the {exc.claim!r} claim.")
        return self._fail(Check.ID_TOKEN, f"The ID token is not valid: {exc}")

    def _verify_subject(self, claims: dict) -> None:
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > app_settings.UID_MAX_LENGTH:
            raise self._fail(Check.SUBJECT, "The ID token's subject is empty or too long.")

    def _verify_audiences(self, claims: dict) -> None:
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise self._fail(Check.AUDIENCE, "The ID token has several audiences and another azp.")

    def _verify_nonce(self, claims: dict) -> None:
        if not self.expected_nonce or not constant_time_compare(
            str(claims["nonce"]), self.expected_nonce
        ):
            raise self._fail(Check.NONCE, "The ID token's nonce does not match this sign-in.")
