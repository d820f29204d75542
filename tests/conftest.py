"""Shared fixtures.

Every test runs inside one transaction that is rolled back afterwards (pytest-django's ``db``),
and starts from empty tables. Gatehouse defers emails and jobs with ``on_commit``: inside that
transaction they run as in production, when the service that deferred them commits
(tests/autocommit.py). Tests that need what only a real commit gives (several connections or
threads, a live server, a real worker, a second database role reading committed rows) ask for
``transactional_db`` or are marked ``@pytest.mark.django_db(transaction=True)``: their tables are
emptied after them instead. Celery runs tasks eagerly here except in the tests that start a real
worker (the ``celery_worker`` fixture).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings

from audit import db_roles
from config.celery import app as celery_app
from provider import keys
from sso import certificates
from tests import autocommit
from tests.factories import DEFAULT_PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parents[1]

# CI sets this: there, a test that needs PostgreSQL, Redis or Chromium fails instead of skipping.
REQUIRE_ALL = os.environ.get("GATEHOUSE_REQUIRE_SERVICES") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip on a laptop that lacks an outside service; fail in CI, where it must be there."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required for this run but missing: {reason}")
    pytest.skip(reason)


class SpKeyPool:
    """Stands in for ``sso.certificates.new_sp_key_pair`` in tests: a new 3072-bit RSA key costs
    0.1 to 0.5 s, and the suite creates SSO connections by the hundred. The first ``size`` calls
    make real keys; later calls take them in turn, so two calls in a row never hand out the
    same key (a rotation still changes it). Each call still builds a fresh certificate with the
    name it was given, as Gatehouse does."""

    def __init__(self, original: Callable[[str], tuple[str, str]], size: int = 6) -> None:
        self.original = original
        self.size = size
        self.keys: list[rsa.RSAPrivateKey] = []
        self.calls = 0

    def __call__(self, common_name: str) -> tuple[str, str]:
        if len(self.keys) < self.size:
            self.keys.append(
                rsa.generate_private_key(public_exponent=65537, key_size=certificates.SP_KEY_BITS)
            )
        key = self.keys[self.calls % self.size]
        self.calls += 1
        return certificates.self_signed_pair(key, common_name)


@pytest.fixture(scope="session", autouse=True)
def sp_key_pool():
    pool = SpKeyPool(certificates.new_sp_key_pair)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(certificates, "new_sp_key_pair", pool)
        yield pool


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings):
    """With DATABASE_OWNER_URL set (CI), the test database is created and migrated by the
    owner role, as a deploy migrates (audit/db_roles.py)..."""
    db_roles.become_owner()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """...and the tests run as the application role, so the database refuses them what it
    refuses Gatehouse in production. The owner drops the database at the end.

    Every test starts from empty tables: the rows data migrations add (the default consent
    purposes) are flushed once here, as a transactional test's ``flush`` empties the tables
    after it (as the owner: audit/management/commands/flush.py). Otherwise a test would see
    them or not depending on whether a transactional test ran before it."""
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
    db_roles.become_app()
    yield
    db_roles.become_owner()


@pytest.fixture(scope="session", autouse=True)
def _autocommit_as_in_production():
    """Outside a service, code runs as in production's autocommit even inside a test's
    rolled-back transaction: ``on_commit`` hooks run when the service that registered them
    commits, row locks need a transaction (tests/autocommit.py)."""
    autocommit.install()


@pytest.fixture(scope="session", autouse=True)
def _plain_http():
    """Production settings (CI) redirect plain HTTP to HTTPS and mark cookies Secure; the test
    client and the live server for the browser speak plain HTTP on loopback. Session-scoped,
    so it is in force before the live server builds its middleware."""
    with override_settings(
        SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False
    ):
        yield


@pytest.fixture(autouse=True)
def _gatehouse_test_environment(db):
    celery_app.conf.task_always_eager = True
    cache.clear()
    keys.forget_cached_keys()  # each test makes its own signing keys
    yield
    cache.clear()


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def password() -> str:
    return DEFAULT_PASSWORD


@pytest.fixture
def logged_in_client(user, password) -> Client:
    client = Client(HTTP_USER_AGENT="pytest-browser/1.0")
    response = client.post("/accounts/login/", {"login": user.email, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


def force_login_verified(client: Client, user) -> Client:
    """Log ``user`` in as if they had passed a second factor (a confirmed TOTP device), which
    the admin requires. For tests about what staff do in the admin, not about how they log in."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or (
        TOTPDevice.objects.create(user=user, name="Test phone", confirmed=True)
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def links_in(message: mail.EmailMessage) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", str(message.body))


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Inbox:
    """Messages a real SMTP server on loopback received, as parsed email messages."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A real server's answer to a mailbox that does not exist: permanent (5xx).
        if address.endswith("@refused.test"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port; yields (port, inbox)."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


BROKER_SETTINGS = ("broker_url", "broker_read_url", "broker_write_url")


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """This process's Celery app publishes to and reads from ``url`` inside the block, then goes
    back to the broker it had. The read and write URLs are set too: Celery prefers them (and
    the ``CELERY_BROKER_URL`` environment variable) to ``broker_url``. Pooled connections and
    the publisher hold the broker they were made for, so they are dropped both ways."""
    saved = {name: celery_app.conf.get(name) for name in BROKER_SETTINGS}

    def point(values: dict[str, str | None]) -> None:
        for name, value in values.items():
            celery_app.conf[name] = value
        celery_app._after_fork()
        celery_app.__dict__.pop("amqp", None)

    point(dict.fromkeys(BROKER_SETTINGS, url))
    try:
        yield
    finally:
        point(saved)


@pytest.fixture
def celery_worker(transactional_db, smtp_server):
    """A real worker process on its own queue, sharing the test database and Redis: it reads
    only what the test committed."""
    require(connection.vendor == "postgresql", "DATABASE_URL pointing at PostgreSQL")
    require(settings.CELERY_BROKER_URL.startswith("redis://"), "a Redis broker (REDIS_URL)")
    port, inbox = smtp_server
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DATABASE_OWNER_URL": "",  # a worker runs as the application role alone
        "DEBUG": "false",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "false",
        # Jobs the worker queues itself (an email after an erasure) stay on this test's queue.
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    celery_app.conf.task_always_eager = False
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        yield inbox
    finally:
        celery_app.conf.task_default_queue = default_queue
        celery_app.conf.task_always_eager = True
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        print(output[-4000:])
