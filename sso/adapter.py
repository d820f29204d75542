"""allauth's social account adapter, fed from sso.Connection and bound to its login rules.

``list_apps`` turns connections into unsaved SocialApps on request: configuration is kept once,
in the connection. The hooks carry out what ``sso.admission.admit`` decided, with the writes of
``sso.services.logins``, inside the login's transaction (which the finishing view owns).
"""

from __future__ import annotations

from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from requests import RequestException

from accounts.mfa.social import SocialAccountAdapter as StepUpSocialAccountAdapter
from sso import admission, connection_cache
from sso.checks import Check, refused
from sso.diagnostics import answer_refusal
from sso.models import Connection, Protocol, connection_of
from sso.services import logins


def connection_by_slug(slug: str) -> Connection | None:
    """The connection ``slug`` names, with what every sign-in through it reads (organization,
    IdP certificates, verified domains), kept per process while its version holds
    (``sso.connection_cache``)."""

    def load() -> Connection | None:
        connection = (
            Connection.objects.select_related("organization")
            .prefetch_related("certificates")
            .filter(slug=slug)
            .first()
        )
        if connection is not None:
            admission.verified_domains(connection)  # read now, kept with the connection
        return connection

    return connection_cache.cached_connection(slug, load)


def social_app(connection: Connection) -> SocialApp:
    if connection.is_saml:
        from sso.saml.config import social_app as saml_app

        return saml_app(connection)
    app = SocialApp(
        provider="openid_connect",
        provider_id=connection.slug,
        name=connection.name,
        client_id=connection.client_id,
        secret=connection.client_secret,  # decrypted in memory only
        # Built from the connection's fields alone: allauth settings that would change whom
        # to trust (verified_email, email_authentication, openid_configuration_overrides,
        # auth_params) are never set.
        settings={
            "server_url": connection.discovery_url,
            "token_auth_method": connection.token_auth_method,
            "oauth_pkce_enabled": True,
            "fetch_userinfo": True,
            "scope": connection.scopes.split(),
            "hidden": True,
        },
    )
    app.gatehouse_connection = connection  # type: ignore[attr-defined]
    return app


def authentication_failure(
    request: HttpRequest, error: Any, exception: Any, context: dict
) -> tuple[Check, str]:
    """The check a failure allauth reports fails, and the reason (Gatehouse's own checks are
    refusals, which never reach allauth's error handling)."""
    if str(error) == "cancelled":
        return Check.CANCELLED, "The sign-in was cancelled at the identity provider."
    if "state_id" in context:
        # allauth found no pending sign-in for this callback in this browser's session.
        return Check.STATE, (
            "This answer belongs to a sign-in this browser did not start, or one that was "
            "already finished or started more than 10 minutes ago."
        )
    if request.GET.get("error"):
        return Check.IDP_ERROR, f"The identity provider answered: {request.GET['error'][:100]}."
    if isinstance(exception, RequestException):
        return Check.IDP_UNREACHABLE, "The identity provider could not be reached."
    if isinstance(exception, OAuth2Error):  # raised by allauth's code exchange
        return Check.TOKEN_EXCHANGE, str(exception)[:300]
    if isinstance(exception, PermissionDenied):
        return Check.PERMISSION_DENIED, str(exception)[:300]
    return Check.PROVIDER_ERROR, str(exception or error or "")[:300]


def _concurrent_login(connection: Connection) -> Exception:
    """Another sign-in of the same person created the account (or linked the identity) while
    this one was on its way: this one writes nothing, and trying again signs in."""
    return refused(
        Check.CONCURRENT_LOGIN,
        connection,
        "You signed in twice at the same moment. Try again: the first sign-in set your account up.",
        status=409,
    )


class SocialAccountAdapter(StepUpSocialAccountAdapter):
    def list_apps(
        self, request: Any, provider: str | None = None, client_id: str | None = None
    ) -> list[SocialApp]:
        if provider is None:
            # The login page's list of providers: organization connections are never listed.
            return super().list_apps(request, provider=provider, client_id=client_id)
        # allauth asks several times per request (view, provider, identity): answer once.
        memo = getattr(request, "_gatehouse_apps", None) if request is not None else None
        if memo is None:
            memo = {}
            if request is not None:
                request._gatehouse_apps = memo
        key = (provider, client_id)
        if key not in memo:
            memo[key] = self._connection_apps(request, provider, client_id)
        return list(memo[key])

    def _connection_apps(
        self, request: Any, provider: str, client_id: str | None
    ) -> list[SocialApp]:
        if provider == "saml" and client_id:
            # A sign-in, logout or metadata request names its connection by slug.
            connection = connection_by_slug(client_id)
            return [social_app(connection)] if connection and connection.is_saml else []
        if provider not in ("saml", "openid_connect"):  # a provider_id: the connection's slug
            # Whatever the status: drafts need their metadata served, disabled connections
            # their identities listed. Every way in checks the status (sso.entry).
            connection = connection_by_slug(provider)
            if connection is not None:
                return [social_app(connection)]  # slugs are unique: no app of allauth's own
            apps = super().list_apps(request, provider=provider, client_id=client_id)
            return [a for a in apps if a.provider != "saml"]
        connections = Connection.objects.select_related("organization").prefetch_related(
            "certificates"
        )
        if provider == "saml":
            # SAML apps come only from connections (allauth's table is not consulted).
            return [social_app(c) for c in connections.filter(protocol=Protocol.SAML)]
        connections = connections.filter(protocol=Protocol.OIDC)
        if client_id:
            connections = connections.filter(client_id=client_id)
        apps = super().list_apps(request, provider=provider, client_id=client_id)
        return [social_app(c) for c in connections] + [a for a in apps if a.provider != "saml"]

    def get_requests_session(self) -> Any:
        """allauth's calls to IdPs (token exchange, userinfo) go to URLs an org admin typed in
        (through their discovery document): the same public-addresses-only transport as
        Gatehouse's own fetches, with allauth's timeout."""
        import functools

        from allauth.socialaccount import app_settings

        from sso.fetch import public_session

        session = public_session()
        session.request = functools.partial(  # type: ignore[method-assign]
            session.request, timeout=app_settings.REQUESTS_TIMEOUT
        )
        return session

    def can_authenticate_by_email(self, login: Any, email: str) -> bool:
        return False

    def is_email_verified(self, provider: Any, email: str) -> bool:
        connection = getattr(getattr(provider, "app", None), "gatehouse_connection", None)
        if connection is None:
            return super().is_email_verified(provider, email)
        # An enterprise IdP's address counts as verified only inside its org's verified domains.
        return admission.email_in_domains(email, admission.verified_domains(connection))

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        connection = connection_of(sociallogin)
        if connection is None:
            return super().is_open_for_signup(request, sociallogin)
        decision = admission.admission_of(request, connection, sociallogin)
        return decision.kind in ("create", "release")

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        super().pre_social_login(request, sociallogin)
        connection = connection_of(sociallogin)
        if connection is None:
            return
        decision = admission.admission_of(request, connection, sociallogin)
        if decision.kind == "existing":
            assert decision.user is not None
            logins.apply_membership(
                connection, decision.user, decision.role, created=False, known=decision.membership
            )
        elif decision.kind == "link":
            assert decision.user is not None
            try:
                with transaction.atomic():  # the same race, for an account being linked
                    sociallogin.connect(request, decision.user)
            except IntegrityError:
                raise _concurrent_login(connection) from None
            logins.record_link(connection, decision.user)
            logins.apply_membership(
                connection, decision.user, decision.role, created=False, known=decision.membership
            )
        elif decision.kind == "release":
            assert decision.user is not None
            assert decision.email is not None
            logins.release_unverified_account(connection, decision.user)
            logins.drop_unproven_claims(decision.email)
        elif decision.kind == "create":
            assert decision.email is not None
            logins.drop_unproven_claims(decision.email)

    def save_user(self, request: HttpRequest, sociallogin: Any, form: Any = None) -> Any:
        connection = connection_of(sociallogin)
        if connection is None:
            return super().save_user(request, sociallogin, form)
        try:
            # A savepoint: when a simultaneous first sign-in of the same person created the
            # account first, the unique address or identity refuses this one cleanly.
            with transaction.atomic():
                user = super().save_user(request, sociallogin, form)
        except IntegrityError:
            raise _concurrent_login(connection) from None
        decision = admission.admission_of(request, connection, sociallogin)
        logins.record_created(connection, user)
        logins.apply_membership(connection, user, decision.role, created=True)
        return user

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict) -> Any:
        user = super().populate_user(request, sociallogin, data)
        name = data.get("name") or " ".join(
            part for part in (data.get("first_name"), data.get("last_name")) if part
        )
        if name and not user.display_name:
            user.display_name = str(name)[:150]
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        connection = getattr(getattr(provider, "app", None), "gatehouse_connection", None)
        if connection is not None:
            # allauth's hook answers with an ImmediateHttpResponse: the refusal's answer (its
            # page, or the test's diagnostic), on the record.
            check, reason = authentication_failure(request, error, exception, extra_context or {})
            refusal = refused(check, connection, reason)
            raise ImmediateHttpResponse(answer_refusal(request, connection, refusal))
        super().on_authentication_error(request, provider, error, exception, extra_context)
