"""How a stream's batches go: at most a batch's worth at a time, a failure (503, timeout,
redirect) keeps the stream's place and backs it off, a stream that was down catches up with
nothing lost or skipped, claims keep two workers off one stream, a stream failing for 7 days
is turned off and its admins told, ``queue_due_streams`` queues only what is due, and a
second message for a stream that is backing off sends nothing before its time."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from audit.actions import Action
from audit.chain.models import AuditChain, AuditSeal
from audit.models import AuditEvent
from audit.streams import delivery, services, source
from audit.streams.models import LogStream
from audit.streams.transports import common
from tests.audit.helpers import dated, series
from tests.audit.streams.conftest import admin_of, drain, make_stream, seal, wait_out_backoff
from tests.audit.streams.receivers import Answer, Later, signed
from tests.organizations.conftest import OrgWorld


def chain_size(org) -> int:
    return AuditChain.objects.get(chain=org.pk).size


def signed_stream(world, http_receiver, **chosen):
    """An HTTPS stream to a receiver that checks signatures; its batches and the receiver."""
    batches: list = []
    judge = Later()
    receiver = http_receiver(judge)
    created = make_stream(world, url=receiver.url("/siem"), **chosen)
    judge.judge = signed(created.signing_secret, batches)
    return created.stream, batches, receiver


def sent_positions(batches) -> list[int]:
    return [r["chain"]["position"] for batch in batches for r in batch]


def reload(stream) -> LogStream:
    return LogStream.objects.get(pk=stream.pk)


def test_a_long_backlog_goes_in_batches_each_within_the_limit(world, http_receiver, monkeypatch):
    monkeypatch.setattr(source, "MAX_EVENTS", 4)
    stream, batches, _ = signed_stream(world, http_receiver)
    series(world.a, 10)
    seal()
    assert drain(stream)[-1] == "nothing to send"
    assert [len(b) for b in batches] == [4, 4, 3]  # ten sign-ins and the stream's creation
    assert sent_positions(batches) == list(range(stream.position + 1, chain_size(world.a) + 1))


def test_a_batch_stops_before_the_byte_limit_and_the_rest_follows(
    world, http_receiver, monkeypatch
):
    monkeypatch.setattr(delivery, "MAX_BATCH_BYTES", 1500)
    stream, batches, _ = signed_stream(world, http_receiver)
    series(world.a, 6, data={"note": "x" * 400})
    seal()
    drain(stream)
    assert len(batches) > 1
    assert all(len(b) >= 1 for b in batches)
    assert sent_positions(batches) == list(range(stream.position + 1, chain_size(world.a) + 1))


def test_a_503_keeps_the_place_backs_off_as_asked_and_the_next_try_delivers(world, http_receiver):
    stream, batches, receiver = signed_stream(world, http_receiver)
    receiver.queued.append(Answer(503, b"busy", (("Retry-After", "120"),)))
    seal()
    before = timezone.now()
    assert delivery.deliver_next_batch(stream.pk) == "failed"
    failing = reload(stream)
    assert failing.position == stream.position
    assert failing.status == LogStream.Status.FAILING
    assert failing.attempts == 1
    assert failing.last_error == "HTTP 503: busy"
    assert failing.next_attempt_at is not None
    assert failing.next_attempt_at >= before + timedelta(seconds=120)  # Retry-After wins
    assert failing.failing_since is not None
    assert batches == []

    wait_out_backoff(stream)
    assert delivery.deliver_next_batch(stream.pk) == "delivered"
    healed = reload(stream)
    assert healed.status == LogStream.Status.ACTIVE
    assert (healed.attempts, healed.last_error, healed.failing_since) == (0, "", None)
    assert healed.position == chain_size(world.a)
    # The retry is the same batch, under the same webhook-id.
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


def test_failures_back_off_further_each_time_and_never_give_up_the_place(world, http_receiver):
    stream, _, receiver = signed_stream(world, http_receiver)
    seal()
    waits = []
    for _ in range(6):
        receiver.queued.append(Answer(500, b"down"))
        wait_out_backoff(stream)
        before = timezone.now()
        assert delivery.deliver_next_batch(stream.pk) == "failed"
        next_at = reload(stream).next_attempt_at
        assert next_at is not None
        waits.append(next_at - before)
    assert waits[0] < timedelta(seconds=10)
    assert timedelta(minutes=3) < waits[1] < waits[2]
    assert waits[3] >= timedelta(minutes=90)
    assert waits[5] <= timedelta(hours=3)  # the schedule levels off; it does not end
    after = reload(stream)
    assert after.status == LogStream.Status.FAILING
    assert after.position == stream.position


def test_a_timeout_is_a_failure_and_the_batch_is_sent_again(world, http_receiver, monkeypatch):
    monkeypatch.setattr(common, "TIMEOUT_SECONDS", 0.5)
    stream, batches, receiver = signed_stream(world, http_receiver)
    receiver.queued.append(Answer(204, delay=2.0))
    seal()
    assert delivery.deliver_next_batch(stream.pk) == "failed"
    assert reload(stream).last_error == "The server did not answer in time."
    assert reload(stream).position == stream.position
    wait_out_backoff(stream)
    assert drain(stream) == ["delivered", "nothing to send"]
    assert sent_positions(batches) == list(range(stream.position + 1, chain_size(world.a) + 1))


def test_a_redirect_is_not_followed_and_counts_as_a_failure(world, http_receiver):
    stream, batches, receiver = signed_stream(world, http_receiver)
    receiver.queued.append(Answer(302, headers=(("Location", "http://169.254.169.254/"),)))
    seal()
    assert delivery.deliver_next_batch(stream.pk) == "failed"
    assert reload(stream).last_error.startswith("HTTP 302")
    assert len(receiver.requests) == 1
    assert batches == []


def test_a_stream_that_was_down_catches_up_with_nothing_lost_or_skipped(
    world, http_receiver, monkeypatch
):
    monkeypatch.setattr(source, "MAX_EVENTS", 7)
    stream, batches, receiver = signed_stream(world, http_receiver)
    for _ in range(3):  # down for three attempts while the log keeps growing
        series(world.a, 5, action="login.failed", outcome="failure")
        seal()
        receiver.queued.append(Answer(503))
        wait_out_backoff(stream)
        assert delivery.deliver_next_batch(stream.pk) == "failed"
    series(world.a, 4)
    seal()
    wait_out_backoff(stream)
    assert drain(stream)[-1] == "nothing to send"
    everything = list(range(stream.position + 1, chain_size(world.a) + 1))
    assert sent_positions(batches) == everything  # in order, each exactly once
    sent_ids = [r["id"] for batch in batches for r in batch]
    sealed = AuditSeal.objects.filter(chain=world.a.pk, position__gt=stream.position)
    assert sent_ids == [
        str(e) for e in sealed.order_by("position").values_list("event_id", flat=True)
    ]
    assert len(sent_ids) == 20


def test_only_the_chosen_actions_are_sent_but_the_place_moves_past_the_rest(world, http_receiver):
    stream, batches, _ = signed_stream(world, http_receiver, actions=["login.failed"])
    series(world.a, 3, action="login.succeeded")
    series(world.a, 2, action="login.failed", outcome="failure")
    seal()
    drain(stream)
    assert [r["action"] for b in batches for r in b] == ["login.failed", "login.failed"]
    assert reload(stream).position == chain_size(world.a)


def test_a_claimed_stream_is_not_sent_twice_but_a_stalled_claim_is_taken_over(world, http_receiver):
    stream, batches, _ = signed_stream(world, http_receiver)
    seal()
    LogStream.objects.filter(pk=stream.pk).update(claimed_at=timezone.now())
    assert delivery.deliver_next_batch(stream.pk) == "not claimed"
    assert batches == []
    stalled = timezone.now() - delivery.CLAIM_TIMEOUT - timedelta(seconds=1)
    LogStream.objects.filter(pk=stream.pk).update(claimed_at=stalled)
    assert delivery.deliver_next_batch(stream.pk) == "delivered"
    assert reload(stream).claimed_at is None


def test_queue_due_streams_sends_due_streams_only(world, http_receiver):
    due, due_batches, _ = signed_stream(world, http_receiver, name="due")
    later, later_batches, _ = signed_stream(world, http_receiver, name="later")
    paused, paused_batches, _ = signed_stream(world, http_receiver, name="paused")
    seal()
    LogStream.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1), status="failing"
    )
    services.pause_stream(actor=admin_of(world), org=world.a, stream_id=paused.public_id)
    seal()
    assert delivery.queue_due_streams() == 1  # tasks run eagerly here
    assert due_batches
    assert later_batches == []
    assert paused_batches == []
    assert reload(due).queued_at is None  # the task took it
    assert delivery.queue_due_streams() == 0  # up to date: nothing queued


def test_a_stream_failing_for_seven_days_is_turned_off_and_its_admins_told(world, http_receiver):
    stream, batches, receiver = signed_stream(world, http_receiver)
    seal()
    LogStream.objects.filter(pk=stream.pk).update(
        status="failing", failing_since=timezone.now() - timedelta(days=7, minutes=1)
    )
    receiver.queued.append(Answer(503))
    assert delivery.deliver_next_batch(stream.pk) == "failed"
    off = reload(stream)
    assert off.status == LogStream.Status.DISABLED
    assert off.position == stream.position
    notice = AuditEvent.objects.get(action=Action.AUDIT_STREAM_DISABLED)
    assert notice.organization_id == world.a.pk
    assert notice.data["last_error"] == "HTTP 503: Service Unavailable"
    told = sorted(m.to[0] for m in mail.outbox)
    assert told == ["admin@a.example", "owner@a.example"]
    assert "/orgs/acme/streams/" in mail.outbox[0].body
    assert delivery.queue_due_streams() == 0  # a turned-off stream is not queued

    services.resume_stream(actor=admin_of(world), org=world.a, stream_id=stream.public_id)
    seal()
    assert drain(stream)[-1] == "nothing to send"
    actions = [r["action"] for b in batches for r in b]
    assert "audit.stream_disabled" in actions
    assert "audit.stream_resumed" in actions
    assert sent_positions(batches) == list(range(stream.position + 1, chain_size(world.a) + 1))


def test_events_removed_by_retention_before_they_were_sent_are_passed_over_and_named(
    http_receiver,
):
    from audit import retention
    from tests.audit.chain.helpers import sign_as_of

    now = timezone.now()
    # The organization and its stream were set up long ago; their own events are that old.
    with dated(now - timedelta(days=700)):
        world = OrgWorld()
        stream, batches, _ = signed_stream(world, http_receiver)
    old = series(world.a, 5, start=now - timedelta(days=400))
    seal()
    # Beat's checkpoint of that time lets retention cut the chain up to it (T27).
    checkpoint = sign_as_of(world.a.pk, now - timedelta(days=350))
    recent = series(
        world.a, 3, start=now - timedelta(days=1), action="login.failed", outcome="failure"
    )
    seal()
    # Retention takes the stream's creation and the five old events, never the recent ones.
    assert retention.purge(world.a.pk, cutoff=now - timedelta(days=300)) == checkpoint.size
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in recent]).count() == 3

    assert drain(stream)[-1] == "nothing to send"
    sent = sent_positions(batches)
    assert sent == list(range(checkpoint.size + 1, chain_size(world.a) + 1))
    assert [r["action"] for b in batches for r in b].count("login.failed") == 3
    after = reload(stream)
    assert after.position == chain_size(world.a)
    assert after.last_gap == (
        f"Positions {stream.position + 1} to {checkpoint.size} were removed by retention "
        "before delivery."
    )


def test_a_second_message_before_the_back_off_ends_sends_nothing(world, http_receiver):
    """The queue pass sends a stream's task again when the first sat a minute unclaimed, and
    the broker may hand a message out twice: the copy that runs after a failure must wait for
    the back-off like everything else."""
    from audit.streams.tasks import deliver_stream

    stream, batches, receiver = signed_stream(world, http_receiver)
    receiver.queued.append(Answer(503, b"busy"))
    seal()
    assert delivery.deliver_next_batch(stream.pk) == "failed"
    failing = reload(stream)
    assert failing.next_attempt_at is not None
    assert failing.next_attempt_at > timezone.now()

    assert deliver_stream.delay(stream.pk).get() == "not due"  # the duplicate message
    assert delivery.deliver_next_batch(stream.pk) == "not due"

    assert len(receiver.requests) == 1  # only the attempt that failed reached the receiver
    assert batches == []
    after = reload(stream)
    assert (after.attempts, after.position, after.claimed_at) == (1, stream.position, None)
    assert after.next_attempt_at == failing.next_attempt_at  # the back-off was not shortened
    assert after.status == LogStream.Status.FAILING

    wait_out_backoff(stream)
    assert delivery.deliver_next_batch(stream.pk) == "delivered"
    assert sent_positions(batches) == list(range(stream.position + 1, chain_size(world.a) + 1))
