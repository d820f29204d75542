"""Nothing is lost when a worker or the broker dies (docs/events.md 4.5, T19, T20).

The delivery's state is in the database: a worker killed mid-send leaves a claim that expires
and the loop sends the event again, with the same webhook-id; a broker that lost everything
it held is refilled from the table. The pipeline loop runs in this process, the deliveries
in real worker processes; the second test has a Redis of its own, so killing it harms no
other test (T20)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.actions import Action
from audit.services import record
from config.celery import app as celery_app
from config.celery import messages_waiting
from events import dispatch, services
from events.models import Delivery, Event
from events.tasks import prune_events
from tests.conftest import _test_database_url, broker_at, require
from tests.events.webhook_world import org_with_owner, run_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
WORKER = [
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
    "--loglevel=WARNING",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_worker(queue: str, broker: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DATABASE_OWNER_URL": "",
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DEBUG": "false",
        "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS": "true",
        "GATEHOUSE_WEBHOOK_TIMEOUT": "10",
        "GATEHOUSE_EVENTS_CLAIM_SECONDS": "20",
        # An attempt that fails under a loaded CI machine is tried again within seconds, not
        # after the real schedule's 5 minutes: what is tested here is the broker and the
        # worker, and a duplicate message no longer jumps the schedule.
        "GATEHOUSE_WEBHOOK_SCHEDULE": ",".join(["1"] * 30),
    }
    # What the worker says goes to a file, for the failure message (worker_log).
    log = tempfile.NamedTemporaryFile(prefix="gatehouse-worker-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [*WORKER, "-Q", queue], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    WORKER_LOGS[process.pid] = Path(log.name)
    return process


WORKER_LOGS: dict[int, Path] = {}


def worker_log(process: subprocess.Popen[bytes]) -> str:
    """The last lines the worker wrote (start-up refusals, lost connections)."""
    path = WORKER_LOGS.get(process.pid)
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-15:])


@pytest.fixture
def queue_here(settings) -> Iterator[str]:
    """Tasks this process queues go to a real broker, on a queue of this test's own."""
    require(connection.vendor == "postgresql", "DATABASE_URL pointing at PostgreSQL")
    require(settings.CELERY_BROKER_URL.startswith("redis://"), "a Redis broker (REDIS_URL)")
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.GATEHOUSE_EVENTS_CLAIM_SECONDS = 2  # the loop here takes claims back quickly
    queue = f"test-{uuid.uuid4().hex[:12]}"
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        celery_app.conf.task_default_queue = default_queue
        celery_app.conf.task_always_eager = True


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(20)


def org_event(org, actor) -> Event:
    record(Action.ORG_UPDATED, actor=actor, organization=org, target=org, data={"n": 1})
    return Event.objects.filter(organization_id=org.pk).latest("id")


def test_a_worker_killed_mid_delivery_loses_nothing(queue_here, receiver):
    org, owner = org_with_owner()
    created = services.create_endpoint(actor=owner, organization=org, url=receiver.url("/stall"))
    receiver.secrets("/stall", [created.secret])
    receiver.script("/stall", {"stall": True})
    first = start_worker(queue_here, settings.CELERY_BROKER_URL)
    second: subprocess.Popen[bytes] | None = None
    try:
        event = org_event(org, owner.user)
        run_until(lambda: receiver.log("/stall"), timeout=60)
        assert Delivery.objects.get(endpoint=created.endpoint).status == "sending"
        first.send_signal(signal.SIGKILL)
        first.wait(20)
        receiver.release()

        second = start_worker(queue_here, settings.CELERY_BROKER_URL)
        delivery = run_until(
            lambda: Delivery.objects.filter(endpoint=created.endpoint, status="delivered").first(),
            timeout=90,
        )
    finally:
        stop(first)
        if second is not None:
            stop(second)
    hits = receiver.log("/stall")
    assert [h["webhook_id"] for h in hits] == [event.public_id, event.public_id]
    assert all(h["verified_by"] == [0] for h in hits)
    assert delivery.attempts == 2


REDIS = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*REDIS, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        limit = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert time.monotonic() < limit, "redis-server did not start"
                time.sleep(0.05)

    def wait_for_consumer(self, queue: str, timeout: float = 60.0) -> None:
        """Until a worker has declared ``queue`` on this Redis (kombu's binding key), which it
        does once it is consuming: before that, a message published to the queue's exchange
        is routed nowhere."""
        import redis as redis_py

        client = redis_py.Redis(host="127.0.0.1", port=self.port)
        limit = time.monotonic() + timeout
        try:
            while not client.exists(f"_kombu.binding.{queue}"):
                assert time.monotonic() < limit, "the worker did not start consuming"
                time.sleep(0.1)
        finally:
            client.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def test_a_broker_that_dies_and_comes_back_empty_loses_nothing(queue_here, receiver):
    require(shutil.which("redis-server") is not None, "redis-server")
    redis = PrivateRedis()
    redis.start()
    org, owner = org_with_owner()
    created = services.create_endpoint(actor=owner, organization=org, url=receiver.url("/many"))
    receiver.secrets("/many", [created.secret])
    mine = Delivery.objects.filter(endpoint=created.endpoint)
    with broker_at(redis.url):
        worker = start_worker(queue_here, redis.url)
        try:
            try:
                redis.wait_for_consumer(queue_here)
            except AssertionError:
                said = worker_log(worker)
                raise AssertionError(f"the worker did not start; it said:\n{said}") from None
            ids = {org_event(org, owner.user).public_id for _ in range(200)}
            # The worker is up and sending (it has delivered some), and the rest is queued.
            try:
                run_until(
                    lambda: (
                        mine.count() == 200
                        and not mine.filter(status="pending", queued_at__isnull=True).exists()
                        and mine.filter(status="delivered").exists()
                    ),
                    timeout=120,
                )
            except AssertionError:
                seen = (
                    f"{mine.count()} deliveries, "
                    f"{mine.filter(queued_at__isnull=False).count()} queued, "
                    f"{mine.filter(status='delivered').count()} delivered, "
                    f"{messages_waiting(queue_here)} waiting on the private broker"
                )
                said = f"it said:\n{worker_log(worker)}"
                raise AssertionError(f"the worker sent nothing ({seen}); {said}") from None
            redis.kill()  # the queued messages go with it
            left = mine.exclude(status="delivered")
            assert left.exists(), "the worker delivered everything before the broker died"
            redis.start()  # empty: --save ""
            # The worker reconnects and declares its queue again (until then a message published
            # to the queue is routed nowhere, and the loop queues it again once it is empty).
            redis.wait_for_consumer(queue_here)
            try:
                run_until(lambda: not left.exists(), timeout=180)
            except AssertionError:
                stuck = list(left.values_list("status", "attempts", "last_error")[:5])
                raise AssertionError(
                    f"{left.count()} not delivered, such as {stuck}; the worker "
                    f"({'running' if worker.poll() is None else f'exited {worker.returncode}'}) "
                    f"said:\n{worker_log(worker)}"
                ) from None
        finally:
            stop(worker)
            if redis.process is not None:
                stop(redis.process)
    arrived = {h["webhook_id"] for h in receiver.log("/many")}
    assert arrived == ids
    assert all(h["verified_by"] == [0] for h in receiver.log("/many"))


def test_a_backlog_still_in_the_broker_is_not_queued_twice(queue_here):
    """A delivery queued a while ago and not yet taken is queued again only when the broker's
    queue is empty: a backlog the workers have not reached is waiting, not lost."""
    org, owner = org_with_owner()
    created = services.create_endpoint(actor=owner, organization=org, url="http://127.0.0.1:9/in")
    org_event(org, owner.user)
    # Dispatched and queued: the message waits on this test's queue, which no worker reads.
    delivery = run_until(
        lambda: Delivery.objects.filter(endpoint=created.endpoint, queued_at__isnull=False).first()
    )
    a_while_ago = delivery.queued_at - timedelta(seconds=5)
    Delivery.objects.filter(pk=delivery.pk).update(queued_at=a_while_ago)
    assert messages_waiting(queue_here) == 1

    assert dispatch.queue_due() == 0
    delivery.refresh_from_db()
    assert delivery.queued_at == a_while_ago
    assert messages_waiting(queue_here) == 1

    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue_here)  # the broker lost it
    assert messages_waiting(queue_here) == 0
    assert dispatch.queue_due() == 1
    delivery.refresh_from_db()
    assert delivery.queued_at > a_while_ago
    assert messages_waiting(queue_here) == 1


def test_a_delivery_lost_behind_a_queue_that_never_empties_is_queued_again(queue_here):
    org, owner = org_with_owner()
    created = services.create_endpoint(actor=owner, organization=org, url="http://127.0.0.1:9/in")
    org_event(org, owner.user)
    run_until(
        lambda: Delivery.objects.filter(endpoint=created.endpoint, queued_at__isnull=False).first()
    )
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue_here)
    prune_events.delay()  # someone else's message keeps the queue from being empty
    delivery = Delivery.objects.get(endpoint=created.endpoint)
    claim = timedelta(seconds=settings.GATEHOUSE_EVENTS_CLAIM_SECONDS)
    Delivery.objects.filter(pk=delivery.pk).update(queued_at=timezone.now() - 5 * claim)
    assert dispatch.queue_due() == 0
    Delivery.objects.filter(pk=delivery.pk).update(queued_at=timezone.now() - 11 * claim)
    assert dispatch.queue_due() == 1
    assert messages_waiting(queue_here) == 2
