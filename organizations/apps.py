from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"

    def ready(self) -> None:
        from organizations import checks, receivers  # noqa: F401 - connects receivers, checks
