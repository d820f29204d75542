"""A delivery is never sent ahead of its schedule, and nothing a send does wrong (a header no
parser expected, an error inside Gatehouse) leaves it claimed for ever: found in review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.streams.transports.common import retry_after
from events import delivery as deliveries
from events.models import Delivery, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


def a_delivery(**fields) -> Delivery:
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example/in")
    event = Event.objects.create(type="user.created")
    return Delivery.objects.create(endpoint=endpoint, event=event, **fields)


def test_a_retry_after_of_unicode_digits_is_ignored_not_a_crash():
    # "²" is a digit to str.isdigit() and not to int(): a hostile receiver's header.
    for value in ("\u00b2", "\u00b3", "1\u00b2"):
        assert deliveries.retry_after_seconds(value) is None
        assert retry_after(value) is None
    assert deliveries.retry_after_seconds("120") == 120
    assert retry_after("120") == 120.0


def test_a_second_broker_message_does_not_send_before_the_schedule_says(monkeypatch):
    later = a_delivery(next_attempt_at=timezone.now() + timedelta(minutes=5))
    monkeypatch.setattr(deliveries, "send", lambda claimed: pytest.fail("sent ahead of time"))

    assert deliveries.deliver(later.pk) == "not due"

    later.refresh_from_db()
    assert (later.status, later.attempts) == (Delivery.Status.PENDING, 0)


def test_an_error_inside_the_send_is_settled_as_a_failed_attempt(monkeypatch):
    due = a_delivery()

    def broken(claimed):
        raise RuntimeError("a key went missing")

    monkeypatch.setattr(deliveries, "send", broken)
    before = timezone.now()

    assert deliveries.deliver(due.pk) == Delivery.Status.PENDING

    due.refresh_from_db()
    assert due.status == Delivery.Status.PENDING  # not stuck in "sending"
    assert due.attempts == 1
    assert due.claimed_at is None
    assert due.next_attempt_at is not None
    assert due.next_attempt_at > before  # rescheduled, not hot-looping
    assert due.last_error == "Gatehouse could not send it: RuntimeError"
    assert due.attempt_log.count() == 1
