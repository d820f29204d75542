"""/account/privacy/: every consent with its history; an optional one withdrawn as easily as it
was given (one POST); required ones cannot be withdrawn there; "do not sell or share" is one
click; each decision's receipt downloads and verifies; bad input gets a clear answer."""

from __future__ import annotations

import pytest
from django.test import Client

from consent import keys, receipts, services
from consent.models import ConsentEvent, ConsentState, Purpose
from tests.factories import UserFactory

PAGE = "/account/privacy/"


@pytest.fixture
def person(published):
    ada = UserFactory(email="ada@example.com")
    services.accept_pending(
        user=ada, purposes=list(Purpose.objects.filter(required=True, organization__isnull=True))
    )
    return ada


@pytest.fixture
def client(person) -> Client:
    c = Client(HTTP_USER_AGENT="PrivacyBrowser/1.0")
    c.force_login(person)
    return c


def decide(client: Client, purpose: Purpose, decision: str):
    return client.post(
        "/account/privacy/decide/", {"purpose": str(purpose.public_id), "decision": decision}
    )


def test_the_page_lists_every_purpose_with_where_the_person_stands(client, purposes):
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    for key in ("terms", "privacy", "marketing_email", "analytics", "do_not_sell"):
        assert f'id="purpose-{key}"' in html
    assert 'id="withdraw-terms"' not in html  # required: no withdraw button
    assert 'id="grant-marketing_email"' in html
    assert html.count("/account/privacy/receipts/") == 2  # terms and privacy, accepted


def test_an_optional_consent_is_given_and_withdrawn_with_one_post_each(client, person, purposes):
    marketing = purposes["marketing_email"]
    given = decide(client, marketing, "granted")
    assert given.status_code == 302
    assert given["Location"] == PAGE
    assert ConsentState.objects.get(user=person, purpose=marketing).granted
    assert 'id="withdraw-marketing_email"' in client.get(PAGE).content.decode()

    withdrawn = decide(client, marketing, "withdrawn")
    assert withdrawn.status_code == 302
    assert not ConsentState.objects.get(user=person, purpose=marketing).granted
    events = ConsentEvent.objects.filter(user=person, purpose=marketing).order_by("id")
    assert [(e.decision, e.method) for e in events] == [
        ("granted", "settings"),
        ("withdrawn", "settings"),
    ]
    assert events[1].user_agent == "PrivacyBrowser/1.0"
    history = client.get(PAGE).content.decode()
    assert history.count("Marketing email") >= 3  # the row and two history lines


def test_a_required_consent_cannot_be_withdrawn_here(client, person, purposes):
    response = decide(client, purposes["terms"], "withdrawn")
    assert response.status_code == 409
    assert b"delete the account instead" in response.content
    assert ConsentState.objects.get(user=person, purpose=purposes["terms"]).granted


def test_do_not_sell_is_one_click_each_way(client, person, purposes):
    from consent.selectors import do_not_sell

    assert not do_not_sell(person)
    assert decide(client, purposes["do_not_sell"], "granted").status_code == 302
    assert do_not_sell(person)
    assert 'id="withdraw-do_not_sell"' in client.get(PAGE).content.decode()
    assert decide(client, purposes["do_not_sell"], "withdrawn").status_code == 302
    assert not do_not_sell(person)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({}, 400),
        ({"purpose": "not-a-uuid", "decision": "granted"}, 400),
        ({"purpose": "00000000-0000-0000-0000-000000000000", "decision": "granted"}, 404),
        ({"decision": "maybe"}, 400),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(client, person, purposes, data, status):
    data = {"purpose": str(purposes["analytics"].public_id), **data}
    before = ConsentEvent.objects.count()
    response = client.post("/account/privacy/decide/", data)
    assert response.status_code == status
    assert ConsentEvent.objects.count() == before


def test_another_organizations_purpose_is_not_found(client, person):
    from organizations import services as org_services

    owner = UserFactory()
    org = org_services.create_organization(actor=owner, name="Other", slug="other")
    theirs = Purpose.objects.create(organization=org, key="newsletter", name="Newsletter")
    assert decide(client, theirs, "granted").status_code == 404
    assert not ConsentEvent.objects.filter(user=person, purpose=theirs).exists()
    assert 'id="purpose-newsletter' not in client.get(PAGE).content.decode()


def test_a_receipt_downloads_and_verifies_and_only_its_owner_gets_it(client, person):
    event = ConsentEvent.objects.filter(user=person).first()
    assert event is not None
    response = client.get(f"/account/privacy/receipts/{event.public_id}.jwt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwt"
    assert "attachment" in response["Content-Disposition"]
    claims = receipts.verify(response.content.decode(), keys.jwks())
    assert claims["jti"] == str(event.public_id)

    other = UserFactory()
    services.accept_pending(
        user=other, purposes=list(Purpose.objects.filter(required=True, organization__isnull=True))
    )
    stranger = Client()
    stranger.force_login(other)
    assert stranger.get(PAGE).status_code == 200  # not held at the gate
    assert stranger.get(f"/account/privacy/receipts/{event.public_id}.jwt").status_code == 404
    anonymous = Client().get(f"/account/privacy/receipts/{event.public_id}.jwt")
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]


def test_signed_out_people_are_sent_to_sign_in(published):
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_consent_given_against_a_version_that_changed_meanwhile_is_refused(
    client, person, published
):
    from tests.consent.conftest import publish

    doc = published["privacy"].document
    newsletter = Purpose.objects.create(key="newsletter", name="Newsletter", document=doc)
    shown = newsletter.current_version()
    assert shown is not None
    publish(doc)  # a minor version: nobody is gated, but the page's one is out of date
    response = client.post(
        "/account/privacy/decide/",
        {"purpose": str(newsletter.public_id), "decision": "granted", "version": shown.pk},
    )
    assert response.status_code == 409
    assert not ConsentEvent.objects.filter(user=person, purpose=newsletter).exists()
    current = newsletter.current_version()
    assert current is not None
    fresh = client.post(
        "/account/privacy/decide/",
        {
            "purpose": str(newsletter.public_id),
            "decision": "granted",
            "version": current.pk,
        },
    )
    assert fresh.status_code == 302
    assert ConsentEvent.objects.get(user=person, purpose=newsletter).version != shown
