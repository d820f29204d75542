from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import login_writes, receivers, user_sessions  # noqa: F401  (receivers)

        # The read-only list of impersonations (accounts/impersonation/admin.py).
        from accounts.impersonation import admin as impersonation_admin  # noqa: F401

        user_sessions.install()
        login_writes.install()
