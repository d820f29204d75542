"""The consent API for operators' backends: with the permission, they read, record and import
consents for anyone, and list the purposes and do-not-sell changes. Errors are problem
responses. (The person's own side is in test_consent_api.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from consent import keys, receipts, selectors, services
from consent.models import ConsentEvent, Purpose
from organizations.services import create_organization
from tests.consent.api_world import (
    EVENT_FIELDS,
    assert_problem,
    consents_by_key,
    post,
    subject_path,
)
from tests.consent.conftest import publish, settle
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

if TYPE_CHECKING:
    pass

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
