"""Syslog over TLS has one deadline over the whole session, as an HTTPS send has (found in
review): a real TLS receiver on loopback that answers each step just inside a per-step
timeout, but takes longer than the deadline for the session, is cut off at the deadline.
The stream keeps its place and names the error, the batch goes again whole once the server
is quick, and the portal's test button gives up in the same time."""

from __future__ import annotations

import time

import pytest

from audit.actions import Action
from audit.chain.models import AuditChain
from audit.models import AuditEvent
from audit.streams import delivery
from audit.streams.models import LogStream
from audit.streams.transports import common
from tests.audit.helpers import series
from tests.audit.streams.conftest import drain, make_stream, seal, wait_out_backoff
from tests.audit.streams.receivers import parse_message, split_frames, throwaway_pki
from tests.organizations.conftest import signed_in

DEADLINE = 1.0
# Each of the receiver's two waits is inside the deadline (so inside any per-step timeout of
# that length); the two together are not.
PAUSE = 0.7
TIMED_OUT = "The server did not answer in time."


@pytest.fixture
def slow_syslog(world, syslog_receiver, tmp_path, monkeypatch):
    monkeypatch.setattr(common, "TIMEOUT_SECONDS", DEADLINE)
    pki = throwaway_pki(tmp_path)
    receiver = syslog_receiver(pki.server)
    receiver.pause = PAUSE
    created = make_stream(
        world, kind="syslog_tls", host="localhost", port=receiver.port, ca_pem=pki.ca_pem
    )
    return created.stream, receiver


def positions(session: bytes) -> list[int]:
    return [parse_message(frame).record["chain"]["position"] for frame in split_frames(session)]


def test_a_syslog_server_slow_at_every_step_is_cut_off_at_the_deadline(world, slow_syslog):
    stream, receiver = slow_syslog
    series(world.a, 3, action="login.failed", outcome="failure")
    seal()

    started = time.monotonic()
    assert delivery.deliver_next_batch(stream.pk) == "failed"
    took = time.monotonic() - started

    assert took < 2 * PAUSE + 0.5  # the server alone would have taken 2 * PAUSE, and more
    after = LogStream.objects.get(pk=stream.pk)
    assert after.last_error == TIMED_OUT
    assert (after.status, after.attempts) == (LogStream.Status.FAILING, 1)
    assert after.position == stream.position  # nothing counted as sent
    assert after.claimed_at is None

    receiver.pause = 0.0  # the server is quick again: the whole batch goes again
    wait_out_backoff(stream)
    assert drain(stream) == ["delivered", "nothing to send"]
    size = AuditChain.objects.get(chain=world.a.pk).size
    assert LogStream.objects.get(pk=stream.pk).position == size
    everything = list(range(stream.position + 1, size + 1))
    # Syslog has no acknowledgment (T25): the server may have kept the session the deadline
    # cut, but whatever it kept is whole messages, and the retry carried the whole batch.
    assert everything in [positions(session) for session in receiver.sessions]


def test_the_test_button_gives_up_on_a_slow_syslog_server_at_the_deadline(world, slow_syslog):
    stream, _ = slow_syslog
    admin = signed_in(world.a_admin)

    started = time.monotonic()
    page = admin.post(f"/orgs/acme/streams/{stream.public_id}/test/", follow=True)
    took = time.monotonic() - started

    assert took < 2 * PAUSE + 0.5
    assert f"The test message was not delivered. {TIMED_OUT}" in page.content.decode()
    [tested] = AuditEvent.objects.filter(action=Action.AUDIT_STREAM_TESTED)
    assert (tested.data["delivered"], tested.data["result"]) == (False, TIMED_OUT)
    assert LogStream.objects.get(pk=stream.pk).position == stream.position
