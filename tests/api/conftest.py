from tests.organizations.conftest import world  # noqa: F401  (the two-organization world)
