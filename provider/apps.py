from django.apps import AppConfig


class ProviderConfig(AppConfig):
    """Gatehouse as the OAuth 2.1 / OpenID provider of the operator's apps and APIs, on
    django-oauth-toolkit with every DOT model swapped for one of Gatehouse's
    (docs/oauth-provider.md)."""

    name = "provider"
    verbose_name = "Applications and APIs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from provider import (
            checks,  # noqa: F401  (registers the provider's start-up checks)
            hooks,
            receivers,  # noqa: F401  (connects them)
        )

        # Blocking, ended sessions, removal from an organization, erasure and password resets
        # end the person's tokens (accounts, organizations and consent ask; provider answers).
        hooks.register()
