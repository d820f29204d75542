"""OAuth access tokens at the management API (/api/v1/): who is calling, and with what.

A request with ``Authorization: Bearer <token>`` is judged by the token alone: it must be a
live access token issued for Gatehouse's own management API (``Api.system``), by an app that
is still usable, for a person who is still allowed in (when it was issued for one). The token
is found by its SHA-256, the only form the database keeps for both opaque and JWT tokens, so a
revoked or deleted token stops working at once; one query finds it with everything the request
needs (the app, its organization, the person, the API).

Whether the view takes tokens at all, and with which permissions, is decided here too (the view
is known through DRF's parser context): a view with no ``required_scopes`` refuses every token,
whatever its own permission classes say, so an endpoint written for browser sessions can never
be reached with a token by accident.

No ``Authorization`` header: the session authenticator that follows answers, as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from provider.api.permissions import missing_scopes, required_scopes
from provider.models import AccessToken, Application

REALM = 'realm="Gatehouse"'
_PRESENTED = "_gatehouse_bearer_presented"


@dataclass(frozen=True)
class ClientActor:
    """An app calling with a token of its own (client credentials): no person acts.

    It stands where DRF puts the user, and services take it as their ``actor``. It is not a
    ``User`` and does not pretend to be one: ``is_authenticated`` is False, so any code that
    asks for a signed-in person treats it as nobody, and the audit log records it by
    ``audit_text`` with no user key."""

    application: Application

    is_authenticated = False
    is_anonymous = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    @property
    def client_id(self) -> str:
        return str(self.application.client_id)

    @property
    def organization_id(self) -> int | None:
        return self.application.organization_id

    @property
    def audit_text(self) -> str:
        return f"client {self.application.client_id}"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def __str__(self) -> str:
        return self.audit_text


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = "The access token is invalid, expired or revoked."
    default_code = "invalid_token"


class InsufficientScope(exceptions.PermissionDenied):
    """403 with the RFC 6750 challenge naming the permissions the call needs."""

    default_code = "insufficient_scope"

    def __init__(self, detail: str, *, scopes: list[str]) -> None:
        super().__init__(detail)
        scope = " ".join(scopes)
        self.auth_header = f'Bearer {REALM}, error="insufficient_scope"' + (
            f', scope="{scope}"' if scope else ""
        )


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def find_token(value: str) -> AccessToken | None:
    """The stored access token whose checksum matches ``value``: one query, with what the
    request needs joined in."""
    return (
        AccessToken.objects.select_related(
            "application", "application__organization", "user", "organization", "api"
        )
        .filter(token_checksum=checksum(value))
        .first()
    )


def bearer_value(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, None without one; a malformed Bearer
    header is refused."""
    header = get_authorization_header(request).split()
    if not header or header[0].lower() != b"bearer":
        return None
    setattr(request._request, _PRESENTED, True)
    if len(header) != 2:
        raise InvalidToken("Send the token as: Authorization: Bearer <token>.")
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidToken() from None


def token_is_live(token: AccessToken, request: Request) -> bool:
    api = token.api
    if api is None or not api.system:
        return False  # a token for another API is no key to this one (RFC 8707)
    if token.is_expired() or not token.application.is_usable(request):
        return False
    user = token.user
    return user is None or (user.is_active and not user.is_blocked)


class GatehouseBearerAuthentication(BaseAuthentication):
    """``Authorization: Bearer`` with an access token for the management API."""

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        value = bearer_value(request)
        if value is None:
            return None
        token = find_token(value)
        if token is None or not token_is_live(token, request):
            raise InvalidToken()
        view = (request.parser_context or {}).get("view")
        needed = required_scopes(view, request.method or "GET")
        if needed is None:
            raise InsufficientScope(
                "This endpoint does not take access tokens: call it with a session.", scopes=[]
            )
        missing = missing_scopes(token.scope, needed)
        if missing:
            raise InsufficientScope(
                f"The token lacks the permission {', '.join(missing)}.", scopes=needed
            )
        principal = token.user if token.user is not None else ClientActor(token.application)
        return principal, token

    def authenticate_header(self, request: Request) -> str:
        from config.api_framework import AUTHENTICATE_CHALLENGE

        if getattr(request._request, _PRESENTED, False):
            return f'Bearer {REALM}, error="invalid_token"'
        return f"{AUTHENTICATE_CHALLENGE}, Bearer {REALM}"


def calling_client(request: Request) -> Application | None:
    """The app whose token authenticated ``request``, None for a session."""
    token = getattr(request, "auth", None)
    return token.application if isinstance(token, AccessToken) else None


def client_actor(request: Request) -> ClientActor | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, ClientActor) else None


def bound_organization_id(request: Request) -> int | None:
    """The one organization a token may see, None when it is not bound to one (or for a
    session)."""
    token = getattr(request, "auth", None)
    if not isinstance(token, AccessToken):
        return None
    # An app bound to one organization, or a person's token issued for one organization.
    return token.application.organization_id or token.organization_id
