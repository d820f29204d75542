"""What accounts asks of the apps built on top of it, without importing them.

Accounts sits below organizations and sso, and organizations below sso: each imports the ones
below it, never the reverse. Where a sign-in needs an answer only an app above has (does the
IdP's MFA count, where does logout go next, may this login proceed, may this person move to
another address, may a new account join an organization by password), the asking code asks a
hook here; where an app above must hear of a change (a member removed), it is told through
one. The app that knows fills the hook in when it starts (``sso.apps.SsoConfig.ready``); a
hook nobody filled in answers as if that app were not installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.http import HttpRequest, HttpResponse


def _no_idp_mfa(request: HttpRequest, login: Any) -> bool:
    return False


def _no_idp_logout(request: HttpRequest) -> str | None:
    return None


def _no_login_refusal(
    request: HttpRequest, user: Any, signal_kwargs: dict[str, Any]
) -> HttpResponse | None:
    return None


def _no_address_change_refusal(user: Any, new_email: str) -> str | None:
    return None


def _no_new_account_refusal(org: Any, email: str, role: str) -> dict[str, Any] | None:
    return None


class EndAppTokens(Protocol):
    def __call__(
        self,
        *,
        user: Any,
        reason: str,
        actor: Any = None,
        organization: Any = None,
        session_keys: list[str] | None = None,
        keep_session_key: str | None = None,
    ) -> int: ...


def _no_app_tokens(
    *,
    user: Any,
    reason: str,
    actor: Any = None,
    organization: Any = None,
    session_keys: list[str] | None = None,
    keep_session_key: str | None = None,
) -> int:
    return 0


def _no_invitation_app(*, client_id: str, organization: Any) -> Any:
    return None


class InvitationApp(Protocol):
    def __call__(self, *, client_id: str, organization: Any) -> Any: ...


def _nothing_manages_members(membership: Any) -> None:
    return None


def _no_connections(slugs: list[str]) -> dict[str, tuple[str, str]]:
    return {}


@dataclass
class SignInHooks:
    """The questions, each with its answer when no app has registered one."""

    # Whether a login's first factor already included a second one that Gatehouse trusts
    # (an SSO login whose organization trusts its IdP's MFA). Asked by the second-factor stage.
    first_factor_mfa: Callable[[HttpRequest, Any], bool] = _no_idp_mfa
    # Where the browser goes after Gatehouse's own logout when an IdP must hear of it too
    # (SAML single logout). Read before the session ends.
    idp_logout_url: Callable[[HttpRequest], str | None] = _no_idp_logout
    # The answer that refuses a login whose credential was right (an organization's sign-in
    # rules), or None to let it proceed. Asked after the credential is verified.
    login_refusal: Callable[[HttpRequest, Any, dict[str, Any]], HttpResponse | None] = (
        _no_login_refusal
    )
    # Why this person may not move to that address, or None.
    address_change_refusal: Callable[[Any, str], str | None] = _no_address_change_refusal
    # The organization's sign-in rule a new password account for this address would break by
    # joining it with this role (an invitation), or None. Asked by organizations.
    new_account_refusal: Callable[[Any, str, str], dict[str, Any] | None] = _no_new_account_refusal
    # End the OAuth tokens a person's apps hold, in the caller's transaction: all of them, those
    # issued through one organization, those of some browser sessions (``session_keys``), or
    # all but those of the session kept (``keep_session_key``). Asked by accounts (block,
    # sessions), organizations (removal) and consent (erasure); answered by provider.
    end_app_tokens: EndAppTokens = _no_app_tokens
    # The app that sent an invitation through the management API, as the actor organizations
    # judges (``organizations.permissions.AppActor``), while it may still manage that
    # organization (usable, bound to it or to none, holding ``organizations:write``); else
    # None, and its invitation no longer works. Asked by organizations; answered by provider.
    invitation_app: InvitationApp = _no_invitation_app
    # An admin (or an app) removed this member, in the caller's transaction: whatever else
    # manages memberships (a SCIM directory) stops bringing them back. Told by organizations;
    # answered by sso.
    member_removed: Callable[[Any], None] = _nothing_manages_members
    # The name and organization's name of each SSO connection whose slug is given (the
    # provider of a linked identity), in one query: for the person page in the admin.
    # Answered by sso.
    sso_connection_names: Callable[[list[str]], dict[str, tuple[str, str]]] = _no_connections


hooks = SignInHooks()


def register(
    *,
    first_factor_mfa: Callable[[HttpRequest, Any], bool] | None = None,
    idp_logout_url: Callable[[HttpRequest], str | None] | None = None,
    login_refusal: Callable[[HttpRequest, Any, dict[str, Any]], HttpResponse | None] | None = None,
    address_change_refusal: Callable[[Any, str], str | None] | None = None,
    new_account_refusal: Callable[[Any, str, str], dict[str, Any] | None] | None = None,
    end_app_tokens: EndAppTokens | None = None,
    invitation_app: InvitationApp | None = None,
    member_removed: Callable[[Any], None] | None = None,
    sso_connection_names: Callable[[list[str]], dict[str, tuple[str, str]]] | None = None,
) -> None:
    """Answer some of the questions; the others keep their current answer."""
    if first_factor_mfa is not None:
        hooks.first_factor_mfa = first_factor_mfa
    if idp_logout_url is not None:
        hooks.idp_logout_url = idp_logout_url
    if login_refusal is not None:
        hooks.login_refusal = login_refusal
    if address_change_refusal is not None:
        hooks.address_change_refusal = address_change_refusal
    if new_account_refusal is not None:
        hooks.new_account_refusal = new_account_refusal
    if end_app_tokens is not None:
        hooks.end_app_tokens = end_app_tokens
    if invitation_app is not None:
        hooks.invitation_app = invitation_app
    if member_removed is not None:
        hooks.member_removed = member_removed
    if sso_connection_names is not None:
        hooks.sso_connection_names = sso_connection_names
