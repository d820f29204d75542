"""Nobody reaches another organization's webhooks from the Webhooks tab: org A's admin gets a
404 for every route of org B's endpoints and deliveries (under B's slug and under A's own), and
nothing of B's changes; a plain member of A is refused (403, audited) on every route; a
stranger gets 404. The routes come from the URL resolver, so a new one cannot be left out."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from events import portal
from events.models import Delivery, Event, WebhookEndpoint, WebhookSecret
from tests.events.portal_world import HOOK, OrgWorld, base, endpoint_of, signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# What each route is sent with: a GET for pages, a POST with a valid body for forms and
# actions (a GET of an action is 405 whoever asks, so it tells nothing).
GETS = {"webhooks", "webhook-new", "webhook", "webhook-edit", "webhook-delete", "webhook-delivery"}
POSTS = {
    "webhook-new": {"url": HOOK},
    "webhook-edit": {"url": HOOK, "description": "taken over"},
    "webhook-disable": {},
    "webhook-enable": {},
    "webhook-rotate": {"overlap": "0"},
    "webhook-test": {},
    "webhook-delete": {},
    "webhook-resend": {},
}


@pytest.fixture
def world(loopback) -> OrgWorld:
    return OrgWorld()


def routes() -> list[tuple[str, str]]:
    """Every (name, pattern) of the tab, from what config/urls.py mounts."""
    return [(str(p.name), str(p.pattern)) for p in portal.urlpatterns]


def calls(endpoint: WebhookEndpoint, delivery: Delivery) -> list[tuple[str, str, str, dict]]:
    """(name, method, tail under /orgs/<slug>/webhooks/, body) for every route."""
    out: list[tuple[str, str, str, dict]] = []
    for name, pattern in routes():
        tail = pattern.replace("<str:endpoint_id>", endpoint.public_id).replace(
            "<str:delivery_id>", delivery.public_id
        )
        if name in GETS:
            out.append((name, "get", tail, {}))
        if name in POSTS:
            out.append((name, "post", tail, POSTS[name]))
    return out


def b_world(world: OrgWorld) -> tuple[WebhookEndpoint, Delivery]:
    endpoint = endpoint_of(world, world.b, description="Bolt's receiver")
    event = Event.objects.create(type="user.created", organization_id=world.b.pk)
    return endpoint, Delivery.objects.create(endpoint=endpoint, event=event)


def snapshot() -> list[list[Any]]:
    return [
        sorted(
            WebhookEndpoint.objects.values_list("pk", "url", "description", "event_types", "status")
        ),
        sorted(WebhookSecret.objects.values_list("pk", "expires_at")),
        sorted(Delivery.objects.values_list("pk", "status")),
        sorted(Event.objects.values_list("pk", flat=True)),
    ]


def test_every_route_of_the_tab_is_mounted_under_the_portal_and_tested_here():
    for name, pattern in routes():
        kwargs = {"slug": "acme"}
        kwargs.update({key: f"x_{key}" for key in ("endpoint_id", "delivery_id") if key in pattern})
        assert reverse(f"orgs:{name}", kwargs=kwargs).startswith(base("acme")), name
    assert {name for name, _ in routes()} == GETS | set(POSTS)


def test_admin_of_a_gets_404_on_every_route_of_org_bs_endpoint(world):
    endpoint, delivery = b_world(world)
    mine = endpoint_of(world, world.a, description="Acme's receiver")
    admin = signed_in(world.a_admin)
    before = snapshot()
    audited = AuditEvent.objects.filter(action__startswith="webhook.").count()
    checked = 0
    for name, method, tail, data in calls(endpoint, delivery):
        # Under B's slug: A's admin is not a member of B.
        response = getattr(admin, method)(base("bolt") + tail, data)
        assert response.status_code == 404, (name, method, base("bolt") + tail)
        # Under A's own slug: B's ids are looked up within A only.
        if endpoint.public_id in tail:
            response = getattr(admin, method)(base("acme") + tail, data)
            assert response.status_code == 404, (name, method, base("acme") + tail)
            assert b"Bolt" not in response.content
            checked += 1
    assert checked == 11  # 4 pages and 7 actions of an endpoint
    assert snapshot() == before
    assert AuditEvent.objects.filter(action__startswith="webhook.").count() == audited
    listing = admin.get(base("acme")).content
    assert mine.public_id.encode() in listing
    assert endpoint.public_id.encode() not in listing


def test_a_delivery_of_another_endpoint_is_404_under_ones_own_endpoint(world):
    _, theirs = b_world(world)
    mine = endpoint_of(world, world.a)
    admin = signed_in(world.a_admin)
    url = f"{base('acme')}{mine.public_id}/deliveries/{theirs.public_id}/"
    assert admin.get(url).status_code == 404
    assert admin.post(url + "resend/").status_code == 404
    assert Delivery.objects.count() == 1


def test_a_plain_member_is_refused_on_every_route_and_it_is_audited(world):
    endpoint = endpoint_of(world, world.a)
    event = Event.objects.create(type="user.created", organization_id=world.a.pk)
    delivery = Delivery.objects.create(endpoint=endpoint, event=event)
    member = signed_in(world.a_member)
    before = snapshot()
    for name, method, tail, data in calls(endpoint, delivery):
        denied = AuditEvent.objects.filter(action="org.access_denied").count()
        response = getattr(member, method)(base("acme") + tail, data)
        assert response.status_code == 403, (name, method, tail)
        assert AuditEvent.objects.filter(action="org.access_denied").count() == denied + 1
        assert b"whsec_" not in response.content
    assert snapshot() == before
    # Nor is the tab offered to them.
    assert b'data-tab="webhooks"' not in member.get("/orgs/acme/").content


def test_someone_outside_the_organization_gets_404_and_signed_out_is_sent_to_sign_in(world):
    endpoint = endpoint_of(world, world.a)
    stranger = signed_in(UserFactory())
    assert stranger.get(base("acme")).status_code == 404
    assert stranger.get(base("acme") + f"{endpoint.public_id}/").status_code == 404
    assert stranger.post(base("acme") + f"{endpoint.public_id}/delete/").status_code == 404
    from django.test import Client

    anonymous = Client().get(base("acme"))
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
