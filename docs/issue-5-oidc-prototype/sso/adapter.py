"""Lab prototype: allauth's social account adapter fed from Gatehouse's own connection list.

In the real build the list comes from sso.models.Connection (active OIDC connections, plus
drafts for "Test connection"); here it is a hard-coded list in settings.LAB_OIDC_CONNECTIONS,
so the shape of list_apps()/get_app() can be proven without the model.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialApp
from django.conf import settings

from accounts.mfa.social import SocialAccountAdapter


def connection_apps() -> list[SocialApp]:
    apps = []
    for conn in getattr(settings, "LAB_OIDC_CONNECTIONS", []):
        apps.append(
            SocialApp(
                provider="openid_connect",
                provider_id=conn["provider_id"],  # immutable, unique per connection
                name=conn["name"],
                client_id=conn["client_id"],
                secret=conn["secret"],  # decrypted only here, never stored in SocialApp rows
                settings={
                    "server_url": conn["server_url"],
                    "token_auth_method": conn.get("token_auth_method", "client_secret_basic"),
                    "oauth_pkce_enabled": True,
                    # Never offer org connections in allauth's generic provider list.
                    "hidden": True,
                    # Gatehouse's own keys (read by sso.oidc.provider / the adapter):
                    "issuer": conn.get("issuer"),
                    "id_token_signing_alg": conn.get("id_token_signing_alg", "RS256"),
                    "verified_domains": conn.get("verified_domains", []),
                    "status": conn.get("status", "active"),
                    "connection_id": conn.get("connection_id"),
                    **conn.get("extra", {}),
                    **({"openid_configuration_overrides": conn["openid_configuration_overrides"]}
                       if "openid_configuration_overrides" in conn else {}),  # org_slug, role_map, jit, trust_idp_mfa ...
                },
            )
        )
    return apps


def _matches(app: SocialApp, provider: str | None, client_id: str | None) -> bool:
    if provider and provider not in (app.provider, app.provider_id):
        return False
    return not (client_id and app.client_id != client_id)


class SSOSocialAccountAdapter(SocialAccountAdapter):
    def list_apps(
        self, request: Any, provider: str | None = None, client_id: str | None = None
    ) -> list[SocialApp]:
        ours = [a for a in connection_apps() if _matches(a, provider, client_id)]
        return ours + super().list_apps(request, provider=provider, client_id=client_id)

    # get_app() is inherited: it calls list_apps(provider=<provider_id>) and expects exactly one.

    def can_authenticate_by_email(self, login: Any, email: str) -> bool:
        # Never log into an existing account because an IdP asserted its address (issue 5:
        # identities are keyed on (connection, subject)); linking is decided in pre_social_login.
        return False

    def is_email_verified(self, provider: Any, email: str) -> bool:
        # An enterprise IdP's address counts as verified only inside its org's verified domains.
        domains = (provider.app.settings.get("verified_domains") if provider.app else None) or []
        return email.rpartition("@")[2].lower() in {d.lower() for d in domains}


# --- Lab: JIT, linking, role mapping (hook points; the real code goes in sso/services.py) ---

from allauth.account.models import EmailAddress  # noqa: E402
from allauth.core.exceptions import ImmediateHttpResponse  # noqa: E402
from django.db import transaction  # noqa: E402
from django.shortcuts import render  # noqa: E402


def is_org_connection(sociallogin: Any) -> bool:
    app = sociallogin.provider.app
    return bool(app and app.settings.get("connection_id"))


def asserted_email(sociallogin: Any) -> str | None:
    """The IdP's address, only if it lies inside the org's verified domains."""
    domains = {d.lower() for d in sociallogin.provider.app.settings.get("verified_domains", [])}
    for address in sociallogin.email_addresses:
        if address.email.rpartition("@")[2].lower() in domains:
            return address.email.lower()
    return None


def mapped_role(sociallogin: Any) -> str:
    conf = sociallogin.provider.app.settings
    data = sociallogin.account.extra_data
    claims = {**(data.get("userinfo") or {}), **data.get("id_token", {})}
    for group in claims.get(conf.get("groups_claim", "groups"), []) or []:
        if group in conf.get("role_map", {}):
            return conf["role_map"][group]
    return conf.get("default_role", "member")


def apply_membership(sociallogin: Any, user: Any) -> None:
    from organizations.models import Membership, Organization

    org = Organization.objects.get(slug=sociallogin.provider.app.settings["org_slug"])
    role = mapped_role(sociallogin)
    m, created = Membership.objects.get_or_create(
        organization=org, user=user, defaults={"role": role, "source": "sso"}
    )
    if not created and m.role != role and m.role != "owner":
        m.role = role
        m.save(update_fields=["role"])


def refuse(request: Any, message: str) -> None:
    transaction.set_rollback(True)  # ATOMIC_REQUESTS: nothing of this login is kept
    raise ImmediateHttpResponse(
        render(request, "sso/test_result.html", {"ok": False, "error": message}, status=403)
    )


class LabSSOAdapter(SSOSocialAccountAdapter):
    def pre_social_login(self, request: Any, sociallogin: Any) -> None:
        super().pre_social_login(request, sociallogin)
        if not is_org_connection(sociallogin):
            return
        if sociallogin.is_existing:  # found by (connection, subject): role mapping each login
            apply_membership(sociallogin, sociallogin.user)
            return
        email = asserted_email(sociallogin)
        if email is None:
            refuse(request, "Your identity provider gave no address in this organization's domains.")
        address = EmailAddress.objects.filter(email__iexact=email).select_related("user").first()
        if address and address.verified:
            sociallogin.connect(request, address.user)  # link: the address was proven to us
            apply_membership(sociallogin, address.user)
        elif address:
            squatter = address.user  # not merged into: locked out, address released
            squatter.set_unusable_password()
            squatter.email = f"released-{squatter.public_id}@invalid"
            squatter.save(update_fields=["password", "email"])
            address.delete()
            from accounts.services import revoke_all_sessions

            revoke_all_sessions(user=squatter, actor=squatter)

    def is_open_for_signup(self, request: Any, sociallogin: Any) -> bool:
        if is_org_connection(sociallogin):
            return bool(sociallogin.provider.app.settings.get("jit", True))
        return super().is_open_for_signup(request, sociallogin)

    def save_user(self, request: Any, sociallogin: Any, form: Any = None) -> Any:
        user = super().save_user(request, sociallogin, form)
        if is_org_connection(sociallogin):
            apply_membership(sociallogin, user)
        return user

    def on_authentication_error(self, request, provider, error=None, exception=None,
                                extra_context=None):
        # "Test connection" that failed: the diagnostic page names the reason (the admin asked).
        state = (extra_context or {}).get("state") or {}
        if (state.get("data") or {}).get("gatehouse_test"):
            raise ImmediateHttpResponse(render(
                request, "sso/test_result.html",
                {"ok": False, "error": f"{error}: {exception}"}, status=200))
        super().on_authentication_error(request, provider, error, exception, extra_context)
