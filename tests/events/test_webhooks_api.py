"""The webhooks management API: scopes, an organization's app kept to its organization (404
elsewhere), bad input answered with a 400 problem that writes nothing, the secret shown once,
keyset pages of deliveries, resend, test events and the catalogue of event types."""

from __future__ import annotations

import importlib
import ipaddress

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEvent
from config.encryption import decrypt
from events.models import Delivery, Event, WebhookEndpoint, WebhookSecret
from events.registry import EVENT_TYPES
from provider.management_api import PERMISSIONS, management_api
from provider.models import Api
from tests.api.oauth_world import backend
from tests.events.webhook_world import org_with_owner
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ENDPOINTS = "/api/v1/webhooks/endpoints/"
HOOK = "http://127.0.0.1:9/hook"
RW = ["webhooks:read", "webhooks:write"]


def create(caller, body=None, status=201):
    response = caller.send("POST", ENDPOINTS, {"url": HOOK, **(body or {})})
    assert response.status_code == status, response.content
    return response.json()


def test_the_scope_migration_adds_the_webhook_permissions_to_an_existing_api_row():
    from django.apps import apps

    migration = importlib.import_module("provider.migrations.0005_webhooks_scopes")
    api = management_api()
    Api.objects.filter(pk=api.pk).update(scopes={"users:read": "Read people"})
    migration.add_scopes(apps, None)
    migration.add_scopes(apps, None)
    scopes = Api.objects.get(pk=api.pk).scopes
    assert scopes == {"users:read": "Read people", **migration.SCOPES}
    assert set(migration.SCOPES) <= set(PERMISSIONS)


def test_reading_needs_webhooks_read_and_writing_webhooks_write(loopback):
    reader = backend(scopes=["webhooks:read"]).caller()
    assert reader.get(ENDPOINTS).status_code == 200
    refused = reader.send("POST", ENDPOINTS, {"url": HOOK})
    assert refused.status_code == 403
    assert "webhooks:write" in refused["WWW-Authenticate"]
    outsider = backend(scopes=["events:read"]).caller()
    assert outsider.get(ENDPOINTS).status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_creating_shows_the_secret_once_and_keeps_it_encrypted(loopback):
    operator = backend(scopes=RW).caller()
    body = create(operator, {"description": "CRM", "event_types": ["user.created"]})

    assert body["secret"].startswith("whsec_")
    assert body["organization"] is None
    assert body["event_types"] == ["user.created"]
    stored = WebhookSecret.objects.get(endpoint__public_id=body["id"])
    assert body["secret"] not in stored.secret_encrypted
    assert decrypt(stored.secret_encrypted) == body["secret"]
    again = operator.get(f"{ENDPOINTS}{body['id']}/").json()
    assert "secret" not in again
    audit = AuditEvent.objects.get(action="webhook.endpoint_created")
    assert audit.data["endpoint"] == body["id"]
    assert audit.data["host"] == "127.0.0.1"
    assert body["secret"] not in str(audit.data) + audit.target_text


def test_an_organizations_app_manages_its_own_endpoints_and_gets_404_elsewhere(loopback):
    acme, _ = org_with_owner("acme")
    bolt, _ = org_with_owner("bolt")
    a = backend(organization=acme, scopes=RW).caller()
    b = backend(organization=bolt, scopes=RW).caller()
    mine = create(a)
    assert mine["organization"] == "acme"
    theirs = create(b)
    delivery = Delivery.objects.create(
        endpoint=WebhookEndpoint.objects.get(public_id=theirs["id"]),
        event=Event.objects.create(type="organization.updated", organization_id=bolt.pk),
    )
    base = f"{ENDPOINTS}{theirs['id']}/"
    calls = [
        ("GET", base, None),
        ("PATCH", base, {"description": "mine now"}),
        ("DELETE", base, None),
        ("POST", f"{base}rotate-secret/", {}),
        ("POST", f"{base}test/", None),
        ("GET", f"{base}deliveries/", None),
        ("POST", f"{base}deliveries/{delivery.public_id}/resend/", None),
    ]
    for method, path, body in calls:
        response = a.send(method, path, body)
        assert response.status_code == 404, (method, path, response.content)
        assert response["Content-Type"] == "application/problem+json"
    assert [e["id"] for e in a.get(ENDPOINTS).json()] == [mine["id"]]
    # Naming another organization is refused too.
    refused = a.send("POST", ENDPOINTS, {"url": HOOK, "organization": "bolt"})
    assert refused.status_code == 400
    # Nothing of Bolt's changed.
    endpoint = WebhookEndpoint.objects.get(public_id=theirs["id"])
    assert endpoint.description == ""
    assert endpoint.secrets.count() == 1
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    # The operator's token sees both.
    operator = backend(scopes=RW).caller()
    assert {e["id"] for e in operator.get(ENDPOINTS).json()} == {mine["id"], theirs["id"]}


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://10.0.0.1/hook"},
        {"url": "https://169.254.169.254/latest"},
        {"url": "https://[::ffff:127.0.0.1]/hook"},
        {"url": "http://example.com/hook"},
        {"url": "https://user:pw@example.com/hook"},
        {"url": HOOK, "event_types": ["user.exploded"]},
        {"url": HOOK, "event_types": "user.created"},
        {"url": ""},
        {"url": HOOK, "description": "x" * 501},
    ],
)
def test_bad_input_is_a_400_problem_and_writes_nothing(settings, body):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = body["url"] == HOOK
    operator = backend(scopes=RW).caller()
    response = operator.send("POST", ENDPOINTS, body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"]
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookSecret.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="webhook.").exists()


def test_an_org_app_never_gets_a_private_address_the_operator_may_allow(settings):
    settings.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    acme, _ = org_with_owner("acme")
    org_app = backend(organization=acme, scopes=RW).caller()
    refused = org_app.send("POST", ENDPOINTS, {"url": "https://10.1.2.3/hook"})
    assert refused.status_code == 400
    assert "private" in refused.json()["detail"]
    operator = backend(scopes=RW).caller()
    assert create(operator, {"url": "https://10.1.2.3/hook"})["organization"] is None
    # Nor by changing the URL later.
    mine = create(org_app, {"url": "https://93.184.216.34/hook"})
    moved = org_app.send("PATCH", f"{ENDPOINTS}{mine['id']}/", {"url": "https://10.1.2.3/x"})
    assert moved.status_code == 400
    assert WebhookEndpoint.objects.get(public_id=mine["id"]).url == "https://93.184.216.34/hook"


def test_rotation_returns_a_new_secret_and_refuses_an_overlap_out_of_range(loopback):
    operator = backend(scopes=RW).caller()
    created = create(operator)
    path = f"{ENDPOINTS}{created['id']}/rotate-secret/"
    for bad in ({"overlap_hours": 169}, {"overlap_hours": -1}, {"overlap_hours": "a day"}):
        response = operator.send("POST", path, bad)
        assert response.status_code == 400, bad
    assert WebhookSecret.objects.filter(endpoint__public_id=created["id"]).count() == 1

    rotated = operator.send("POST", path, {"overlap_hours": 2})
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_")
    assert secret != created["secret"]
    old, new = WebhookSecret.objects.filter(endpoint__public_id=created["id"]).order_by("id")
    assert decrypt(new.secret_encrypted) == secret
    assert new.expires_at is None
    assert old.expires_at is not None
    audit = AuditEvent.objects.get(action="webhook.secret_rotated")
    assert audit.data["overlap_hours"] == 2
    assert secret not in str(audit.data)


def test_deliveries_come_in_keyset_pages_and_one_can_be_sent_again(loopback):
    operator = backend(scopes=RW).caller()
    created = create(operator)
    endpoint = WebhookEndpoint.objects.get(public_id=created["id"])
    made = [
        Delivery.objects.create(
            endpoint=endpoint,
            event=Event.objects.create(type="user.created"),
            status=Delivery.Status.FAILED,
        )
        for _ in range(5)
    ]
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&before={cursor}" if cursor else "")
        page = operator.get(f"{ENDPOINTS}{created['id']}/deliveries/{query}").json()
        seen += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == [d.public_id for d in reversed(made)]
    bad = operator.get(f"{ENDPOINTS}{created['id']}/deliveries/?before=abc")
    assert bad.status_code == 400

    resent = operator.send(
        "POST", f"{ENDPOINTS}{created['id']}/deliveries/{made[0].public_id}/resend/"
    )
    assert resent.status_code == 202
    again = Delivery.objects.get(public_id=resent.json()["id"])
    assert again.resend_of == made[0]
    assert again.event_id == made[0].event_id  # the same webhook-id
    assert resent.json()["event_id"] == made[0].event.public_id
    assert AuditEvent.objects.filter(action="webhook.resent").count() == 1


def test_a_test_event_goes_to_that_endpoint_alone(loopback):
    from events import dispatch

    operator = backend(scopes=RW).caller()
    target = create(operator)
    bystander = create(operator)
    response = operator.send("POST", f"{ENDPOINTS}{target['id']}/test/")
    assert response.status_code == 202
    assert response.json()["event_type"] == "webhook.test"
    dispatch.dispatch()
    tests = Delivery.objects.filter(event__type="webhook.test")
    assert [d.endpoint.public_id for d in tests] == [target["id"]]
    assert not Delivery.objects.filter(endpoint__public_id=bystander["id"]).exists()


def test_disabled_endpoints_refuse_resend_and_test_with_409(loopback):
    operator = backend(scopes=RW).caller()
    created = create(operator)
    WebhookEndpoint.objects.filter(public_id=created["id"]).update(status="disabled")
    response = operator.send("POST", f"{ENDPOINTS}{created['id']}/test/")
    assert response.status_code == 409
    assert not Delivery.objects.exists()


def test_patch_and_delete_are_audited(loopback):
    operator = backend(scopes=RW).caller()
    created = create(operator)
    path = f"{ENDPOINTS}{created['id']}/"
    changed = operator.send("PATCH", path, {"event_types": ["user.created", "user.deleted"]})
    assert changed.status_code == 200
    assert changed.json()["event_types"] == ["user.created", "user.deleted"]
    assert operator.send("DELETE", path).status_code == 204
    assert not WebhookEndpoint.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="webhook.")
        .order_by("occurred_at")
        .values_list("action", flat=True)
    )
    assert actions == [
        "webhook.endpoint_created",
        "webhook.endpoint_updated",
        "webhook.endpoint_deleted",
    ]


def test_the_event_types_catalogue_lists_every_type_with_its_schema():
    reader = backend(scopes=["webhooks:read"]).caller()
    body = reader.get("/api/v1/events/types/").json()
    assert [t["name"] for t in body] == sorted(EVENT_TYPES)
    assert all(t["schema"]["type"] == "object" and t["description"] for t in body)


def test_staff_need_the_model_permission_in_a_session(client, loopback):
    staff = UserFactory(is_staff=True)
    from tests.conftest import force_login_verified

    force_login_verified(client, staff)
    assert client.get(ENDPOINTS).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    assert client.get(ENDPOINTS).status_code == 200
