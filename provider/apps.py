from django.apps import AppConfig


class ProviderConfig(AppConfig):
    """Gatehouse as the OAuth 2.1 / OpenID provider of the operator's apps and APIs, on
    django-oauth-toolkit with every DOT model swapped for one of Gatehouse's
    (docs/oauth-provider.md)."""

    name = "provider"
    verbose_name = "Applications and APIs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oauth2_provider.settings import oauth2_settings

        from provider import hooks
        from provider.tokens import token_expires_in

        # Not an import string in DOT's settings, so it is set here, before the oauthlib
        # server is first built: each access token lives as long as its API says.
        oauth2_settings.EXTRA_SERVER_KWARGS = {"token_expires_in": token_expires_in}
        # Blocking, ended sessions, removal from an organization, erasure and password resets
        # end the person's tokens (accounts, organizations and consent ask; provider answers).
        hooks.register()
