"""Social login (docs/social-login.md)."""

from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = "Social login"

    def ready(self) -> None:
        from social import receivers  # noqa: F401  (connects the receivers)
