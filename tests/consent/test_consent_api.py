"""The consent API: a person reads and changes their own consents (also while the re-acceptance
gate holds them), and an operator's backend with the permission reads, records and imports
consents for anyone. Errors are problem responses; events never show their IP or user agent."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from consent import keys, receipts, selectors, services
from consent.models import ConsentEvent, ConsentState, PolicyDocument, Purpose
from consent.signals import consent_changed
from organizations.services import create_organization
from tests.consent.conftest import publish
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

ME_CONSENTS = "/api/v1/me/consents/"
ME_EVENTS = "/api/v1/me/consent-events/"
EVENT_FIELDS = {
    "id",
    "purpose",
    "purpose_id",
    "organization",
    "decision",
    "method",
    "version",
    "occurred_at",
    "recorded_at",
    "details",  # empty but for OAuth consent (the app, its scopes, the organization)
    "receipt_url",
}


def post(client: Client, path: str, data: object) -> TestResponse:
    body = data if isinstance(data, str) else json.dumps(data)
    return client.post(path, body, content_type="application/json")


def settle(user):
    """Accept whatever required policy the person still owes, so the gate lets them by."""
    for purpose in selectors.pending_required(user):
        services.record_consent(user=user, purpose=purpose, decision="granted", method="settings")
    return user


def consents_by_key(body: dict) -> dict[str, dict]:
    return {row["purpose"]["key"]: row for row in body["consents"]}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


@pytest.fixture
def person(published):
    return settle(UserFactory(email="ada@example.com"))


@pytest.fixture
def me(person) -> Client:
    """The person, signed in."""
    return signed_in(person)


@pytest.fixture
def operator(staff, published) -> Client:
    staff.user_permissions.add(Permission.objects.get(codename="manage_subject_consents"))
    settle(staff)
    return signed_in(staff)


def subject_path(user, rest: str) -> str:
    return f"/api/v1/users/{user.public_id}/{rest}"


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


# --- Operator backends ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "rest"),
    [
        ("get", "consents/"),
        ("get", "consent-events/"),
        ("post", "consent-events/"),
    ],
)
def test_operator_endpoints_refuse_staff_without_the_permission(staff, person, method, rest):
    client = signed_in(settle(staff))
    path = subject_path(person, rest)
    if method == "post":
        response = post(client, path, {"purpose": "analytics", "decision": "granted"})
    else:
        response = client.get(path)
    assert_problem(response, 403)
    assert_problem(client.get("/api/v1/consent/purposes/"), 403)
    assert_problem(client.get("/api/v1/consent/do-not-sell/"), 403)
    assert not ConsentEvent.objects.filter(user=person, purpose__key="analytics").exists()


def test_a_person_cannot_use_the_operator_endpoints_on_themselves(me, person):
    assert_problem(me.get(subject_path(person, "consents/")), 403)


def test_an_operator_records_and_withdraws_for_a_person(operator, staff, person):
    path = subject_path(person, "consent-events/")
    granted = post(operator, path, {"purpose": "marketing_email", "decision": "granted"})
    assert granted.status_code == 201, granted.content
    event = granted.json()
    assert set(event) == EVENT_FIELDS
    assert event["method"] == "api"
    stored = ConsentEvent.objects.get(public_id=event["id"])
    assert stored.user_id == person.pk
    assert stored.actor_id == staff.pk

    withdrawn = post(operator, path, {"purpose": "marketing_email", "decision": "withdrawn"})
    assert withdrawn.status_code == 201
    overview = operator.get(subject_path(person, "consents/")).json()
    assert consents_by_key(overview)["marketing_email"]["granted"] is False

    listed = operator.get(path).json()["results"]
    assert [e["purpose"] for e in listed[:2]] == ["marketing_email", "marketing_email"]
    assert all(set(e) == EVENT_FIELDS for e in listed)

    receipt = operator.get(event["receipt_url"])
    assert receipt.status_code == 200
    assert receipt["Content-Type"] == "application/jwt"
    assert receipts.verify(receipt.content.decode(), keys.jwks())["jti"] == event["id"]
    # Only under the person it belongs to.
    other = settle(UserFactory(email="bob@example.com"))
    assert_problem(operator.get(subject_path(other, f"consent-events/{event['id']}/receipt/")), 404)

    audit = AuditEvent.objects.get(action="consent.granted", data__event=event["id"])
    assert audit.actor_id == staff.pk
    assert audit.data["method"] == "api"


def test_an_unknown_person_is_404(operator):
    missing = "/api/v1/users/6f1c1b1e-2f7d-4b8e-9d7a-000000000000/"
    assert_problem(operator.get(missing + "consents/"), 404)
    assert_problem(operator.get(missing + "consent-events/"), 404)


def test_an_import_older_than_the_current_decision_is_kept_but_does_not_change_it(operator, person):
    path = subject_path(person, "consent-events/")
    assert post(operator, path, {"purpose": "analytics", "decision": "granted"}).status_code == 201
    earlier = timezone.now() - timedelta(days=30)
    imported = post(
        operator,
        path,
        {
            "purpose": "analytics",
            "decision": "withdrawn",
            "method": "import",
            "occurred_at": earlier.isoformat(),
            "ip": "198.51.100.7",
            "user_agent": "LegacyCRM/2.1",
        },
    )
    assert imported.status_code == 201, imported.content
    assert set(imported.json()) == EVENT_FIELDS
    stored = ConsentEvent.objects.get(public_id=imported.json()["id"])
    assert stored.occurred_at == earlier
    assert stored.method == "import"
    assert stored.ip == "198.51.100.7"
    assert stored.user_agent == "LegacyCRM/2.1"

    overview = operator.get(subject_path(person, "consents/")).json()
    assert consents_by_key(overview)["analytics"]["granted"] is True
    # The state table still agrees with the evidence: the newest event is the grant.
    latest = selectors.derived_current_events(person).get(purpose__key="analytics")
    assert latest.decision == "granted"


def test_an_import_may_name_an_older_version_but_a_live_decision_may_not(
    operator, staff, person, published
):
    old = published["terms"]
    newer = publish("terms", reaccept=True)
    settle(staff)  # the operator owes the new terms too
    path = subject_path(person, "consent-events/")

    stale = post(operator, path, {"purpose": "terms", "decision": "granted", "version": old.pk})
    assert_problem(stale, 409)

    imported = post(
        operator,
        path,
        {"purpose": "terms", "decision": "granted", "version": old.pk, "method": "import"},
    )
    assert imported.status_code == 201, imported.content
    assert imported.json()["version"] == old.pk
    terms = consents_by_key(operator.get(subject_path(person, "consents/")).json())["terms"]
    assert terms["version"]["id"] == old.pk
    assert terms["needs_reacceptance"] is True

    current = post(operator, path, {"purpose": "terms", "decision": "granted", "version": newer.pk})
    assert current.status_code == 201
    assert not selectors.pending_required(person).exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"occurred_at": "2025-01-01T00:00:00Z"},
        {"ip": "203.0.113.9"},
        {"user_agent": "Something/1.0"},
    ],
)
def test_only_an_import_may_say_when_where_and_with_what(operator, person, extra):
    body = {"purpose": "analytics", "decision": "granted", "method": "api", **extra}
    problem = assert_problem(post(operator, subject_path(person, "consent-events/"), body), 400)
    assert set(problem["errors"]) == set(extra)
    assert not ConsentEvent.objects.filter(user=person, purpose__key="analytics").exists()


def test_an_import_dated_in_the_future_is_refused(operator, person):
    later = (timezone.now() + timedelta(days=1)).isoformat()
    body = {"purpose": "analytics", "decision": "granted", "method": "import", "occurred_at": later}
    problem = assert_problem(post(operator, subject_path(person, "consent-events/"), body), 400)
    assert "occurred_at" in problem["errors"]


def test_the_catalogue_lists_purposes_still_asked_with_their_versions(operator, published):
    owner = settle(UserFactory(email="owner@quartz.example"))
    org = create_organization(actor=owner, name="Quartz", slug="quartz")
    Purpose.objects.create(organization=org, key="beta_program", name="Beta programme")
    Purpose.objects.filter(key="analytics").update(archived=True)
    newer = publish("privacy")  # current, but not binding: it did not ask for re-acceptance

    body = operator.get("/api/v1/consent/purposes/").json()
    rows = {(row["organization"], row["key"]): row for row in body["results"]}
    assert body["count"] == len(rows)
    assert (None, "analytics") not in rows
    assert rows[("quartz", "beta_program")]["current_version"] is None
    privacy = rows[(None, "privacy")]
    assert privacy["current_version"]["id"] == newer.pk
    assert privacy["binding_version"]["id"] == published["privacy"].pk


def test_do_not_sell_changes_since_a_time(operator, person):
    early = settle(UserFactory(email="early@example.com"))
    services.record_consent(user=early, purpose=_do_not_sell(), decision="granted", method="api")
    cut = timezone.now()
    services.record_consent(user=person, purpose=_do_not_sell(), decision="granted", method="api")
    services.record_consent(user=person, purpose=_do_not_sell(), decision="withdrawn", method="api")

    everyone = operator.get("/api/v1/consent/do-not-sell/").json()
    assert [(r["user_id"], r["do_not_sell"]) for r in everyone["results"]] == [
        (str(early.public_id), True),
        (str(person.public_id), False),
    ]
    since = operator.get("/api/v1/consent/do-not-sell/", {"changed_since": cut.isoformat()})
    assert since.status_code == 200
    assert [r["user_id"] for r in since.json()["results"]] == [str(person.public_id)]
    changed_at = datetime.fromisoformat(since.json()["results"][0]["changed_at"])
    assert changed_at >= cut


def _do_not_sell() -> Purpose:
    return Purpose.objects.get(key="do_not_sell", organization__isnull=True)


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", ""])
def test_do_not_sell_refuses_a_bad_changed_since(operator, value):
    response = operator.get("/api/v1/consent/do-not-sell/", {"changed_since": value})
    problem = assert_problem(response, 400)
    assert "changed_since" in problem["errors"]


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
