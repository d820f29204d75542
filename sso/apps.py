"""Per-organization enterprise SSO (SAML, OIDC), home-realm discovery and SCIM."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        from accounts import extensions
        from sso import admission, enforcement, receivers  # noqa: F401  (connects the receivers)
        from sso.saml.logout import idp_logout_url
        from sso.scim import directory_links

        # accounts and organizations ask; sso answers (neither imports sso).
        extensions.register(
            first_factor_mfa=admission.trusts_idp_mfa,
            idp_logout_url=idp_logout_url,
            login_refusal=enforcement.refuse_unless_allowed,
            address_change_refusal=enforcement.address_change_refusal,
            new_account_refusal=enforcement.new_account_refusal,
            member_removed=directory_links.detach,
        )
