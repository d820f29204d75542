"""OAuth consent in the consent ledger (issue 15, item 6): allowing a third-party app on its
consent screen records a consent event (method ``oauth_consent``) with a signed receipt that
names the app, the permissions and the organization; the end of that access records a
withdrawal. Apps' purposes are never choices on the privacy page and never hold anyone at the
re-acceptance gate; operators read them through the consent API, organization by organization.

Everything goes through the real pages: the consent screen at /o/authorize/, the token
endpoint, /account/apps/, the privacy page and the consent API with a backend's token."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from consent import receipts, selectors
from consent.models import ConsentEvent, ConsentState, PolicyDocument, Purpose
from organizations import services as organizations
from organizations.models import Membership, Organization
from provider.models import Authorization
from tests.api.oauth_world import backend
from tests.conftest import force_login_verified
from tests.consent.conftest import publish
from tests.factories import UserFactory
from tests.provider.flows import (
    WEB_CALLBACK,
    Attempt,
    authorize,
    code_from,
    redeem,
    refresh,
)

SCOPE = "openid email offline_access organization"


@pytest.fixture
def acme(user) -> Organization:
    owner = UserFactory(email="owner@acme.example")
    org = organizations.create_organization(actor=owner, name="Acme Corp", slug="acme")
    Membership.objects.create(organization=org, user=user, role="member", source="admin")
    return org


@pytest.fixture
def at_acme(webapp) -> Attempt:
    return Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        scope=SCOPE,
        extra={"organization": "acme"},
    )


@pytest.fixture
def personal(webapp) -> Attempt:
    return Attempt(client_id=webapp.client_id, redirect_uri=WEB_CALLBACK, scope="openid email")


def allow(client: Client, attempt: Attempt, **changes):
    return client.post(attempt.url(**changes), {"decision": "allow"})


def jwks() -> dict:
    response = Client().get("/consent/.well-known/jwks.json")
    assert response.status_code == 200
    return response.json()


def oauth_events(user, decision: str | None = None):
    events = ConsentEvent.objects.filter(user=user, method="oauth_consent")
    return events.filter(decision=decision) if decision else events


def tokens_for(client: Client, attempt: Attempt, webapp, **changes) -> dict:
    code = code_from(authorize(client, attempt, **changes), attempt)
    body = redeem(client, attempt, code, auth=webapp.basic()).json()
    assert "refresh_token" in body, body
    return body


# --- Allowing ---------------------------------------------------------------------------------


def test_allowing_records_a_consent_event_with_a_receipt_naming_app_scopes_and_org(
    logged_in_client, user, webapp, acme, at_acme
):
    code_from(allow(logged_in_client, at_acme), at_acme)

    [event] = oauth_events(user)
    assert event.decision == "granted"
    assert event.get_method_display() == "OAuth consent"
    assert event.organization_id == acme.pk
    assert event.purpose.kind == Purpose.Kind.OAUTH_APP
    assert event.purpose.organization == acme
    assert "Partner Portal" in event.purpose.name
    assert "See your email address" in event.purpose.description
    assert Authorization.objects.get(user=user).consent_event == event
    claims = receipts.verify(event.receipt, jwks())  # any verifier with the public keys
    assert claims["sub"] == str(user.public_id)
    consent = claims["consent"]
    assert consent["method"] == "oauth_consent"
    assert consent["decision"] == "granted"
    assert consent["purpose"]["organization"] == "acme"
    assert consent["details"]["client_id"] == webapp.client_id
    assert consent["details"]["app"] == "Partner Portal"
    assert consent["details"]["scopes"] == sorted(SCOPE.split())
    assert consent["details"]["organization"]["name"] == "Acme Corp"
    assert consent["details"]["agent"] is False
    assert user.email not in event.receipt
    assert ConsentState.objects.get(user=user, purpose=event.purpose).granted
    audit = AuditEvent.objects.get(action="consent.granted", actor=user)
    assert audit.data["method"] == "oauth_consent"


def test_a_remembered_consent_writes_nothing_and_prompt_consent_writes_a_new_event(
    logged_in_client, user, webapp, personal
):
    code_from(allow(logged_in_client, personal), personal)

    # The next sign-in asks nothing and records nothing...
    code_from(authorize(logged_in_client, personal), personal)
    assert oauth_events(user).count() == 1
    # ...while prompt=consent shows the screen again, and allowing is a decision of its own.
    assert authorize(logged_in_client, personal, prompt="consent").status_code == 200
    code_from(allow(logged_in_client, personal, prompt="consent"), personal)
    first, second = oauth_events(user).order_by("id")
    assert (first.decision, second.decision) == ("granted", "granted")
    assert first.purpose_id == second.purpose_id
    assert first.organization_id is None
    assert Authorization.objects.get(user=user).consent_event == second


def test_asking_for_more_records_what_was_allowed_that_time(
    logged_in_client, user, webapp, personal
):
    code_from(allow(logged_in_client, personal), personal)
    code_from(allow(logged_in_client, personal, scope="openid profile"), personal)

    assert [e.details["scopes"] for e in oauth_events(user).order_by("id")] == [
        ["email", "openid"],
        ["openid", "profile"],
    ]
    assert set(Authorization.objects.get(user=user).scopes) == {"openid", "email", "profile"}


def test_each_organization_has_its_own_purpose(logged_in_client, user, webapp, acme, at_acme):
    code_from(allow(logged_in_client, at_acme), at_acme)
    personal = Attempt(client_id=webapp.client_id, redirect_uri=WEB_CALLBACK, scope="openid")
    code_from(allow(logged_in_client, personal), personal)

    purposes = Purpose.objects.filter(kind=Purpose.Kind.OAUTH_APP)
    assert sorted((p.organization_id or 0) for p in purposes) == [0, acme.pk]
    assert {p.key for p in purposes} == {f"oauth-app-{webapp.application.pk}"}


def test_denying_records_nothing(logged_in_client, user, personal):
    logged_in_client.post(personal.url(), {"decision": "deny"})

    assert not oauth_events(user).exists()
    assert not Purpose.objects.filter(kind=Purpose.Kind.OAUTH_APP).exists()


# --- Ending access ----------------------------------------------------------------------------


def test_remove_access_records_a_withdrawal_and_the_tokens_die(
    logged_in_client, user, webapp, acme, at_acme
):
    allow(logged_in_client, at_acme)
    tokens = tokens_for(logged_in_client, at_acme, webapp)
    authorization = Authorization.objects.get(user=user)
    bearer = f"Bearer {tokens['access_token']}"
    assert Client().get("/o/userinfo/", HTTP_AUTHORIZATION=bearer).status_code == 200

    response = logged_in_client.post(f"/account/apps/{authorization.pk}/remove/")

    assert response.status_code == 302
    [withdrawal] = oauth_events(user, "withdrawn")
    assert withdrawal.details["ended_by"] == "person"
    assert withdrawal.details["organization"]["slug"] == "acme"
    assert withdrawal.details["scopes"] == sorted(SCOPE.split())
    assert receipts.verify(withdrawal.receipt, jwks())["consent"]["decision"] == "withdrawn"
    assert not ConsentState.objects.get(user=user, purpose=withdrawal.purpose).granted
    assert Client().get("/o/userinfo/", HTTP_AUTHORIZATION=bearer).status_code == 401
    answer = refresh(Client(), webapp.client_id, tokens["refresh_token"], auth=webapp.basic())
    assert answer.json()["error"] == "invalid_grant"
    # Allowing again is a new grant after the withdrawal.
    code_from(allow(logged_in_client, at_acme), at_acme)
    assert [e.decision for e in oauth_events(user).order_by("id")] == [
        "granted",
        "withdrawn",
        "granted",
    ]


def test_removal_from_the_organization_withdraws_only_its_access(
    logged_in_client, user, webapp, acme, at_acme, personal
):
    allow(logged_in_client, at_acme)
    allow(logged_in_client, personal)
    owner = Membership.objects.get(organization=acme, role="owner")

    organizations.remove_member(
        actor=owner, org=acme, member_id=Membership.objects.get(organization=acme, user=user).pk
    )

    [withdrawal] = oauth_events(user, "withdrawn")
    assert withdrawal.organization_id == acme.pk
    assert withdrawal.details["ended_by"] == "removed_from_organization"
    withdrawn = AuditEvent.objects.get(action="consent.withdrawn", data__method="oauth_consent")
    assert withdrawn.actor_id == owner.user_id
    states = {s.purpose.organization_id: s.granted for s in ConsentState.objects.filter(user=user)}
    assert states == {acme.pk: False, None: True}


def test_erasure_records_the_withdrawal_before_the_account_goes(
    logged_in_client, user, webapp, personal, settings
):
    from consent.erasure.schedule import request_erasure

    settings.GATEHOUSE_ERASURE_GRACE_DAYS = 0
    allow(logged_in_client, personal)

    request_erasure(user=user)  # no grace period: the job runs at once (eager here)

    user.refresh_from_db()
    assert user.erased_at is not None
    [withdrawal] = oauth_events(user, "withdrawn")
    assert withdrawal.details["ended_by"] == "erasure"
    assert withdrawal.actor_id is None
    assert withdrawal.ip is None  # kept as evidence, without where it came from
    assert not ConsentState.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="consent.withdrawn", actor_text="system").exists()


def test_removing_twice_records_one_withdrawal(logged_in_client, user, webapp, personal):
    allow(logged_in_client, personal)
    authorization = Authorization.objects.get(user=user)

    logged_in_client.post(f"/account/apps/{authorization.pk}/remove/")
    again = logged_in_client.post(f"/account/apps/{authorization.pk}/remove/")

    assert again.status_code == 404
    assert oauth_events(user, "withdrawn").count() == 1


# --- The privacy page and the re-acceptance gate ----------------------------------------------


def test_the_privacy_page_lists_the_history_but_offers_no_choice(
    logged_in_client, user, webapp, personal
):
    allow(logged_in_client, personal)
    event = oauth_events(user).get()
    purpose = event.purpose

    page = logged_in_client.get("/account/privacy/")

    html = page.content.decode()
    assert page.status_code == 200
    choices = html.split('id="consents"')[1].split("</ul>")[0]
    assert "Partner Portal" not in choices
    assert str(purpose.public_id) not in html
    history = html.split('id="consent-history"')[1]
    assert "Partner Portal: access to your account" in history
    assert "OAuth consent" in history
    assert f"/account/privacy/receipts/{event.public_id}.jwt" in history
    assert "email, openid" in history  # the permissions allowed, beside the app
    receipt = logged_in_client.get(f"/account/privacy/receipts/{event.public_id}.jwt")
    assert receipt.status_code == 200
    assert receipt.content.decode() == event.receipt


def test_an_apps_purpose_cannot_be_decided_on_the_privacy_page_or_the_api(
    logged_in_client, user, webapp, personal
):
    allow(logged_in_client, personal)
    purpose = oauth_events(user).get().purpose

    page = logged_in_client.post(
        "/account/privacy/decide/", {"purpose": str(purpose.public_id), "decision": "withdrawn"}
    )
    api = logged_in_client.post(
        "/api/v1/me/consent-events/",
        {"purpose": str(purpose.public_id), "decision": "withdrawn"},
        content_type="application/json",
    )

    assert page.status_code == 409
    assert api.status_code == 409
    assert "connected apps" in api.json()["detail"]
    assert oauth_events(user).count() == 1
    assert ConsentState.objects.get(user=user, purpose=purpose).granted
    assert Authorization.objects.filter(user=user).exists()


def test_an_apps_purpose_never_holds_anyone_at_the_gate(logged_in_client, user, webapp, personal):
    allow(logged_in_client, personal)
    # Even made required, against a published policy, behind Gatehouse's back (the admin
    # refuses both, below).
    document = PolicyDocument.objects.create(key="app-terms", title="App terms")
    version = publish(document)
    Purpose.objects.filter(kind=Purpose.Kind.OAUTH_APP).update(
        required=True,
        document=document,
        binding_version=version,
        binding_published_at=version.published_at,
    )
    other = UserFactory(email="never-allowed@person.example")

    assert not selectors.pending_required(user).exists()
    assert not selectors.pending_required(other).exists()
    assert logged_in_client.get("/account/apps/").status_code == 200
    Purpose.objects.create(key="newsletter", name="Newsletter")  # an ordinary choice
    me = logged_in_client.get("/api/v1/me/consents/").json()
    listed = {row["purpose"]["key"]: row["purpose"]["kind"] for row in me["consents"]}
    assert "newsletter" in listed  # the list works ...
    assert "oauth_app" not in listed.values()  # ... and holds no app's access


def test_staff_cannot_edit_an_apps_purpose_nor_make_one(logged_in_client, user, personal):
    allow(logged_in_client, personal)
    purpose = Purpose.objects.get(kind=Purpose.Kind.OAUTH_APP)
    officer = force_login_verified(
        Client(), UserFactory(email="officer@gatehouse.test", is_staff=True, is_superuser=True)
    )

    change = officer.post(
        f"/admin/consent/purpose/{purpose.pk}/change/",
        {"name": purpose.name, "kind": "oauth_app", "lawful_basis": "consent", "required": "on"},
    )
    add = officer.post(
        "/admin/consent/purpose/add/",
        {"key": "sneaky", "name": "Sneaky", "kind": "oauth_app", "lawful_basis": "consent"},
    )

    assert change.status_code == 403
    assert not Purpose.objects.get(pk=purpose.pk).required
    assert add.status_code == 200
    assert "kind" in add.context["adminform"].form.errors
    assert not Purpose.objects.filter(key="sneaky").exists()


# --- Operators: the consent API ---------------------------------------------------------------


def test_operators_read_oauth_consent_and_its_receipt(logged_in_client, user, webapp, personal):
    allow(logged_in_client, personal)
    event = oauth_events(user).get()
    caller = backend(scopes=["consent:read"]).caller()

    listed = caller.get(f"/api/v1/users/{user.public_id}/consent-events/")
    receipt = caller.get(
        f"/api/v1/users/{user.public_id}/consent-events/{event.public_id}/receipt/",
        HTTP_ACCEPT="application/jwt",
    )
    catalogue = caller.get("/api/v1/consent/purposes/")

    assert listed.status_code == 200, listed.content
    [row] = listed.json()["results"]
    assert row["method"] == "oauth_consent"
    assert row["details"]["client_id"] == webapp.client_id
    assert row["details"]["scopes"] == ["email", "openid"]
    assert receipt.status_code == 200
    assert receipt.content.decode() == event.receipt
    kinds = {p["key"]: p["kind"] for p in catalogue.json()["results"]}
    assert kinds[event.purpose.key] == "oauth_app"


def test_an_organization_bound_backend_sees_only_its_organizations_app_access(
    logged_in_client, user, webapp, acme, at_acme, personal
):
    allow(logged_in_client, at_acme)
    allow(logged_in_client, personal)
    personal_event = oauth_events(user).get(organization_id__isnull=True)
    other = Organization.objects.create(name="Globex", slug="globex")
    Membership.objects.create(organization=other, user=user, role="member", source="admin")
    at_acme_caller = backend(scopes=["consent:read"], organization=acme).caller()
    at_other_caller = backend(scopes=["consent:read"], organization=other).caller()
    subject = f"/api/v1/users/{user.public_id}"

    acme_rows = at_acme_caller.get(f"{subject}/consent-events/").json()["results"]
    other_rows = at_other_caller.get(f"{subject}/consent-events/").json()["results"]
    hidden = at_acme_caller.get(f"{subject}/consent-events/{personal_event.public_id}/receipt/")
    catalogue = at_other_caller.get("/api/v1/consent/purposes/").json()["results"]

    assert [(r["organization"], r["method"]) for r in acme_rows] == [("acme", "oauth_consent")]
    assert other_rows == []
    assert hidden.status_code == 404
    assert all(p["kind"] != "oauth_app" for p in catalogue)
