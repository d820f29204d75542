"""Webhooks in the admin: the delivery list counts within its cap and filters by status and
endpoint; "send again" makes an audited resend with the same event; endpoints are turned off
and on through the services; no secret appears on any page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from events import services
from events.models import Delivery, Event, WebhookEndpoint
from tests.conftest import force_login_verified
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
DELIVERIES = "/admin/events/delivery/"
ENDPOINTS = "/admin/events/webhookendpoint/"


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def endpoint_with_deliveries(n: int, url: str = "https://93.184.216.34/hook"):
    created = services.create_endpoint(actor=UserFactory(is_staff=True), organization=None, url=url)
    rows = [
        Delivery.objects.create(
            endpoint=created.endpoint,
            event=Event.objects.create(type="user.created"),
            status=Delivery.Status.FAILED,
        )
        for _ in range(n)
    ]
    return created, rows


def test_the_delivery_list_filters_and_counts_within_its_cap(staff_client):
    created, rows = endpoint_with_deliveries(3)
    _other, _ = endpoint_with_deliveries(2, "https://93.184.216.35/hook")
    Delivery.objects.filter(pk=rows[0].pk).update(status="delivered")
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(
            DELIVERIES, {"status__exact": "failed", "endpoint": created.endpoint.public_id}
        )
    assert response.status_code == 200
    listed = {d.pk for d in response.context["cl"].result_list}
    assert listed == {rows[1].pk, rows[2].pk}
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert counts
    assert all(re.search(r"LIMIT 10000\)", sql) for sql in counts), counts


def test_send_again_makes_an_audited_resend_of_the_same_event(staff_client):
    _created, rows = endpoint_with_deliveries(2)
    response = staff_client.post(
        DELIVERIES,
        {"action": "resend", "_selected_action": [rows[0].pk, rows[1].pk]},
        follow=True,
    )
    assert response.status_code == 200
    again = Delivery.objects.filter(resend_of__isnull=False).order_by("resend_of_id")
    assert [(d.resend_of_id, d.event_id) for d in again] == [
        (rows[0].pk, rows[0].event_id),
        (rows[1].pk, rows[1].event_id),
    ]
    assert AuditEvent.objects.filter(action="webhook.resent").count() == 2


def test_a_resend_to_a_turned_off_endpoint_is_refused_with_a_message(staff_client):
    created, rows = endpoint_with_deliveries(1)
    WebhookEndpoint.objects.filter(pk=created.endpoint.pk).update(status="disabled")
    response = staff_client.post(
        DELIVERIES, {"action": "resend", "_selected_action": [rows[0].pk]}, follow=True
    )
    assert "Turn the endpoint on" in response.content.decode()
    assert not Delivery.objects.filter(resend_of__isnull=False).exists()


def test_endpoints_are_turned_off_and_on_and_no_secret_is_shown(staff_client):
    created, _ = endpoint_with_deliveries(1)
    endpoint = created.endpoint
    staff_client.post(ENDPOINTS, {"action": "turn_off", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "by_owner")
    staff_client.post(ENDPOINTS, {"action": "turn_on", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.status == "enabled"
    assert list(
        AuditEvent.objects.filter(action__startswith="webhook.endpoint_")
        .order_by("occurred_at")
        .values_list("action", flat=True)
    ) == ["webhook.endpoint_created", "webhook.endpoint_disabled", "webhook.endpoint_enabled"]
    for page in (ENDPOINTS, f"{ENDPOINTS}{endpoint.pk}/change/"):
        body = staff_client.get(page).content.decode()
        assert endpoint.public_id in body
        assert created.secret not in body
        assert created.secret.removeprefix("whsec_") not in body


def test_the_endpoint_page_shows_the_host_never_the_url_that_may_carry_a_token(staff_client):
    created, _ = endpoint_with_deliveries(0, "https://93.184.216.34/hook?token=receiver-s3cret")
    page = staff_client.get(f"{ENDPOINTS}{created.endpoint.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "93.184.216.34" in body
    assert "receiver-s3cret" not in body
    assert created.secret not in body
