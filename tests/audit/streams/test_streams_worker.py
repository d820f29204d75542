"""A stream delivered by a real Celery worker: events committed by one process, sealed once the
transaction-id horizon passes them (it is cluster-wide, T2, so the wait tolerates other
sessions), queued by ``queue_due_streams`` and sent by the worker process to a receiver on
loopback, which checks the batches' signatures."""

from __future__ import annotations

import time

import pytest
from django.db.models import Max

from audit.chain import sealer
from audit.chain.models import AuditChain
from audit.models import AuditEvent
from audit.streams import delivery, services
from audit.streams.checks import StreamSettings
from audit.streams.models import LogStream
from events import horizon
from tests.audit.helpers import series
from tests.audit.streams.receivers import Later, signed

pytestmark = pytest.mark.django_db(transaction=True)


def seal_committed(timeout: float = 60.0) -> None:
    """Seal everything committed, as the pipeline does: once the horizon is past it."""
    newest = AuditEvent.objects.aggregate(newest=Max("txid"))["newest"]
    limit = time.monotonic() + timeout
    while newest is not None and horizon.ordered_by_commit():
        current = horizon.current_horizon()
        if current is not None and current > newest:
            break
        assert time.monotonic() < limit, "the horizon did not pass the newest audit event"
        time.sleep(0.05)
    while sealer.seal_batch():
        pass


def wait_for(condition, timeout: float = 60.0) -> None:
    limit = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < limit, "the worker did not deliver in time"
        time.sleep(0.1)


@pytest.fixture
def loopback_for_the_worker(monkeypatch):
    """The worker is another process: it reads the test switch from its environment."""
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS", "true")


def test_a_real_worker_delivers_every_sealed_event_in_order(
    loopback_for_the_worker, celery_worker, world, http_receiver
):
    batches: list = []
    judge = Later()
    receiver = http_receiver(judge)
    seal_committed()
    created = services.create_stream(
        actor=world.membership(world.a, world.a_admin),
        org=world.a,
        chosen=StreamSettings(name="SIEM", kind="https", url=receiver.url("/siem")),
    )
    judge.judge = signed(created.signing_secret, batches)
    series(world.a, 12, action="login.failed", outcome="failure")
    seal_committed()
    size = AuditChain.objects.get(chain=world.a.pk).size

    assert delivery.queue_due_streams() == 1
    wait_for(lambda: LogStream.objects.get(pk=created.stream.pk).position == size)

    sent = [r["chain"]["position"] for batch in batches for r in batch]
    assert sent == list(range(created.stream.position + 1, size + 1))
    assert [r["action"] for b in batches for r in b].count("login.failed") == 12
    stream = LogStream.objects.get(pk=created.stream.pk)
    assert stream.claimed_at is None
    assert stream.queued_at is None
    assert stream.last_success_at is not None
