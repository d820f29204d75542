"""The provider's start-up checks: a deployment that weakens OAuth 2.1's rules in
OAUTH2_PROVIDER, names another issuer, or has no client-secret keys does not start."""

from __future__ import annotations

import pytest
from django.conf import settings

from provider.checks import provider_settings, unsafe_settings
from tests.config.test_settings import PRODUCTION, boot, run_django


def with_provider(**changes) -> list[str]:
    """The errors of Gatehouse's block with ``changes`` (OAUTH2_PROVIDER itself is never
    overridden: DOT would reload its settings and forget the per-API token lifetime)."""
    errors = unsafe_settings(
        {**settings.OAUTH2_PROVIDER, **changes},
        public_url=settings.GATEHOUSE_PUBLIC_URL,
        embedded=True,
        secret_keys=[],
    )
    return [str(error.id) for error in errors]


def test_gatehouses_own_settings_pass():
    assert with_provider() == []


def test_the_check_is_registered_with_gatehouses_start_up_checks():
    from django.core import checks

    assert provider_settings in checks.registry.registry.get_checks(include_deployment_checks=True)
    assert "gatehouse" in provider_settings.tags  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"PKCE_REQUIRED": False}, "gatehouse.provider.E001"),
        ({"COMPLIANT_BCP_RFC9700_PKCE_METHOD": False}, "gatehouse.provider.E002"),
        ({"COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": False}, "gatehouse.provider.E003"),
        ({"COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False}, "gatehouse.provider.E003"),
        (
            {"OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "password"]},
            "gatehouse.provider.E003",
        ),
        ({"OIDC_RESPONSE_TYPES_SUPPORTED": ["code", "id_token"]}, "gatehouse.provider.E003"),
        ({"COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": False}, "gatehouse.provider.E004"),
        ({"ROTATE_REFRESH_TOKEN": False}, "gatehouse.provider.E005"),
        ({"REFRESH_TOKEN_REUSE_PROTECTION": False}, "gatehouse.provider.E005"),
        ({"REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 30}, "gatehouse.provider.E005"),
        ({"ACCESS_TOKEN_EXPIRE_SECONDS": 36000}, "gatehouse.provider.E006"),
        ({"ID_TOKEN_EXPIRE_SECONDS": 3601}, "gatehouse.provider.E006"),
        ({"OIDC_ISS_ENDPOINT": "http://localhost:8000/o"}, "gatehouse.provider.E007"),
        ({"ALLOW_URI_WILDCARDS": True}, "gatehouse.provider.E009"),
        ({"DCR_ENABLED": True}, "gatehouse.provider.E010"),
        ({"REFRESH_TOKEN_GENERATOR": None}, "gatehouse.provider.E011"),
    ],
)
def test_each_unsafe_change_is_refused(changes, expected):
    assert expected in with_provider(**changes)


def test_a_one_hour_access_token_is_still_allowed():
    assert with_provider(ACCESS_TOKEN_EXPIRE_SECONDS=3600) == []


def test_production_without_client_secret_keys_does_not_start():
    env = {k: v for k, v in PRODUCTION.items() if k != "OAUTH_CLIENT_SECRET_KEYS"}
    result = boot(env)
    assert result.returncode != 0
    assert "gatehouse.provider.E008" in result.stderr
    assert "OAUTH_CLIENT_SECRET_KEYS" in result.stderr


def test_production_with_short_client_secret_keys_does_not_start():
    result = boot(PRODUCTION | {"OAUTH_CLIENT_SECRET_KEYS": "k1:short"})
    assert result.returncode != 0
    assert "gatehouse.provider.E008" in result.stderr


def test_production_with_long_lived_access_tokens_is_refused_by_manage_py():
    result = run_django(PRODUCTION | {"OAUTH_ACCESS_TOKEN_SECONDS": "86400"}, "manage.py", "check")
    assert result.returncode != 0
    assert "gatehouse.provider.E006" in result.stderr


def test_production_with_its_keys_starts():
    result = boot(PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "booted" in result.stdout
