"""Fixtures for the log stream tests: two organizations (tests/organizations/conftest.py's
world), loopback allowed as the outbound module's test switch allows it, receivers that stop
after the test, and sealing inside the test's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from audit.chain import sealer
from audit.chain.models import SealCursor
from audit.streams import delivery, services
from audit.streams.checks import StreamSettings
from audit.streams.models import LogStream
from tests.audit.streams.receivers import HttpReceiver, Judge, SyslogReceiver
from tests.organizations.conftest import OrgWorld


@pytest.fixture
def world() -> OrgWorld:
    return OrgWorld()


@pytest.fixture(autouse=True)
def loopback(settings):
    """Loopback (and plain http to it) allowed, as in every outbound test; nothing else."""
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
def http_receiver() -> Iterator[Callable[..., HttpReceiver]]:
    started: list[HttpReceiver] = []

    def start(judge: Judge, tls: Any = None) -> HttpReceiver:
        receiver = HttpReceiver(judge, tls)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def syslog_receiver() -> Iterator[Callable[..., SyslogReceiver]]:
    started: list[SyslogReceiver] = []

    def start(tls: Any) -> SyslogReceiver:
        receiver = SyslogReceiver(tls)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def seal() -> int:
    """Seal every audit event written so far, the test's own included: inside the test's
    transaction the horizon never passes them, so it is taken as passed. All of them share the
    test transaction's id, and their uuids are random: the sealer's cursor is reset so a later
    event with a smaller uuid is not left behind (the sealer skips what it already sealed)."""
    SealCursor.objects.update(txid=0, last_id="")
    return sealer._seal(10_000, 2**62)


def admin_of(world: OrgWorld, org: Any = None) -> Any:
    return world.membership(
        org or world.a, world.a_admin if org in (None, world.a) else world.b_admin
    )


def make_stream(world: OrgWorld, org: Any = None, **chosen: Any) -> services.Created:
    """A stream of ``org`` (org A by default), made by its admin through the service, after
    sealing what came before (so the stream starts after the world's own set-up)."""
    seal()
    values = {"name": "SIEM", "kind": LogStream.Kind.HTTPS} | chosen
    target = org or world.a
    return services.create_stream(
        actor=admin_of(world, target), org=target, chosen=StreamSettings(**values)
    )


def drain(stream: LogStream, rounds: int = 50) -> list[str]:
    """Send batches until the stream has nothing more (or a send fails, or it is not due).
    What each round did."""
    done: list[str] = []
    for _ in range(rounds):
        outcome = delivery.deliver_next_batch(stream.pk)
        done.append(outcome)
        if outcome in ("nothing to send", "failed", "not claimed", "not due"):
            return done
    return done


def wait_out_backoff(stream: LogStream) -> None:
    """What waiting does to a failing stream: its back-off is over and its next attempt is
    due now. A batch is sent only when it is due (a claim before then answers "not due")."""
    LogStream.objects.filter(pk=stream.pk).update(next_attempt_at=timezone.now())
