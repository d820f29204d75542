"""Per-organization enterprise SSO (SAML, OIDC), home-realm discovery and SCIM (issue 5)."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        from sso import receivers  # noqa: F401
