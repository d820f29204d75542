"""Sign-up asks for the required consents and offers the optional ones unticked; the decisions
are recorded as events of the new account, from the form, with the request's address and
browser; a sign-up that is refused or fails leaves nothing; a taken address costs the same."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from consent.models import ConsentEvent, ConsentState
from tests.factories import UserFactory

STRONG = "violet-Anchor-quarry-81"


def sign_up(client: Client, email: str, **boxes: str):
    return client.post("/accounts/signup/", {"email": email, "password1": STRONG, **boxes})


@pytest.fixture
def browser() -> Client:
    return Client(HTTP_USER_AGENT="SignupBrowser/2.0", REMOTE_ADDR="203.0.113.20")


def test_the_form_asks_for_required_boxes_and_offers_optional_ones_unticked(published, browser):
    page = browser.get("/accounts/signup/").content.decode()
    for key in ("terms", "privacy", "marketing_email", "analytics"):
        assert f'name="consent_{key}"' in page
    assert 'name="consent_do_not_sell"' not in page  # set from the privacy page, not here
    assert "checked" not in page
    terms = published["terms"]
    assert f'href="/privacy/policies/{terms.document_id}/{terms.pk}/"' in page


def test_without_the_required_boxes_no_account_is_made(published, browser):
    response = sign_up(browser, "ada@example.com", consent_terms="on")
    assert response.status_code == 200
    assert b"Accept the privacy policy to sign up." in response.content
    assert not User.objects.filter(email="ada@example.com").exists()
    assert not ConsentEvent.objects.exists()


def test_the_ticked_boxes_become_events_of_the_new_account(published, browser):
    response = sign_up(
        browser,
        "ada@example.com",
        consent_terms="on",
        consent_privacy="on",
        consent_analytics="on",
    )
    assert response.status_code == 302, response.content[:500]
    ada = User.objects.get(email="ada@example.com")
    events = {e.purpose.key: e for e in ConsentEvent.objects.filter(user=ada)}
    assert set(events) == {"terms", "privacy", "analytics"}  # marketing left unticked
    for event in events.values():
        assert event.decision == "granted"
        assert event.method == "signup"
        assert event.ip == "203.0.113.20"
        assert event.user_agent == "SignupBrowser/2.0"
    assert events["terms"].version == published["terms"]
    assert set(ConsentState.objects.filter(user=ada).values_list("purpose__key", flat=True)) == {
        "terms",
        "privacy",
        "analytics",
    }


def test_with_nothing_published_only_optional_boxes_are_offered(purposes, browser):
    page = browser.get("/accounts/signup/").content.decode()
    assert 'name="consent_terms"' not in page
    assert 'name="consent_marketing_email"' in page
    assert sign_up(browser, "ada@example.com").status_code == 302
    assert not ConsentEvent.objects.exists()


def _inserts(client: Client, email: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        sign_up(client, email, consent_terms="on", consent_privacy="on", consent_analytics="on")
    return sorted(
        q["sql"].split('"')[1] for q in queries.captured_queries if q["sql"].startswith("INSERT")
    )


def test_a_taken_address_costs_the_same_writes_including_consent_and_receipts(published):
    taken = UserFactory(email="known@example.com")
    taken_writes = _inserts(Client(), taken.email)
    fresh_writes = _inserts(Client(), "fresh@example.com")
    assert taken_writes == fresh_writes
    assert fresh_writes.count("consent_consentevent") == 3
    # The decoy's events were rolled back with it; the real account has no new events.
    assert not ConsentEvent.objects.filter(user=taken).exists()
    assert not User.objects.filter(email__endswith="@signup.invalid").exists()


def test_a_taken_address_costs_a_new_accounts_work_receipts_included(published, monkeypatch):
    """All of it, not only the writes: reads, hashes, cache calls, receipts signed, the email
    (tests/accounts/test_enumeration_work.py has the other endpoints)."""
    from collections import Counter

    from tests.accounts.work import WorkMeter

    meter = WorkMeter(monkeypatch)
    boxes = {"consent_terms": "on", "consent_privacy": "on", "consent_analytics": "on"}
    taken = UserFactory(email="known@example.com")
    meter.post("/accounts/signup/", {"email": "warm@example.com", "password1": STRONG, **boxes})
    taken_work = meter.post(
        "/accounts/signup/", {"email": taken.email, "password1": STRONG, **boxes}
    )
    fresh_work = meter.post(
        "/accounts/signup/", {"email": "fresh@example.com", "password1": STRONG, **boxes}
    )

    assert taken_work.without(statements=Counter({"ROLLBACK TO SAVEPOINT": 1})) == fresh_work
    assert fresh_work.calls == Counter({"sign": 3, "render_mail": 1})
    assert fresh_work.statements["SELECT consent_receiptkey"] == 3
