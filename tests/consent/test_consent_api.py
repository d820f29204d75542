"""The consent API: a person reads and changes their own consents (also while the re-acceptance
gate holds them), and an operator's backend with the permission reads, records and imports
consents for anyone. Errors are problem responses; events never show their IP or user agent."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from consent import keys, receipts, selectors
from consent.models import ConsentEvent, ConsentState, PolicyDocument, Purpose
from consent.signals import consent_changed
from organizations.services import create_organization
from tests.consent.api_world import (
    EVENT_FIELDS,
    ME_CONSENTS,
    ME_EVENTS,
    assert_problem,
    consents_by_key,
    post,
)
from tests.consent.conftest import publish, settle
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

if TYPE_CHECKING:
    pass

# --- The person's own consents -------------------------------------------------------------------


def test_my_consents_show_every_applicable_purpose_and_where_i_stand(me, person, published):
    # A required purpose whose document has nothing published is not shown: nothing to agree to.
    draft_only = PolicyDocument.objects.create(key="cookies", title="Cookie policy")
    Purpose.objects.create(key="cookies", name="Cookies", required=True, document=draft_only)

    body = me.get(ME_CONSENTS).json()

    rows = consents_by_key(body)
    assert set(rows) == {"terms", "privacy", "marketing_email", "analytics", "do_not_sell"}
    assert body["do_not_sell"] is False
    terms = rows["terms"]
    assert terms["granted"] is True
    assert terms["needs_reacceptance"] is False
    assert terms["version"]["id"] == published["terms"].pk
    assert terms["current_version"]["content_sha256"] == published["terms"].content_sha256
    assert terms["current_version"]["text_url"].endswith(
        f"/privacy/policies/{published['terms'].document_id}/{published['terms'].pk}.txt"
    )
    assert terms["purpose"]["required"] is True
    assert terms["purpose"]["organization"] is None
    assert terms["decided_at"] is not None
    marketing = rows["marketing_email"]
    assert marketing["granted"] is None
    assert marketing["decided_at"] is None
    assert marketing["version"] is None
    assert marketing["current_version"] is None
    assert rows["do_not_sell"]["purpose"]["kind"] == "opt_out"


def test_granting_twice_records_one_event_and_an_optional_consent_can_be_withdrawn(me, person):
    first = post(me, ME_EVENTS, {"purpose": "marketing_email", "decision": "granted"})
    assert first.status_code == 201, first.content
    event = first.json()
    assert set(event) == EVENT_FIELDS  # never the IP address or user agent
    assert event["purpose"] == "marketing_email"
    assert event["method"] == "api"
    assert event["receipt_url"].endswith(f"{ME_EVENTS}{event['id']}/receipt/")

    again = post(me, ME_EVENTS, {"purpose": "marketing_email", "decision": "granted"})
    assert again.status_code == 200
    assert again.json()["id"] == event["id"]
    assert ConsentEvent.objects.filter(user=person, purpose__key="marketing_email").count() == 1

    purpose_id = event["purpose_id"]
    withdrawn = post(me, ME_EVENTS, {"purpose": purpose_id, "decision": "withdrawn"})
    assert withdrawn.status_code == 201
    assert consents_by_key(me.get(ME_CONSENTS).json())["marketing_email"]["granted"] is False

    listed = me.get(ME_EVENTS).json()
    assert [e["decision"] for e in listed["results"][:2]] == ["withdrawn", "granted"]
    assert all(set(e) == EVENT_FIELDS for e in listed["results"])


def test_withdrawing_a_required_purpose_is_refused_and_records_nothing(me, person):
    before = ConsentEvent.objects.filter(user=person).count()
    response = post(me, ME_EVENTS, {"purpose": "terms", "decision": "withdrawn"})
    assert_problem(response, 409)
    assert ConsentEvent.objects.filter(user=person).count() == before
    assert ConsentState.objects.get(user=person, purpose__key="terms").granted is True


@pytest.mark.parametrize("reference", ["no_such_purpose", "6f1c1b1e-2f7d-4b8e-9d7a-000000000000"])
def test_an_unknown_purpose_is_404(me, reference):
    response = post(me, ME_EVENTS, {"purpose": reference, "decision": "granted"})
    assert_problem(response, 404)


def test_a_purpose_of_an_organization_i_am_not_in_is_404(me, person):
    owner = settle(UserFactory(email="owner@quartz.example"))
    org = create_organization(actor=owner, name="Quartz", slug="quartz")
    beta = Purpose.objects.create(organization=org, key="beta_program", name="Beta programme")

    refused = post(me, ME_EVENTS, {"purpose": str(beta.public_id), "decision": "granted"})
    assert_problem(refused, 404)
    assert not ConsentEvent.objects.filter(purpose=beta).exists()
    assert "beta_program" not in consents_by_key(me.get(ME_CONSENTS).json())

    # A member names it by id; a bare key only ever means a Gatehouse-wide purpose.
    member = signed_in(owner)
    assert_problem(post(member, ME_EVENTS, {"purpose": "beta_program", "decision": "granted"}), 404)
    granted = post(member, ME_EVENTS, {"purpose": str(beta.public_id), "decision": "granted"})
    assert granted.status_code == 201, granted.content
    assert granted.json()["organization"] == "quartz"
    assert consents_by_key(member.get(ME_CONSENTS).json())["beta_program"]["granted"] is True


def test_my_receipt_verifies_with_the_published_keys_and_nobody_else_can_fetch_it(me, person):
    event = post(me, ME_EVENTS, {"purpose": "analytics", "decision": "granted"}).json()

    response = me.get(event["receipt_url"], HTTP_ACCEPT="application/jwt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwt"
    claims = receipts.verify(response.content.decode(), keys.jwks())
    assert claims["jti"] == event["id"]
    assert claims["sub"] == str(person.public_id)
    assert claims["consent"]["method"] == "api"

    stranger = signed_in(settle(UserFactory(email="eve@example.com")))
    assert_problem(stranger.get(event["receipt_url"]), 404)


def test_while_gated_an_app_can_read_and_accept_the_terms_through_the_api(published):
    newcomer = UserFactory(email="late@example.com")
    client = signed_in(newcomer)
    gated = client.get("/api/v1/organizations/")
    assert gated.status_code == 403
    assert gated.json()["type"].endswith("/consent-required")

    rows = consents_by_key(client.get(ME_CONSENTS).json())
    owed = [key for key, row in rows.items() if row["needs_reacceptance"]]
    assert sorted(owed) == ["privacy", "terms"]
    for key in owed:
        shown = rows[key]["current_version"]["id"]
        accepted = post(
            client, ME_EVENTS, {"purpose": key, "decision": "granted", "version": shown}
        )
        assert accepted.status_code == 201, accepted.content

    assert client.get("/api/v1/organizations/").status_code == 200
    assert not selectors.pending_required(newcomer).exists()


def test_accepting_a_version_that_is_no_longer_current_is_409(me, person, published):
    publish("terms")  # a newer version, published while the app still shows the old one
    response = post(
        me,
        ME_EVENTS,
        {"purpose": "terms", "decision": "granted", "version": published["terms"].pk},
    )
    assert_problem(response, 409)
    assert not ConsentEvent.objects.filter(user=person, method="api").exists()


def test_an_api_decision_is_audited_with_its_method(me, person):
    event = post(me, ME_EVENTS, {"purpose": "analytics", "decision": "granted"}).json()
    audit = AuditEvent.objects.get(action="consent.granted", data__event=event["id"])
    assert audit.data["method"] == "api"
    assert audit.data["purpose"] == "analytics"
    assert audit.actor_id == person.pk


@pytest.mark.django_db(transaction=True)
def test_consent_changed_is_sent_once_after_commit_and_never_for_a_no_op(me, person):
    seen = []

    def receiver(sender, event, user, purpose, decision, **kwargs):
        seen.append(
            {
                "event": str(event.public_id),
                "decision": decision,
                "in_transaction": connection.in_atomic_block,
                "stored": ConsentEvent.objects.filter(pk=event.pk).exists(),
            }
        )

    consent_changed.connect(receiver)
    try:
        created = post(me, ME_EVENTS, {"purpose": "analytics", "decision": "granted"}).json()
        post(me, ME_EVENTS, {"purpose": "analytics", "decision": "granted"})  # nothing new
        assert_problem(post(me, ME_EVENTS, {"purpose": "terms", "decision": "withdrawn"}), 409)
    finally:
        consent_changed.disconnect(receiver)

    assert seen == [
        {"event": created["id"], "decision": "granted", "in_transaction": False, "stored": True}
    ]


@pytest.mark.parametrize(
    ("method", "body", "status"),
    [
        ("post", "{not json", 400),
        ("post", {"purpose": "analytics", "decision": "maybe"}, 400),
        ("post", {"decision": "granted"}, 400),
        ("post", ["analytics"], 400),
        ("post", {"purpose": "terms", "decision": "granted", "version": 999999}, 404),
        ("put", {}, 405),
    ],
)
def test_bad_requests_get_problem_responses(me, method, body, status):
    payload = body if isinstance(body, str) else json.dumps(body)
    response = getattr(me, method)(ME_EVENTS, payload, content_type="application/json")
    problem = assert_problem(response, status)
    if status == 400 and body != "{not json":
        assert "errors" in problem


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ME_CONSENTS),
        ("get", ME_EVENTS),
        ("post", ME_EVENTS),
        ("get", "/api/v1/consent/purposes/"),
        ("get", "/api/v1/consent/do-not-sell/"),
    ],
)
def test_the_consent_api_needs_a_signed_in_user(published, method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"
    assert not ConsentEvent.objects.exists()


def test_my_do_not_sell_choice_shows_in_my_consents(me):
    assert me.get(ME_CONSENTS).json()["do_not_sell"] is False
    response = post(me, ME_EVENTS, {"purpose": "do_not_sell", "decision": "granted"})
    assert response.status_code == 201
    assert me.get(ME_CONSENTS).json()["do_not_sell"] is True


def test_the_openapi_schema_documents_the_consent_api(me):
    response = me.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in (
        "/api/v1/me/consents/",
        "/api/v1/me/consent-events/",
        "/api/v1/me/consent-events/{event_id}/receipt/",
        "/api/v1/consent/purposes/",
        "/api/v1/consent/do-not-sell/",
        "/api/v1/users/{user_id}/consents/",
        "/api/v1/users/{user_id}/consent-events/",
    ):
        assert path in paths
