"""Start-up checks: settings that are unsafe, or missing, outside the embedded mode.

They are Django system checks (``manage.py check`` lists them), and every Gatehouse process
runs them before it serves or works: ``manage.py`` commands through Django, the web server
through config/wsgi.py and config/asgi.py, Celery through config/celery.py. An error stops
the process with the check's message.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

TAG = "gatehouse"


def _error(number: int, message: str, hint: str = "") -> checks.Error:
    return checks.Error(message, hint=hint or None, id=f"gatehouse.E{number:03d}")


@checks.register(TAG)
def production_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Production must not run with settings that only make sense on a laptop."""
    if settings.EMBEDDED:
        return []
    errors: list[checks.CheckMessage] = []
    if settings.DEBUG:
        errors.append(
            _error(
                1,
                "DEBUG is on outside the embedded mode: error pages would show settings and "
                "code to anyone.",
                "Unset DEBUG, or run the embedded mode with GATEHOUSE_EMBEDDED=1 (make run).",
            )
        )
    if not settings.DATABASE_URL:
        errors.append(
            _error(
                2,
                "Production needs DATABASE_URL (PostgreSQL).",
                "Set DATABASE_URL, or GATEHOUSE_EMBEDDED=1 for the embedded mode on SQLite.",
            )
        )
    backend = str(settings.CACHES["default"]["BACKEND"])
    if backend.endswith(("locmem.LocMemCache", "dummy.DummyCache")):
        errors.append(
            _error(
                3,
                "Production needs a shared cache: rate limits, lockouts and sessions kept in "
                "per-process memory are not shared between workers.",
                "Set REDIS_URL.",
            )
        )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        errors.append(
            _error(4, "Production needs a Celery broker.", "Set REDIS_URL or CELERY_BROKER_URL.")
        )
    secret = settings.SECRET_KEY
    if len(secret) < 50 or len(set(secret)) < 5:
        errors.append(_error(5, "SECRET_KEY is too short or too simple for production."))
    if not settings.GATEHOUSE_TRUSTED_PROXY_COUNT_IS_SET:
        # Behind a proxy, the default (0) would make every client look like the proxy: one
        # failed-login counter for everybody, and the proxy's address in every audit event.
        errors.append(
            _error(
                6,
                "Set TRUSTED_PROXY_COUNT in production: the number of proxies in front of "
                "Gatehouse that append to X-Forwarded-For (0 if clients connect directly).",
            )
        )
    errors.extend(_passkey_and_secret_errors())
    errors.extend(_host_errors())
    return errors


def _passkey_and_secret_errors() -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    origins = settings.OTP_WEBAUTHN_ALLOWED_ORIGINS
    if settings.OTP_WEBAUTHN_RP_ID in ("", "localhost") or not origins:
        errors.append(
            _error(
                7,
                "Set WEBAUTHN_RP_ID (the site's domain, e.g. id.example.com) and "
                "WEBAUTHN_ORIGINS (e.g. https://id.example.com) in production: passkeys are "
                "bound to them.",
            )
        )
    insecure_origins = [origin for origin in origins if not origin.startswith("https://")]
    if insecure_origins:
        errors.append(_error(8, f"WEBAUTHN_ORIGINS must all be https:// ({insecure_origins})."))
    if not settings.FIELD_ENCRYPTION_KEYS:
        errors.append(
            _error(
                9,
                "Set FIELD_ENCRYPTION_KEYS in production (comma-separated Fernet keys, newest "
                "first): IdP client secrets and SP private keys are encrypted with them.",
            )
        )
    if settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS:
        errors.append(
            _error(
                10,
                "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS is for tests only: it lets org admins make "
                "Gatehouse call its own machine, over plain http.",
            )
        )
    errors.extend(_outbound_network_errors())
    return errors


# Cloud metadata services live on link-local addresses (169.254.169.254, fd00:ec2::254 is the
# exception, inside a ULA) or on Alibaba's 100.100.100.200: credentials for the whole machine.
_METADATA = [
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
]
_LINK_LOCAL = [ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10")]


def _outbound_network_errors() -> list[checks.CheckMessage]:
    """The operator's private-network allowance for its own webhooks and streams may not open
    cloud metadata or everything at once."""
    bad = [
        str(net)
        for net in settings.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS
        if net.prefixlen == 0
        or any(net.overlaps(ll) for ll in _LINK_LOCAL if ll.version == net.version)
        or any(ip in net for ip in _METADATA)
    ]
    if not bad:
        return []
    return [
        _error(
            12,
            f"OUTBOUND_ALLOWED_NETWORKS must not include link-local or cloud metadata "
            f"addresses, or every address ({', '.join(bad)}).",
            "List only the private networks where your own webhook or log receivers run.",
        )
    ]


def _host_errors() -> list[checks.CheckMessage]:
    wildcard_hosts = [h for h in settings.ALLOWED_HOSTS if h == "*" or h.startswith(".")]
    if not wildcard_hosts:
        return []
    # Links in emails (verification, password reset) are built from the Host header.
    return [
        _error(
            11,
            f"ALLOWED_HOSTS must list exact host names in production, not {wildcard_hosts}: "
            "emailed links are built from the request's host.",
        )
    ]


def refuse_to_start_if_unsafe() -> None:
    """Run Gatehouse's checks in a process Django's commands do not start (the web server, a
    Celery worker) and stop it on the first error, with every error's message."""
    errors = [
        message
        for message in checks.run_checks(tags=[TAG])
        if message.level >= checks.ERROR and not message.is_silenced()
    ]
    if errors:
        raise ImproperlyConfigured(
            "Gatehouse will not start:\n"
            + "\n".join(
                f"- {error.msg} ({error.id})" + (f" {error.hint}" if error.hint else "")
                for error in errors
            )
        )
