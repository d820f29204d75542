"""The Webhooks tab: an org admin registers an endpoint (its secret shown once, and kept
encrypted), bad and private URLs are form errors that write nothing, and the endpoint is
edited, turned off and on, given a new secret with an overlap, and deleted, each change on the
audit log."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from config.encryption import decrypt
from events.models import Delivery, Event, WebhookEndpoint, WebhookSecret
from tests.events.portal_world import (
    HOOK,
    OrgWorld,
    at,
    base,
    endpoint_of,
    shown_secret,
    signed_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> OrgWorld:
    return OrgWorld()


def test_the_tab_is_listed_for_admins_and_the_list_shows_each_endpoint(world, loopback):
    endpoint = endpoint_of(world, world.a, description="CRM sync", event_types=["user.created"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        status="disabled", disabled_reason="gone_410"
    )
    admin = signed_in(world.a_admin)

    response = admin.get(base())

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-tab="webhooks" aria-current="page"' in html
    assert f'data-endpoint-id="{endpoint.public_id}" data-status="disabled"' in html
    assert HOOK in html
    assert "CRM sync" in html
    assert "<code>user.created</code>" in html
    assert "The endpoint answered 410 Gone" in html
    overview = admin.get("/orgs/acme/").content.decode()
    assert 'data-tab="webhooks"' in overview


def test_creating_shows_the_secret_once_and_keeps_it_encrypted(world, loopback):
    admin = signed_in(world.a_admin)

    response = admin.post(
        base() + "new/",
        {
            "url": HOOK,
            "description": "Billing",
            "event_types": ["membership.created", "user.created"],
        },
    )

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organization == world.a
    assert endpoint.url == HOOK
    assert endpoint.description == "Billing"
    assert endpoint.event_types == ["membership.created", "user.created"]
    stored = WebhookSecret.objects.get(endpoint=endpoint)
    assert secret not in stored.secret_encrypted
    assert decrypt(stored.secret_encrypted) == secret
    # Never again: not on the endpoint's page, the list, the edit page, nor the audit log.
    for later in ("", "edit/", "delete/"):
        page = admin.get(at(endpoint, later))
        assert page.status_code == 200, later
        assert secret.encode() not in page.content
        assert b"whsec_" not in page.content
    assert secret.encode() not in admin.get(base()).content
    event = AuditEvent.objects.get(action="webhook.endpoint_created")
    assert event.organization_id == world.a.pk
    assert event.actor_id == world.a_admin.pk
    assert event.data["endpoint"] == endpoint.public_id
    assert secret not in str(event.data) + event.target_text


def test_no_type_ticked_means_every_type(world, loopback):
    admin = signed_in(world.a_admin)
    response = admin.post(base() + "new/", {"url": HOOK})
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == []
    assert b"Every type" in admin.get(at(endpoint)).content


def test_the_new_form_lists_the_registry_types_with_their_descriptions(world):
    admin = signed_in(world.a_admin)
    html = admin.get(base() + "new/").content.decode()
    assert 'type="checkbox" name="event_types" value="domain.verified"' in html
    assert "domain.verified: An organization&#x27;s domain was verified." in html


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://10.1.2.3/hook", "private"),
        ("https://127.0.0.1/hook", "private"),
        ("https://[::1]/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "private"),
        ("http://hooks.example.com/in", "https://"),
        ("https://user:pw@hooks.example.com/in", "user name"),
        ("not a url", "https://"),
    ],
)
def test_a_refused_url_is_a_form_error_and_writes_nothing(world, url, said):
    admin = signed_in(world.a_admin)

    response = admin.post(base() + "new/", {"url": url, "event_types": ["user.created"]})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_url_error"' in html
    errors = html.split('id="id_url_error"', 1)[1].split("</ul>", 1)[0]
    assert said in errors.lower() or said in errors
    assert b"whsec_" not in response.content
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookSecret.objects.exists()
    assert not AuditEvent.objects.filter(
        action="webhook.endpoint_created", outcome="success"
    ).exists()


def test_unknown_types_and_a_long_description_are_form_errors(world, loopback):
    admin = signed_in(world.a_admin)
    for body in (
        {"url": HOOK, "event_types": ["user.created", "payroll.run"]},
        {"url": HOOK, "description": "x" * 501},
        {"url": ""},
    ):
        response = admin.post(base() + "new/", body)
        assert response.status_code == 400, body
        assert b"field__errors" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_editing_changes_the_types_and_description_and_is_audited(world, loopback):
    endpoint = endpoint_of(world, world.a, event_types=["user.created"])
    admin = signed_in(world.a_admin)
    form = admin.get(at(endpoint, "edit/")).content.decode()
    # The form starts from what the endpoint has: its one type ticked, no other.
    assert re.search(r'value="user\.created" id="id_event_types_\d+" checked>', form)
    assert form.count(" checked>") == 1

    response = admin.post(
        at(endpoint, "edit/"),
        {"url": HOOK, "description": "Now two", "event_types": ["domain.verified", "user.created"]},
    )

    assert response.status_code == 302
    assert response["Location"] == at(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["domain.verified", "user.created"]
    assert endpoint.description == "Now two"
    event = AuditEvent.objects.get(action="webhook.endpoint_updated")
    assert event.data["fields"] == ["description", "event_types"]
    assert event.actor_id == world.a_admin.pk


def test_editing_to_a_private_address_is_a_form_error_and_keeps_the_url(world, loopback):
    endpoint = endpoint_of(world, world.a)
    admin = signed_in(world.a_admin)
    response = admin.post(at(endpoint, "edit/"), {"url": "https://192.168.1.10/hook"})
    assert response.status_code == 400
    assert b'id="id_url_error"' in response.content
    endpoint.refresh_from_db()
    assert endpoint.url == HOOK
    assert not AuditEvent.objects.filter(
        action="webhook.endpoint_updated", outcome="success"
    ).exists()


def test_turning_off_and_on_again(world, loopback):
    endpoint = endpoint_of(world, world.a)
    admin = signed_in(world.a_admin)

    assert admin.post(at(endpoint, "disable/")).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"
    assert endpoint.disabled_reason == "by_owner"
    page = admin.get(at(endpoint)).content.decode()
    assert "Turned off by its owner" in page
    assert 'id="webhook-enable"' in page
    assert 'id="webhook-test"' not in page

    assert admin.post(at(endpoint, "enable/")).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.status == "enabled"
    assert endpoint.disabled_reason == ""
    actions = list(
        AuditEvent.objects.filter(action__startswith="webhook.endpoint_")
        .order_by("occurred_at")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["webhook.endpoint_disabled", "webhook.endpoint_enabled"]


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_for_the_overlap(world, loopback):
    admin = signed_in(world.a_admin)
    first = shown_secret(admin.post(base() + "new/", {"url": HOOK}))
    endpoint = WebhookEndpoint.objects.get()

    response = admin.post(at(endpoint, "rotate/"), {"overlap": "24"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    second = shown_secret(response)
    assert second != first
    assert first.encode() not in response.content
    assert b"For the next 24 hours" in response.content
    live = WebhookSecret.objects.filter(endpoint=endpoint).order_by("created_at", "id")
    [old, new] = live
    assert decrypt(new.secret_encrypted) == second
    assert new.expires_at is None
    assert decrypt(old.secret_encrypted) == first
    assert old.expires_at is not None
    assert AuditEvent.objects.get(action="webhook.secret_rotated").data["overlap_hours"] == 24
    assert second.encode() not in admin.get(at(endpoint)).content

    # No overlap: the previous secret stops at once.
    third = shown_secret(admin.post(at(endpoint, "rotate/"), {"overlap": "0"}))
    assert third not in (first, second)
    assert (
        b"The previous secret no longer signs"
        in admin.post(at(endpoint, "rotate/"), {"overlap": "0"}).content
    )


def test_an_overlap_off_the_list_is_refused_without_rotating(world, loopback):
    endpoint = endpoint_of(world, world.a)
    admin = signed_in(world.a_admin)
    for overlap in ("500", "-1", "x", ""):
        response = admin.post(at(endpoint, "rotate/"), {"overlap": overlap}, follow=True)
        assert b"Choose how long the current secret keeps signing" in response.content
        assert b"whsec_" not in response.content
    assert WebhookSecret.objects.filter(endpoint=endpoint).count() == 1
    assert not AuditEvent.objects.filter(action="webhook.secret_rotated").exists()


def test_deleting_asks_first_then_removes_the_endpoint_and_its_log(world, loopback):
    endpoint = endpoint_of(world, world.a)
    event = Event.objects.create(type="user.created", organization_id=world.a.pk)
    Delivery.objects.create(endpoint=endpoint, event=event)
    admin = signed_in(world.a_admin)

    confirm = admin.get(at(endpoint, "delete/"))
    assert confirm.status_code == 200
    assert b'id="webhook-delete-confirm"' in confirm.content
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()

    response = admin.post(at(endpoint, "delete/"))

    assert response.status_code == 302
    assert response["Location"] == base()
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not Delivery.objects.exists()
    assert not WebhookSecret.objects.exists()
    deleted = AuditEvent.objects.get(action="webhook.endpoint_deleted")
    assert deleted.data["endpoint"] == endpoint.public_id
    assert deleted.organization_id == world.a.pk
    assert admin.get(at(endpoint)).status_code == 404


def test_every_post_needs_the_csrf_token(world, loopback):
    from django.test import Client

    from tests.factories import DEFAULT_PASSWORD

    endpoint = endpoint_of(world, world.a)
    admin = Client(enforce_csrf_checks=True)
    admin.post("/accounts/login/", {"login": world.a_admin.email, "password": DEFAULT_PASSWORD})
    before = AuditEvent.objects.filter(action__startswith="webhook.").count()
    for tail in ("disable/", "rotate/", "test/", "delete/", "edit/"):
        response = admin.post(at(endpoint, tail), {"overlap": "0", "url": HOOK})
        assert response.status_code == 403, tail
    assert admin.post(base() + "new/", {"url": HOOK}).status_code == 403
    assert WebhookEndpoint.objects.count() == 1
    assert AuditEvent.objects.filter(action__startswith="webhook.").count() == before


def test_the_delivery_log_is_newest_first_in_keyset_pages_without_counting(world, loopback):
    endpoint = endpoint_of(world, world.a)
    events = [
        Event.objects.create(type="user.created", organization_id=world.a.pk) for _ in range(55)
    ]
    deliveries = [Delivery.objects.create(endpoint=endpoint, event=e) for e in events]
    admin = signed_in(world.a_admin)

    with CaptureQueriesContext(connection) as queries:
        first = admin.get(at(endpoint))
    assert first.status_code == 200
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    html = first.content.decode()
    shown = [d.public_id for d in deliveries if f'data-delivery-id="{d.public_id}"' in html]
    assert len(shown) == 50
    assert html.index(deliveries[-1].public_id) < html.index(deliveries[-2].public_id)
    assert events[-1].public_id in html  # the webhook-id column
    assert f"?before={deliveries[5].pk}" in html

    older = admin.get(at(endpoint) + f"?before={deliveries[5].pk}").content.decode()
    assert [d.public_id for d in deliveries if d.public_id in older] == [
        d.public_id for d in deliveries[:5]
    ]
    assert "?before=" not in older
    # A cursor that is not a number is the first page, not an error.
    assert admin.get(at(endpoint) + "?before=abc").status_code == 200
