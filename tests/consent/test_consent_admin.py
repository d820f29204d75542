"""Consent in the Django admin: the privacy officer edits purposes and drafts and publishes
versions with a reason; published versions and consent evidence are read-only for everyone;
support sees a user's consents on their page; receipt keys never show their private half."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from audit.models import AuditEvent
from config import encryption
from consent import keys, selectors, services
from consent.models import (
    ConsentEvent,
    ConsentState,
    Decision,
    Method,
    PolicyDocument,
    PolicyVersion,
    Purpose,
    ReceiptKey,
)
from organizations.models import Organization
from tests.conftest import force_login_verified
from tests.consent.conftest import publish
from tests.factories import UserFactory

ADMIN = "/admin/consent"


def accepted(user):
    """Staff are people too: the re-acceptance gate holds them until they accept the terms."""
    services.accept_pending(user=user, purposes=list(selectors.pending_required(user)))
    return user


class StaffClient(Client):
    user: User  # who the client is signed in as


@pytest.fixture
def officer(published) -> StaffClient:
    """A superuser privacy officer, signed in with a second factor, terms accepted."""
    user = accepted(UserFactory(email="officer@gatehouse.test", is_staff=True, is_superuser=True))
    client = StaffClient()
    force_login_verified(client, user)
    client.user = user
    return client


@pytest.fixture
def viewer(published) -> StaffClient:
    """A support agent who may only view (users and consent records), nothing more."""
    user = accepted(UserFactory(email="agent@gatehouse.test", is_staff=True))
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["consent", "accounts"], codename__startswith="view_"
        )
    )
    client = StaffClient()
    force_login_verified(client, user)
    client.user = user
    return client


def draft(document: str = "terms", content: str = "New terms.\r\nSecond line.") -> PolicyVersion:
    doc = PolicyDocument.objects.get(key=document, organization__isnull=True)
    return PolicyVersion.objects.create(document=doc, label="Draft 2027", content=content)


def purpose_form(**overrides) -> dict:
    data = {
        "key": "newsletter",
        "name": "Monthly newsletter",
        "description": "",
        "kind": "consent",
        "lawful_basis": "consent",
        "offered_at_signup": "on",
        "organization": "",
        "document": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- Purposes ------------------------------------------------------------------------------------


def test_officer_creates_a_purpose(officer):
    response = officer.post(f"{ADMIN}/purpose/add/", purpose_form())

    assert response.status_code == 302, response.content[:2000]
    purpose = Purpose.objects.get(key="newsletter")
    assert purpose.name == "Monthly newsletter"
    assert purpose.organization is None
    assert purpose.required is False
    assert purpose.kind == Purpose.Kind.CONSENT


def test_purpose_changes_are_on_the_audit_record(officer):
    officer.post(f"{ADMIN}/purpose/add/", purpose_form())
    purpose = Purpose.objects.get(key="newsletter")
    change = {k: v for k, v in purpose_form(required="on").items() if k not in ("key",)}
    response = officer.post(f"{ADMIN}/purpose/{purpose.pk}/change/", change)
    assert response.status_code == 302, response.content[:2000]
    assert Purpose.objects.get(pk=purpose.pk).required
    events = AuditEvent.objects.filter(action="consent.catalogue_changed").order_by("occurred_at")
    assert [(e.data["created"], "required" in e.data["changed"]) for e in events] == [
        (True, False),
        (False, True),
    ]
    assert all(e.target_id == str(purpose.pk) and e.actor_id is not None for e in events)


def test_an_opt_out_purpose_cannot_be_required(officer):
    response = officer.post(
        f"{ADMIN}/purpose/add/", purpose_form(key="no_tracking", kind="opt_out", required="on")
    )

    assert response.status_code == 200
    assert "required" in response.context["adminform"].form.errors
    assert not Purpose.objects.filter(key="no_tracking").exists()


def test_a_purposes_document_belongs_to_its_organization(officer):
    acme = Organization.objects.create(name="Acme", slug="acme")
    global_terms = PolicyDocument.objects.get(key="terms", organization__isnull=True)

    response = officer.post(
        f"{ADMIN}/purpose/add/",
        purpose_form(key="acme_terms", organization=acme.pk, document=global_terms.pk),
    )

    assert response.status_code == 200
    assert "document" in response.context["adminform"].form.errors
    assert not Purpose.objects.filter(key="acme_terms").exists()
    acme_terms = PolicyDocument.objects.create(organization=acme, key="terms", title="Acme terms")
    response = officer.post(
        f"{ADMIN}/purpose/add/",
        purpose_form(key="acme_terms", organization=acme.pk, document=acme_terms.pk),
    )
    assert response.status_code == 302
    assert Purpose.objects.get(key="acme_terms").document == acme_terms


def test_purposes_are_archived_not_deleted(officer, purposes):
    marketing = purposes["marketing_email"]

    assert officer.post(f"{ADMIN}/purpose/{marketing.pk}/delete/").status_code == 403
    page = officer.get(f"{ADMIN}/purpose/{marketing.pk}/change/")
    assert page.status_code == 200
    assert b'name="key"' not in page.content  # the key is fixed once created
    assert b'name="binding_version"' not in page.content

    found = officer.get(f"{ADMIN}/purpose/", {"q": "marketing"})
    assert [p.key for p in found.context["cl"].result_list] == ["marketing_email"]
    assert Purpose.objects.filter(pk=marketing.pk).exists()


# --- Policy versions -----------------------------------------------------------------------------


def test_officer_publishes_a_draft_with_a_reason(officer):
    version = draft()
    page = officer.get(f"{ADMIN}/policyversion/{version.pk}/change/")
    publish_url = f"{ADMIN}/policyversion/{version.pk}/publish/"
    assert page.status_code == 200
    assert publish_url.encode() in page.content

    response = officer.post(publish_url, {"reason": "Legal signed off the 2027 terms"})

    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}/policyversion/{version.pk}/change/"
    version.refresh_from_db()
    assert version.published_at is not None
    assert version.content == "New terms.\nSecond line."
    assert version.content_sha256 == hashlib.sha256(version.content.encode()).hexdigest()
    event = AuditEvent.objects.get(action="consent.policy_published", target_id=str(version.pk))
    assert event.actor == officer.user
    assert event.data["reason"] == "Legal signed off the 2027 terms"
    assert event.data["content_sha256"] == version.content_sha256


def test_publishing_without_a_reason_publishes_nothing(officer):
    version = draft()

    response = officer.post(f"{ADMIN}/policyversion/{version.pk}/publish/", {"reason": " "})

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    version.refresh_from_db()
    assert version.published_at is None
    assert version.content_sha256 == ""
    assert not AuditEvent.objects.filter(
        action="consent.policy_published", target_id=str(version.pk)
    ).exists()


def test_publish_is_post_only_and_a_refusal_is_a_message(officer, published):
    version = draft(content="   ")
    url = f"{ADMIN}/policyversion/{version.pk}/publish/"
    assert officer.get(url).status_code == 405

    response = officer.post(url, {"reason": "ship it"}, follow=True)

    assert response.status_code == 200
    assert "needs its full text" in response.content.decode()
    assert PolicyVersion.objects.get(pk=version.pk).published_at is None
    # Publishing one that is already published says so too.
    again = officer.post(
        f"{ADMIN}/policyversion/{published['terms'].pk}/publish/", {"reason": "x"}, follow=True
    )
    assert again.status_code == 200
    assert "already published" in again.content.decode()


def test_staff_without_change_permission_cannot_publish(viewer):
    version = draft()

    response = viewer.post(f"{ADMIN}/policyversion/{version.pk}/publish/", {"reason": "why not"})

    assert response.status_code == 403
    assert PolicyVersion.objects.get(pk=version.pk).published_at is None
    page = viewer.get(f"{ADMIN}/policyversion/{version.pk}/change/")
    assert page.status_code == 200
    assert b"/publish/" not in page.content


def test_a_published_version_is_read_only_in_the_admin(officer, published):
    version = published["terms"]
    url = f"{ADMIN}/policyversion/{version.pk}/change/"

    page = officer.get(url)

    assert page.status_code == 200
    text = page.content.decode()
    assert version.content_sha256 in text
    assert f"/privacy/policies/{version.document_id}/{version.pk}/" in text
    assert 'name="content"' not in text
    assert 'name="_save"' not in text
    assert "/publish/" not in text
    before = (version.label, version.content, version.content_sha256)

    response = officer.post(url, {"label": "rewritten", "content": "Something else"})

    assert response.status_code == 403
    version = PolicyVersion.objects.get(pk=version.pk)
    assert (version.label, version.content, version.content_sha256) == before


def test_a_published_version_cannot_be_deleted_but_a_draft_can(officer, published):
    version = published["privacy"]

    assert officer.get(f"{ADMIN}/policyversion/{version.pk}/delete/").status_code == 403
    assert officer.post(f"{ADMIN}/policyversion/{version.pk}/delete/").status_code == 403
    refused = officer.post(
        f"{ADMIN}/policyversion/",
        {"action": "delete_selected", "_selected_action": [version.pk], "post": "yes"},
    )
    assert refused.status_code in (200, 403)
    assert PolicyVersion.objects.filter(pk=version.pk).exists()

    doomed = draft("privacy")
    response = officer.post(f"{ADMIN}/policyversion/{doomed.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not PolicyVersion.objects.filter(pk=doomed.pk).exists()


def test_officer_writes_and_edits_a_draft(officer):
    terms = PolicyDocument.objects.get(key="terms", organization__isnull=True)
    form = {
        "document": terms.pk,
        "label": "Spring 2027",
        "content": "Be kind.",
        "url": "",
        "change_summary": "Kinder",
    }
    assert officer.post(f"{ADMIN}/policyversion/add/", form).status_code == 302
    version = PolicyVersion.objects.get(label="Spring 2027")
    assert version.created_by == officer.user
    assert not version.is_published

    form.pop("document")
    response = officer.post(
        f"{ADMIN}/policyversion/{version.pk}/change/", {**form, "content": "Be kinder."}
    )

    assert response.status_code == 302
    assert PolicyVersion.objects.get(pk=version.pk).content == "Be kinder."


def test_a_document_lists_its_versions_with_their_public_pages(officer, published):
    terms = published["terms"]
    later = draft()

    page = officer.get(f"{ADMIN}/policydocument/{terms.document_id}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    assert f"/privacy/policies/{terms.document_id}/{terms.pk}/" in text
    assert f"{ADMIN}/policyversion/{terms.pk}/change/" in text
    assert f"{ADMIN}/policyversion/{later.pk}/change/" in text
    assert f"/privacy/policies/{terms.document_id}/{later.pk}/" not in text  # a draft
    assert officer.post(f"{ADMIN}/policydocument/{terms.document_id}/delete/").status_code == 403


# --- Consent events and the user's page ----------------------------------------------------------


@pytest.fixture
def customer(published, purposes):
    person = accepted(UserFactory(email="customer@example.com"))
    services.record_consent(
        user=person,
        purpose=purposes["marketing_email"],
        decision=Decision.GRANTED,
        method=Method.SETTINGS,
    )
    return person


def test_support_reads_consent_events_but_cannot_change_them(viewer, customer):
    event = ConsentEvent.objects.filter(user=customer).first()
    assert event is not None
    url = f"{ADMIN}/consentevent/{event.pk}/change/"

    listing = viewer.get(f"{ADMIN}/consentevent/", {"q": customer.email})
    assert listing.status_code == 200
    assert {e.user_id for e in listing.context["cl"].result_list} == {customer.pk}
    by_id = viewer.get(f"{ADMIN}/consentevent/", {"q": str(customer.public_id)})
    assert {e.user_id for e in by_id.context["cl"].result_list} == {customer.pk}

    page = viewer.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert event.receipt in text
    assert 'name="_save"' not in text
    assert 'name="_continue"' not in text
    assert viewer.post(url, {"decision": "withdrawn"}).status_code == 403
    assert viewer.post(f"{ADMIN}/consentevent/{event.pk}/delete/").status_code == 403
    assert viewer.get(f"{ADMIN}/consentevent/add/").status_code == 403
    assert ConsentEvent.objects.get(pk=event.pk).decision == event.decision


def test_even_a_superuser_cannot_change_consent_events(officer, customer):
    event = ConsentEvent.objects.filter(user=customer).first()
    assert event is not None

    assert officer.post(f"{ADMIN}/consentevent/{event.pk}/change/", {}).status_code == 403
    assert officer.post(f"{ADMIN}/consentevent/{event.pk}/delete/").status_code == 403
    assert ConsentEvent.objects.filter(pk=event.pk).exists()


def test_the_user_page_shows_current_consents_and_links_to_the_history(viewer, customer):
    other = accepted(UserFactory(email="someone-else@example.com"))

    page = viewer.get(f"/admin/accounts/user/{customer.pk}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    states = ConsentState.objects.filter(user=customer).select_related("purpose")
    assert {s.purpose.key for s in states} == {"terms", "privacy", "marketing_email"}
    for state in states:
        assert state.purpose.name in text
    assert 'name="consent_states-0-granted"' not in text  # read-only
    history = f"{ADMIN}/consentevent/?user__id__exact={customer.pk}"
    assert history.replace("&", "&amp;") in text or history in text

    listing = viewer.get(history)
    assert listing.status_code == 200
    shown = listing.context["cl"].result_list
    assert len(shown) == 3
    assert {e.user_id for e in shown} == {customer.pk}
    assert other.pk not in {e.user_id for e in shown}


def test_saving_a_user_does_not_depend_on_the_consent_list(officer, customer):
    response = officer.post(
        f"/admin/accounts/user/{customer.pk}/change/",
        {"display_name": "Renamed Customer", "is_active": "on"},
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.display_name == "Renamed Customer"
    assert ConsentState.objects.filter(user=customer).count() == 3


def test_the_consent_event_list_runs_a_bounded_number_of_queries(
    officer, purposes, django_assert_max_num_queries
):
    people = [accepted(UserFactory()) for _ in range(10)]
    for person in people:
        for key in ("marketing_email", "analytics"):
            services.record_consent(
                user=person, purpose=purposes[key], decision=Decision.GRANTED, method=Method.API
            )
    assert ConsentEvent.objects.filter(user__in=people).count() == 40  # 10 people, 4 purposes each

    # About ten with sessions in Redis, a few more with the database session store (SQLite);
    # what matters is that 40 events do not cost a query each.
    with django_assert_max_num_queries(16):
        response = officer.get(f"{ADMIN}/consentevent/")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 30
    # About ten with sessions in Redis, a few more with the database session store (SQLite);
    # what matters is that 40 events do not cost a query each.
    with django_assert_max_num_queries(16):
        filtered = officer.get(f"{ADMIN}/consentevent/", {"decision__exact": "granted"})
    assert filtered.status_code == 200
    # The user page: its consents panel costs one query, however many purposes there are
    # (the page as a whole is pinned in tests/accounts/test_admin_person.py).
    with CaptureQueriesContext(connection) as queries:
        page = officer.get(f"/admin/accounts/user/{people[0].pk}/change/")
    assert page.status_code == 200
    consent_reads = [
        q["sql"] for q in queries.captured_queries if re.search(r'FROM "consent_', q["sql"])
    ]
    inline_reads = [sql for sql in consent_reads if sql.startswith('SELECT "consent_consentstate"')]
    assert len(inline_reads) == 1, consent_reads
    # Besides that: the re-acceptance gate's own check and the open privacy requests panel,
    # and nothing per row.
    assert len(consent_reads) <= 3, consent_reads


# --- Receipt keys --------------------------------------------------------------------------------


def test_the_receipt_keys_private_half_never_appears(viewer, officer, customer):
    keys.rotate()
    assert ReceiptKey.objects.count() == 2
    for client in (viewer, officer):
        for key in ReceiptKey.objects.all():
            secret = key.private_key_encrypted
            assert "PRIVATE" in encryption.decrypt(secret)  # what must stay out of sight
            pages = [
                client.get(f"{ADMIN}/receiptkey/"),
                client.get(f"{ADMIN}/receiptkey/{key.pk}/change/"),
                client.get(f"{ADMIN}/receiptkey/{key.pk}/history/"),
            ]
            for page in pages:
                assert page.status_code == 200
                assert secret not in page.content.decode()
                assert b"PRIVATE" not in page.content
            assert key.kid in pages[1].content.decode()
            # No rebuilding it through URL filters either.
            probe = client.get(
                f"{ADMIN}/receiptkey/", {"private_key_encrypted__startswith": secret[:6]}
            )
            assert probe.status_code == 400
        assert client.post(f"{ADMIN}/receiptkey/{key.pk}/delete/").status_code == 403
        assert client.get(f"{ADMIN}/receiptkey/add/").status_code == 403


# --- The re-acceptance gate applies to staff too -------------------------------------------------


def test_staff_who_owe_the_new_terms_accept_them_before_the_admin(published):
    user = UserFactory(email="late@gatehouse.test", is_staff=True, is_superuser=True)
    client = force_login_verified(Client(), user)

    response = client.get(f"{ADMIN}/consentevent/")

    assert response.status_code == 302
    assert response["Location"].startswith("/account/privacy/accept/")
    accepted(user)
    assert client.get(f"{ADMIN}/consentevent/").status_code == 200
    publish("terms", reaccept=True)
    assert client.get(f"{ADMIN}/consentevent/").status_code == 302
