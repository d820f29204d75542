"""The Webhooks tab against a real receiver on loopback (the node server of
tests/events/receiver, which verifies each message with npm standardwebhooks): a test event
sent from the endpoint's page arrives signed with the secret the page showed once; the
delivery log and the delivery's page show what came back; Resend sends the same webhook-id
again; a failing answer is shown; after a rotation with an overlap both secrets sign."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from events.models import Delivery, WebhookEndpoint
from tests.events.portal_world import OrgWorld, at, base, shown_secret, signed_in
from tests.events.webhook_world import run_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(loopback) -> OrgWorld:
    return OrgWorld()


def create_at(admin, receiver, path: str) -> tuple[WebhookEndpoint, str]:
    """An endpoint made in the portal for the receiver's ``path``, its shown secret given to
    the receiver."""
    response = admin.post(base() + "new/", {"url": receiver.url(path)})
    assert response.status_code == 201, response.content[:500]
    secret = shown_secret(response)
    receiver.secrets(path, [secret])
    return WebhookEndpoint.objects.get(url=receiver.url(path)), secret


def settled(delivery_id: str) -> Delivery | None:
    delivery = Delivery.objects.select_related("event").get(public_id=delivery_id)
    return delivery if delivery.status in ("delivered", "failed") else None


def test_a_test_event_reaches_the_receiver_signed_and_shows_in_the_log(world, receiver):
    admin = signed_in(world.a_admin)
    endpoint, _ = create_at(admin, receiver, "/portal")

    response = admin.post(at(endpoint, "test/"))

    assert response.status_code == 302
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert response["Location"] == at(endpoint, f"deliveries/{delivery.public_id}/")
    done = run_until(lambda: settled(delivery.public_id))
    assert done.status == "delivered"
    [hit] = receiver.log("/portal")
    assert hit["verified_by"] == [0], hit["error"]
    assert hit["webhook_id"] == done.event.public_id
    body = json.loads(hit["body"])
    assert body["type"] == "webhook.test"
    assert body["organization_id"] == world.a.pk
    tested = AuditEvent.objects.get(action="webhook.tested")
    assert tested.data["delivery"] == delivery.public_id
    assert tested.actor_id == world.a_admin.pk

    page = admin.get(at(endpoint, f"deliveries/{delivery.public_id}/")).content.decode()
    assert "Delivered" in page
    assert done.event.public_id in page
    attempts = page.split('id="delivery-attempts"', 1)[1]
    assert '<td data-label="Response"><span>200</span></td>' in attempts
    log = admin.get(at(endpoint)).content.decode()
    row = log.split(f'data-delivery-id="{delivery.public_id}"', 1)[1].split("</tr>", 1)[0]
    assert "<code>webhook.test</code>" in row
    assert done.event.public_id in row
    assert '<td data-label="Response">200</td>' in row
    assert '<td data-label="Attempts">1</td>' in row
    assert "Delivered" in row
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None


def test_resend_sends_the_same_webhook_id_again_as_a_new_delivery(world, receiver):
    admin = signed_in(world.a_admin)
    endpoint, _ = create_at(admin, receiver, "/again")
    admin.post(at(endpoint, "test/"))
    first = run_until(lambda: settled(Delivery.objects.get(endpoint=endpoint).public_id))

    response = admin.post(at(endpoint, f"deliveries/{first.public_id}/resend/"))

    again = Delivery.objects.get(resend_of=first)
    assert response.status_code == 302
    assert response["Location"] == at(endpoint, f"deliveries/{again.public_id}/")
    run_until(lambda: settled(again.public_id))
    hits = receiver.log("/again")
    assert [h["webhook_id"] for h in hits] == [first.event.public_id] * 2
    assert all(h["verified_by"] == [0] for h in hits)
    resent = AuditEvent.objects.get(action="webhook.resent")
    assert resent.data["delivery"] == first.public_id
    assert resent.data["resend"] == again.public_id
    page = admin.get(at(endpoint, f"deliveries/{again.public_id}/")).content.decode()
    assert first.public_id in page  # "Resends" links to the delivery it repeats


def test_a_failing_answer_is_shown_with_its_code_and_excerpt(world, receiver, settings):
    settings.GATEHOUSE_WEBHOOK_SCHEDULE = []  # one attempt, then failed
    admin = signed_in(world.a_admin)
    endpoint, _ = create_at(admin, receiver, "/down")
    receiver.script("/down", {"status": 503, "body": "maintenance window"})
    admin.post(at(endpoint, "test/"))
    delivery = Delivery.objects.get(endpoint=endpoint)

    done = run_until(lambda: settled(delivery.public_id))

    assert done.status == "failed"
    page = admin.get(at(endpoint, f"deliveries/{delivery.public_id}/")).content.decode()
    assert "Failed" in page
    assert "<span>503</span>" in page
    assert "maintenance window" in page
    row = admin.get(at(endpoint)).content.decode().split(f'"{delivery.public_id}"', 1)[1]
    assert '<td data-label="Response">503</td>' in row.split("</tr>", 1)[0]


def test_after_a_rotation_in_the_portal_both_secrets_sign_during_the_overlap(world, receiver):
    admin = signed_in(world.a_admin)
    endpoint, old = create_at(admin, receiver, "/rot")
    new = shown_secret(admin.post(at(endpoint, "rotate/"), {"overlap": "1"}))
    receiver.secrets("/rot", [new, old])

    admin.post(at(endpoint, "test/"))
    run_until(lambda: settled(Delivery.objects.get(endpoint=endpoint).public_id))

    [hit] = receiver.log("/rot")
    assert hit["verified_by"] == [0, 1], hit["error"]


def test_an_endpoint_that_is_off_is_neither_tested_nor_resent(world, receiver):
    admin = signed_in(world.a_admin)
    endpoint, _ = create_at(admin, receiver, "/off")
    admin.post(at(endpoint, "test/"))
    first = run_until(lambda: settled(Delivery.objects.get(endpoint=endpoint).public_id))
    admin.post(at(endpoint, "disable/"))

    tested = admin.post(at(endpoint, "test/"), follow=True)
    resent = admin.post(at(endpoint, f"deliveries/{first.public_id}/resend/"), follow=True)

    assert b"Turn the endpoint on before testing it." in tested.content
    assert b"Turn the endpoint on before sending to it again." in resent.content
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    assert AuditEvent.objects.filter(action="webhook.tested", outcome="success").count() == 1
    assert not AuditEvent.objects.filter(action="webhook.resent", outcome="success").exists()
    assert len(receiver.log("/off")) == 1
