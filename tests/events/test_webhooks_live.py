"""Webhooks against a real receiver on loopback: a node server that verifies every request
with npm standardwebhooks (an implementation independent of the Python one that signs, T7).

Deliveries arrive signed and verified, with the event's id as webhook-id on every attempt;
500s and timeouts are retried; Retry-After is honoured; 410 turns the endpoint off and emails
its owners; during a rotation's overlap both secrets sign, after it the new one alone."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from audit.actions import Action
from audit.services import record
from events import services, signing
from events.delivery import body_of
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint, WebhookSecret
from tests.events.webhook_world import org_with_owner, run_until
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def org_event(org, actor) -> Event:
    """An ``organization.updated`` event of ``org``, committed."""
    record(Action.ORG_UPDATED, actor=actor, organization=org, target=org, data={"fields": ["x"]})
    return Event.objects.filter(organization_id=org.pk, type="organization.updated").latest("id")


def endpoint_at(receiver, path: str, *, actor, organization=None, **kw):
    created = services.create_endpoint(
        actor=actor, organization=organization, url=receiver.url(path), **kw
    )
    receiver.secrets(path, [created.secret])
    return created


def delivered(endpoint) -> Delivery | None:
    return Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.DELIVERED).first()


def test_deliveries_arrive_signed_and_are_verified_by_an_independent_library(loopback, receiver):
    org, owner = org_with_owner("acme")
    other, other_owner = org_with_owner("bolt")
    mine = endpoint_at(receiver, "/acme", actor=owner, organization=org)
    theirs = endpoint_at(receiver, "/bolt", actor=other_owner, organization=other)
    operator = endpoint_at(receiver, "/ops", actor=UserFactory(is_staff=True))

    event = org_event(org, owner.user)
    run_until(lambda: delivered(mine.endpoint) and delivered(operator.endpoint))

    for path in ("/acme", "/ops"):
        [hit] = receiver.log(path)
        assert hit["verified_by"] == [0], hit["error"]
        assert hit["webhook_id"] == event.public_id
        assert hit["user_agent"] == "Gatehouse-Webhooks/1"
        body = json.loads(hit["body"])
        assert body["id"] == event.public_id
        assert body["type"] == "organization.updated"
        assert body["organization_id"] == org.pk
        assert hit["body"].encode() == body_of(event)
    # Another organization's endpoint hears nothing of Acme.
    assert receiver.log("/bolt") == []
    assert not Delivery.objects.filter(endpoint=theirs.endpoint).exists()
    mine.endpoint.refresh_from_db()
    assert mine.endpoint.last_success_at is not None
    assert mine.endpoint.failing_since is None


def test_a_type_filter_keeps_other_types_away(loopback, receiver):
    org, owner = org_with_owner()
    picky = endpoint_at(
        receiver, "/picky", actor=owner, organization=org, event_types=["domain.verified"]
    )
    everything = endpoint_at(receiver, "/all", actor=owner, organization=org)
    org_event(org, owner.user)
    run_until(lambda: delivered(everything.endpoint))
    assert not Delivery.objects.filter(endpoint=picky.endpoint).exists()
    assert receiver.log("/picky") == []


def test_a_500_is_retried_with_the_same_webhook_id(loopback, receiver):
    org, owner = org_with_owner()
    hook = endpoint_at(receiver, "/flaky", actor=owner, organization=org)
    # A NUL in the answer (which PostgreSQL cannot store) must not keep the attempt unsettled.
    receiver.script("/flaky", {"status": 500, "body": "boom\u0000"})
    event = org_event(org, owner.user)

    delivery = run_until(lambda: delivered(hook.endpoint))

    hits = receiver.log("/flaky")
    assert [h["webhook_id"] for h in hits] == [event.public_id, event.public_id]
    assert all(h["verified_by"] == [0] for h in hits)
    assert delivery.attempts == 2
    first, second = DeliveryAttempt.objects.filter(delivery=delivery).order_by("at")
    assert (first.status_code, first.error) == (500, "HTTP 500")
    assert first.response_excerpt == "boom\ufffd"
    assert second.status_code == 200


def test_a_receiver_slower_than_the_deadline_is_retried(loopback, receiver):
    org, owner = org_with_owner()
    hook = endpoint_at(receiver, "/slow", actor=owner, organization=org)
    receiver.script("/slow", {"status": 200, "sleep_ms": 5000})  # the deadline is 2 s
    org_event(org, owner.user)

    delivery = run_until(lambda: delivered(hook.endpoint))

    first = DeliveryAttempt.objects.filter(delivery=delivery).order_by("at")[0]
    assert first.status_code is None
    assert "in time" in first.error
    assert delivery.attempts == 2


def test_retry_after_is_honoured_over_the_shorter_schedule(loopback, receiver):
    org, owner = org_with_owner()
    hook = endpoint_at(receiver, "/busy", actor=owner, organization=org)
    receiver.script("/busy", {"status": 429, "headers": {"Retry-After": "3"}})
    org_event(org, owner.user)

    run_until(lambda: DeliveryAttempt.objects.filter(delivery__endpoint=hook.endpoint).exists())
    delivery = Delivery.objects.get(endpoint=hook.endpoint)
    attempt = delivery.attempt_log.get()
    assert attempt.retry_after_s == 3
    # The schedule alone would say 1 s (+-20 %); the receiver asked for 3.
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at >= attempt.at + timedelta(seconds=3)
    assert delivery.status == Delivery.Status.PENDING

    delivery = run_until(lambda: delivered(hook.endpoint))
    hits = receiver.log("/busy")
    assert len(hits) == 2
    assert hits[1]["at"] - hits[0]["at"] >= 2900


def test_abort_message_stops_the_retries(loopback, receiver):
    org, owner = org_with_owner()
    hook = endpoint_at(receiver, "/abort", actor=owner, organization=org)
    receiver.script("/abort", {"status": 500, "headers": {"webhook-delivery": "abort-message"}})
    org_event(org, owner.user)
    run_until(
        lambda: Delivery.objects.filter(
            endpoint=hook.endpoint, status=Delivery.Status.FAILED
        ).exists()
    )
    assert len(receiver.log("/abort")) == 1


def test_the_schedule_ends_in_failure(loopback, receiver):
    loopback.GATEHOUSE_WEBHOOK_SCHEDULE = [0, 0]
    org, owner = org_with_owner()
    hook = endpoint_at(receiver, "/down", actor=owner, organization=org)
    receiver.script("/down", *[{"status": 503}] * 5)
    org_event(org, owner.user)
    delivery = run_until(
        lambda: Delivery.objects.filter(
            endpoint=hook.endpoint, status=Delivery.Status.FAILED
        ).first()
    )
    assert delivery.attempts == 3  # the first try and the two retries of the schedule
    assert len(receiver.log("/down")) == 3
    hook.endpoint.refresh_from_db()
    assert hook.endpoint.failing_since is not None
    assert hook.endpoint.status == WebhookEndpoint.Status.ENABLED


def test_410_turns_the_endpoint_off_and_emails_its_owners(loopback, receiver, smtp_server):
    port, inbox = smtp_server
    loopback.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    loopback.EMAIL_HOST, loopback.EMAIL_PORT, loopback.EMAIL_USE_TLS = "127.0.0.1", port, False
    org, owner = org_with_owner()
    hook = endpoint_at(receiver, "/gone", actor=owner, organization=org)
    receiver.script("/gone", {"status": 410})
    org_event(org, owner.user)
    # A second event waits behind the first (its delivery is due later).
    second = org_event(org, owner.user)

    run_until(
        lambda: (
            WebhookEndpoint.objects.filter(
                pk=hook.endpoint.pk, status=WebhookEndpoint.Status.DISABLED
            ).exists()
            and not Delivery.objects.filter(
                endpoint=hook.endpoint, status__in=["pending", "sending"]
            ).exists()
        )
    )
    endpoint = WebhookEndpoint.objects.get(pk=hook.endpoint.pk)
    assert endpoint.disabled_reason == WebhookEndpoint.DisabledReason.GONE
    statuses = set(Delivery.objects.filter(endpoint=endpoint).values_list("status", flat=True))
    assert statuses <= {"failed", "cancelled", "delivered"}
    assert Delivery.objects.filter(endpoint=endpoint, status="failed").count() == 1
    assert len(receiver.log("/gone")) == 1  # nothing more after the 410
    assert second.public_id not in {h["webhook_id"] for h in receiver.log("/gone")[1:]}

    [message] = inbox.messages
    assert message["To"] == owner.user.email
    assert "turned off" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert endpoint.public_id in text
    assert "410" in text
    assert receiver.url("/gone") not in text  # the URL may carry the receiver's token


def test_during_a_rotation_both_secrets_sign_and_after_it_only_the_new(loopback, receiver):
    org, owner = org_with_owner()
    hook = endpoint_at(receiver, "/rot", actor=owner, organization=org)
    new = services.rotate_secret(actor=owner, endpoint=hook.endpoint, overlap_hours=1)
    receiver.secrets("/rot", [new, hook.secret])
    org_event(org, owner.user)
    run_until(lambda: len(receiver.log("/rot")) == 1)
    [during] = receiver.log("/rot")
    assert during["verified_by"] == [0, 1]
    assert len(during["signature"].split(" ")) == 2

    # The overlap ends.
    WebhookSecret.objects.filter(endpoint=hook.endpoint, expires_at__isnull=False).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    org_event(org, owner.user)
    run_until(lambda: len(receiver.log("/rot")) == 2)
    after = receiver.log("/rot")[1]
    assert after["verified_by"] == [0]  # the new secret; the old one no longer verifies
    assert len(after["signature"].split(" ")) == 1


def test_a_new_secret_is_standard_base64_and_round_trips_in_python_too():
    """T6: the standard alphabet, padded, 32 bytes; Python verifies what it signed (node's
    verification of the same secrets is in every test above)."""
    secret = signing.new_secret()
    raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    assert len(raw) == 32
    body = b'{"a":1}'
    headers = signing.signed_headers("evt_1", body, [secret], timezone.now())
    assert Webhook(secret).verify(body, headers) == {"a": 1}


def test_an_operator_endpoint_failing_for_a_day_and_a_half_is_turned_off_and_ops_told(
    loopback, receiver, smtp_server
):
    port, inbox = smtp_server
    loopback.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    loopback.EMAIL_HOST, loopback.EMAIL_PORT, loopback.EMAIL_USE_TLS = "127.0.0.1", port, False
    loopback.GATEHOUSE_OPS_EMAILS = ["ops@example.com"]
    org, owner = org_with_owner()
    hook = endpoint_at(receiver, "/sick", actor=UserFactory(is_staff=True))
    WebhookEndpoint.objects.filter(pk=hook.endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=37)
    )
    receiver.script("/sick", {"status": 500})
    org_event(org, owner.user)

    run_until(
        lambda: WebhookEndpoint.objects.filter(
            pk=hook.endpoint.pk, status=WebhookEndpoint.Status.DISABLED
        ).exists()
    )
    endpoint = WebhookEndpoint.objects.get(pk=hook.endpoint.pk)
    assert endpoint.disabled_reason == WebhookEndpoint.DisabledReason.FAILING
    # Its waiting delivery is kept, to resume when the endpoint is turned on again.
    assert Delivery.objects.get(endpoint=endpoint).status == Delivery.Status.PENDING
    [message] = inbox.messages
    assert message["To"] == "ops@example.com"
    assert "36 hours" in message.get_body(("plain",)).get_content()
