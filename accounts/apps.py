from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import receivers, user_sessions  # noqa: F401  (connects the audit receivers)

        user_sessions.install()
