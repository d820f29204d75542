"""Gatehouse's app configs: the admin on Gatehouse's admin site (config/admin_site.py), and the
project's own start-up checks (config/checks.py)."""

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class GatehouseAdminConfig(AdminConfig):
    default_site = "config.admin_site.GatehouseAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovery: every app's admin module has run by now
        from django.contrib import admin
        from django_otp.plugins.otp_email.models import EmailDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice
        from django_otp_webauthn.models import (
            WebAuthnAttestation,
            WebAuthnCredential,
            WebAuthnUserHandle,
        )

        # The plugins' own admin pages show TOTP keys (and a QR code of them) and pending
        # email codes, and let staff edit factors one by one. Support staff never see secrets:
        # factors are listed read-only on the user's page and reset from there, with a reason
        # (accounts/admin.py).
        for model in (
            TOTPDevice,
            EmailDevice,
            WebAuthnCredential,
            WebAuthnAttestation,
            WebAuthnUserHandle,
        ):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
        try:
            from allauth.socialaccount.models import SocialApp, SocialToken
        except ImportError:  # pragma: no cover - socialaccount is installed
            return
        # Client secrets and users' provider tokens: not for the support desk.
        for model in (SocialApp, SocialToken):
            if admin.site.is_registered(model):
                admin.site.unregister(model)


class GatehouseConfig(AppConfig):
    """Gatehouse's project-wide pieces that need an app: the start-up checks."""

    name = "config"
    label = "gatehouse"
    verbose_name = "Gatehouse"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the checks)
