"""Settings read from the environment: production is the default, and its start-up checks
(config/checks.py) refuse unsafe or missing settings in every process that serves or works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "k3Y-" + "x9Qz" * 16
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG_SECRET,
    "DATABASE_URL": "postgres://gatehouse@127.0.0.1:5432/gatehouse",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "id.example.com",
    "TRUSTED_PROXY_COUNT": "1",
    "WEBAUTHN_RP_ID": "id.example.com",
    "WEBAUTHN_ORIGINS": "https://id.example.com",
    "FIELD_ENCRYPTION_KEYS": "Yz3lK0c2bS1aV0m4Zl9wQ3J0dWc1eE5oVGhqR2l6cUE=",
    "OAUTH_CLIENT_SECRET_KEYS": "k1:" + "s3cr3t-HMAC-key-" * 3,
}
SETTINGS_VARS = (
    "GATEHOUSE_EMBEDDED",
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_OWNER_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "ALLOWED_HOSTS",
    "EMAIL_HOST",
    "TRUSTED_PROXY_COUNT",
    "SECURE_SSL_REDIRECT",
    "SECURE_COOKIES",
    "SECURE_HSTS_SECONDS",
    "WEBAUTHN_RP_ID",
    "WEBAUTHN_ORIGINS",
    "FIELD_ENCRYPTION_KEYS",
    "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS",
    "PUBLIC_URL",
    "OAUTH_CLIENT_SECRET_KEYS",
    "OAUTH_ACCESS_TOKEN_SECONDS",
    "OUTBOUND_ALLOWED_NETWORKS",
)


def run_django(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def boot(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start Gatehouse's web application as a WSGI server would."""
    return run_django(env_overrides, "-c", "import config.wsgi; print('booted')")


def test_production_settings_boot():
    result = boot(PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "booted" in result.stdout


def without(name: str) -> dict[str, str]:
    return {k: v for k, v in PRODUCTION.items() if k != name}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**without("REDIS_URL"), "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1"}, "shared cache"),
        (without("SECRET_KEY"), "SECRET_KEY must be set"),
        (without("DATABASE_URL"), "Production needs DATABASE_URL (PostgreSQL). (gatehouse.E002)"),
        ({**PRODUCTION, "DEBUG": "true"}, "DEBUG is on outside the embedded mode"),
        (without("TRUSTED_PROXY_COUNT"), "Set TRUSTED_PROXY_COUNT in production"),
        ({**PRODUCTION, "SECRET_KEY": "short"}, "SECRET_KEY is too short or too simple"),
        ({**PRODUCTION, "SECRET_KEY": "a" * 60}, "SECRET_KEY is too short or too simple"),
        ({**PRODUCTION, "DEBUG": "maybe"}, "DEBUG must be a boolean"),
    ],
    ids=[
        "local-cache",
        "no-secret",
        "no-database",
        "debug-on",
        "no-proxy-count",
        "short-secret",
        "simple-secret",
        "bad-bool",
    ],
)
def test_production_refuses_unsafe_settings(env, message):
    result = boot(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_an_owner_role_for_migrations_is_accepted_beside_the_application_role():
    owner = "postgres://gatehouse_owner:s3cret@127.0.0.1:5432/gatehouse"
    assert boot({**PRODUCTION, "DATABASE_OWNER_URL": owner}).returncode == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {**PRODUCTION, "DATABASE_OWNER_URL": "postgres://owner@127.0.0.1:5432/other"},
            "same host, port and database",
        ),
        (
            {**PRODUCTION, "DATABASE_OWNER_URL": "postgres://owner@db.internal:5432/gatehouse"},
            "same host, port and database",
        ),
        (
            {**PRODUCTION, "DATABASE_OWNER_URL": PRODUCTION["DATABASE_URL"]},
            "another role than DATABASE_URL",
        ),
        (
            {
                "GATEHOUSE_EMBEDDED": "1",
                "DATABASE_OWNER_URL": "postgres://owner@127.0.0.1/gatehouse",
            },
            "needs DATABASE_URL",
        ),
    ],
    ids=["other-database", "other-host", "same-role", "embedded"],
)
def test_the_owner_url_names_the_same_database_as_another_role(env, message):
    result = boot(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_zero_proxies_is_a_valid_answer():
    assert boot({**PRODUCTION, "TRUSTED_PROXY_COUNT": "0"}).returncode == 0


def test_operator_networks_for_outbound_calls_are_accepted():
    assert (
        boot({**PRODUCTION, "OUTBOUND_ALLOWED_NETWORKS": "10.20.0.0/16,fd12::/48"}).returncode == 0
    )


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        ("10.0.0.0/8,169.254.0.0/16", "(gatehouse.E012)"),
        ("169.254.169.254/32", "(gatehouse.E012)"),
        ("fd00:ec2::/64", "(gatehouse.E012)"),
        ("0.0.0.0/0", "(gatehouse.E012)"),
        ("10.0.0.0/33", "OUTBOUND_ALLOWED_NETWORKS must list CIDRs"),
        ("10.0.0.1/8", "OUTBOUND_ALLOWED_NETWORKS must list CIDRs"),
    ],
    ids=["link-local", "metadata", "aws-ipv6-metadata", "everything", "bad-prefix", "host-bits"],
)
def test_operator_networks_may_not_open_cloud_metadata_or_everything(networks, message):
    result = boot({**PRODUCTION, "OUTBOUND_ALLOWED_NETWORKS": networks})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("hosts", ["*", ".example.com", "id.example.com,*"])
def test_production_refuses_wildcard_hosts(hosts):
    result = boot({**PRODUCTION, "ALLOWED_HOSTS": hosts})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must list exact host names" in result.stderr


def test_check_deploy_passes_with_production_settings():
    result = run_django(PRODUCTION, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"WEBAUTHN_RP_ID": ""}, "WEBAUTHN_RP_ID"),
        ({"WEBAUTHN_RP_ID": "localhost"}, "WEBAUTHN_RP_ID"),
        ({"WEBAUTHN_ORIGINS": ""}, "WEBAUTHN_ORIGINS"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS"),
        ({"OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS": "true"}, "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS"),
        ({"WEBAUTHN_ORIGINS": "https://id.example.com,http://id.example.com"}, "https://"),
    ],
)
def test_production_refuses_passkeys_bound_to_nothing_or_to_http(overrides, message):
    env = {**PRODUCTION, **overrides}
    if not env["WEBAUTHN_RP_ID"]:
        del env["WEBAUTHN_RP_ID"]
    result = boot(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_no_environment_at_all_is_production_and_refused():
    # A deploy that forgot every variable must not come up in debug mode on SQLite.
    result = boot({"SECRET_KEY": STRONG_SECRET})
    assert result.returncode != 0
    assert "Gatehouse will not start" in result.stderr
    assert "gatehouse.E002" in result.stderr
    assert "gatehouse.E003" in result.stderr


def test_the_refusals_are_system_checks_that_manage_py_reports():
    result = run_django(
        {**PRODUCTION, "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS": "true"}, "manage.py", "check"
    )
    assert result.returncode != 0
    assert "(gatehouse.E010) OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS is for tests only" in result.stderr


def test_a_celery_worker_runs_the_same_checks_before_it_works():
    code = (
        "from config.celery import app, refuse_to_start_if_unsafe\n"
        "from celery.signals import worker_init\n"
        "assert refuse_to_start_if_unsafe in [r() for _, r in worker_init.receivers]\n"
        "refuse_to_start_if_unsafe()\n"
    )
    result = run_django({**PRODUCTION, "TRUSTED_PROXY_COUNT": ""}, "-c", code)
    assert result.returncode != 0
    assert "gatehouse.E006" in result.stderr


def test_the_embedded_mode_is_asked_for_and_then_needs_nothing():
    result = run_django(
        {"GATEHOUSE_EMBEDDED": "1"},
        "-c",
        "import config.wsgi; from django.conf import settings; print(settings.DEBUG)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
