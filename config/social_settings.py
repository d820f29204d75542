"""allauth's social accounts, which carry both per-organization enterprise SSO (sso/) and
social login (social/). Imported by name into config/settings.py."""

from __future__ import annotations

__all__ = [
    "SOCIALACCOUNT_ADAPTER",
    "SOCIALACCOUNT_AUTO_SIGNUP",
    "SOCIALACCOUNT_EMAIL_AUTHENTICATION",
    "SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT",
    "SOCIALACCOUNT_FORMS",
    "SOCIALACCOUNT_LOGIN_ON_GET",
    "SOCIALACCOUNT_PROVIDERS",
    "SOCIALACCOUNT_STORE_TOKENS",
    "SOCIAL_LOGIN_TEST_ENDPOINTS",
]

# Enterprise SSO: connections are rows of sso.Connection, handed to allauth by the adapter. The
# OIDC provider is Gatehouse's subclass (sso/oidc/), which verifies ID tokens fully; allauth's
# own OIDC views are never mounted.
SOCIALACCOUNT_PROVIDERS: dict = {
    "openid_connect": {"provider_class": "sso.oidc.provider.GatehouseOIDCProvider"},
    "saml": {"provider_class": "sso.saml.provider.GatehouseSAMLProvider"},
}
# Never log into an existing account because a provider asserted its address: identities are
# keyed on (connection, subject); linking is decided by sso.services.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
# Social login (Google, Microsoft, Apple, GitHub, OpenID): rows of social.SocialProvider, set
# up by staff in the admin (docs/social-login.md); its adapter extends sso's.
SOCIALACCOUNT_ADAPTER = "social.adapter.SocialAccountAdapter"
SOCIALACCOUNT_FORMS = {
    "signup": "social.forms.SocialSignupForm",
    "disconnect": "social.forms.DisconnectForm",
}
# Tests only, never from the environment: {kind: loopback URL} replacing a provider's fixed
# host, obeyed only while OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS is on (social.models.test_override).
SOCIAL_LOGIN_TEST_ENDPOINTS: dict[str, str] = {}
