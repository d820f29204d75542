"""allauth's social account adapter: enterprise SSO's (sso.adapter), plus social login.

The rules for a new social identity (``pre_social_login``):

- an identity already linked signs in to its account (organization policy applies, at
  ``AccountAdapter.pre_login``);
- linking from /account/ ("connect") is behind step-up (accounts.mfa.social) and left to allauth;
- an address the provider verified that belongs to an account: nothing is linked yet. The
  person signs in to that account (password, code or passkey, and their second factor), then
  confirms the link (social.views);
- an address the provider did not verify never links: the sign-up form follows, whose answer
  for a taken address is the same "check your email" page as for a free one;
- otherwise the sign-up form, with the consent boxes, creates the account.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialAccount, SocialApp
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from config.refusals import refusal_page
from social import services
from social.allauth_apps import is_social_provider, row_of, social_apps
from social.refusals import login_refused
from sso.adapter import SocialAccountAdapter as SSOSocialAccountAdapter
from sso.adapter import authentication_failure as failure

PENDING_LINK_KEY = "social_pending_link"
LAST_WAY_IN = (
    "This is your only way to sign in: set a password, add a passkey or link another "
    "provider before you unlink it."
)


def existing_owner(email: str) -> Any:
    """The account that holds ``email`` (any of its addresses, verified or not), if any."""
    address = EmailAddress.objects.filter(email__iexact=email).select_related("user").first()
    if address is not None:
        return address.user
    return get_user_model().objects.filter(email__iexact=email).first()


def has_passkey(user: Any) -> bool:
    from django_otp_webauthn.models import WebAuthnCredential

    return WebAuthnCredential.objects.filter(user=user).exists()


class SocialAccountAdapter(SSOSocialAccountAdapter):
    def list_apps(
        self, request: Any, provider: str | None = None, client_id: str | None = None
    ) -> list[SocialApp]:
        if provider is None:
            # The sign-in page's buttons: enabled rows (organization connections never).
            return social_apps(client_id=client_id, enabled_only=True) + super().list_apps(
                request, provider=provider, client_id=client_id
            )
        if is_social_provider(provider):
            return social_apps(provider, client_id)
        return super().list_apps(request, provider=provider, client_id=client_id)

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: Any) -> bool:
        if row_of(sociallogin) is not None:
            return False  # a new social account passes through the consent boxes first
        return bool(super().is_auto_signup_allowed(request, sociallogin))

    def is_email_verified(self, provider: Any, email: str) -> bool:
        if getattr(getattr(provider, "app", None), "gatehouse_social", None) is not None:
            return False  # only the provider's own flag on the address counts
        return bool(super().is_email_verified(provider, email))

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        super().pre_social_login(request, sociallogin)
        row = row_of(sociallogin)
        if row is None or sociallogin.is_existing:
            return
        if (sociallogin.state or {}).get("process") == AuthProcess.CONNECT:
            return
        addresses = [a for a in sociallogin.email_addresses if a.primary] or list(
            sociallogin.email_addresses
        )
        if not addresses:
            return
        owner = existing_owner(addresses[0].email)
        if owner is None:
            return
        if not addresses[0].verified:
            services.record_link_refused(
                row=row, owner=owner, reason=services.REFUSED_UNVERIFIED_EMAIL
            )
            return  # to the sign-up form, which answers as for a free address
        services.record_link_refused(row=row, owner=owner, reason=services.REFUSED_EXISTING_ACCOUNT)
        sociallogin.token = None  # the provider's access token is not needed to link: not kept
        request.session[PENDING_LINK_KEY] = sociallogin.serialize()
        raise ImmediateHttpResponse(HttpResponseRedirect(reverse("social:link")))

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        row = getattr(getattr(provider, "app", None), "gatehouse_social", None)
        if row is not None:
            # A failure allauth found (state, cancel, code exchange...), on the record with the
            # name of the check it fails, as enterprise SSO names them.
            check, reason = failure(request, error, exception, extra_context or {})
            refusal = login_refused(row, check.code, reason)
            raise ImmediateHttpResponse(refusal_page(request, refusal))
        super().on_authentication_error(request, provider, error, exception, extra_context)

    def validate_disconnect(self, account: SocialAccount, accounts: Any) -> None:
        user = account.user
        others = [a for a in accounts if a.pk != account.pk]
        if user.has_usable_password() or others or has_passkey(user):
            return
        raise ValidationError(LAST_WAY_IN, code="last_way_in")
