from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import login_writes, receivers, user_sessions  # noqa: F401  (receivers)

        user_sessions.install()
        login_writes.install()
