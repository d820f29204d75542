"""Where an organization's policy asks for it, an admin of it (or the person) approves first,
by an emailed link that works once and expires; a refusal ends the request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.impersonation.models import ApprovalLink, Impersonation
from audit.models import AuditEvent
from tests.accounts.impersonation.helpers import (
    REASON,
    add_member,
    approval_link_for,
    ask,
    make_staff,
    organization_asking_approval,
    signed_in_as,
    staff_browser,
    start_url,
)
from tests.factories import UserFactory


class World:
    def __init__(self) -> None:
        self.staff = make_staff()
        self.owner = UserFactory(email="owner@acme.example")
        self.admin = UserFactory(email="admin@acme.example")
        self.person = UserFactory(email="member@acme.example")
        self.org = organization_asking_approval(self.owner)
        add_member(self.org, self.admin, role="admin")
        add_member(self.org, self.person)


@pytest.fixture
def world() -> World:
    return World()


def asked(world: World) -> tuple[Client, Impersonation]:
    browser = staff_browser(world.staff)
    assert 'id="approval-needed"' in browser.get(start_url(world.person)).content.decode()
    response = ask(browser, world.person)
    imp = Impersonation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/impersonate/{imp.public_id}/"
    return browser, imp


def test_approval_by_the_organizations_admin_then_the_staff_member_starts(world):
    browser, imp = asked(world)
    assert imp.status == Impersonation.Status.AWAITING_APPROVAL
    assert signed_in_as(browser) == str(world.staff.pk), "nothing starts before approval"
    # The owner, the admin and the person are each asked, with a link of their own.
    assert {m.to[0] for m in mail.outbox if "asks to sign in" in m.subject} == {
        "owner@acme.example",
        "admin@acme.example",
        "member@acme.example",
    }
    assert ApprovalLink.objects.filter(impersonation=imp).count() == 3
    record = browser.get(f"/admin/impersonate/{imp.public_id}/").content.decode()
    assert "Awaiting approval" in record
    assert 'id="start-impersonation"' not in record
    link = approval_link_for("admin@acme.example")

    approver = Client()
    page = approver.get(link)  # opening the link decides nothing
    assert page.status_code == 200
    assert REASON in page.content.decode()
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.AWAITING_APPROVAL
    answer = approver.post(link, {"decision": "approve"})

    assert answer.status_code == 200
    assert 'id="decision"' in answer.content.decode()
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.APPROVED
    assert imp.decided_by_text == "admin@acme.example"
    record = browser.get(f"/admin/impersonate/{imp.public_id}/").content.decode()
    assert 'id="start-impersonation"' in record

    response = browser.post(f"/admin/impersonate/{imp.public_id}/start/")

    assert response.status_code == 302
    assert signed_in_as(browser) == str(world.person.pk)
    assert 'id="impersonation-banner"' in browser.get("/account/").content.decode()
    # The organization reads it all in its own log; the approver is the actor of the approval.
    org_actions = set(
        AuditEvent.objects.filter(organization_id=world.org.pk).values_list("action", flat=True)
    )
    assert {
        "impersonation.requested",
        "impersonation.approved",
        "impersonation.started",
    } <= org_actions
    approved = AuditEvent.objects.get(action="impersonation.approved")
    assert approved.actor_id == world.admin.pk
    assert approved.target_id == str(world.person.pk)
    # Approved people are not told afterwards: they were asked before.
    browser.post("/impersonation/end/")
    assert not [m for m in mail.outbox if m.subject.strip() == "Support signed in as you"]
    assert AuditEvent.objects.get(action="impersonation.ended").organization_id == world.org.pk


def test_the_person_may_approve_for_themselves(world):
    _browser, imp = asked(world)

    Client().post(approval_link_for("member@acme.example"), {"decision": "approve"})

    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.APPROVED


def test_a_refusal_ends_the_request_and_it_cannot_start(world):
    browser, imp = asked(world)

    answer = Client().post(approval_link_for("owner@acme.example"), {"decision": "refuse"})

    assert answer.status_code == 200
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.REFUSED
    refused = AuditEvent.objects.get(action="impersonation.refused")
    assert refused.actor_id == world.owner.pk
    assert refused.organization_id == world.org.pk
    assert "Refused" in browser.get(f"/admin/impersonate/{imp.public_id}/").content.decode()
    response = browser.post(f"/admin/impersonate/{imp.public_id}/start/")
    assert response.status_code == 400
    assert signed_in_as(browser) == str(world.staff.pk)
    # The other approvers' links are dead too.
    late = Client().post(approval_link_for("admin@acme.example"), {"decision": "approve"})
    assert late.status_code == 410
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.REFUSED


def test_an_approval_link_works_once(world):
    _browser, imp = asked(world)
    link = approval_link_for("admin@acme.example")
    assert Client().post(link, {"decision": "approve"}).status_code == 200

    again = Client().post(link, {"decision": "refuse"})

    assert again.status_code == 410
    assert Client().get(link).status_code == 410
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.APPROVED
    assert AuditEvent.objects.filter(action="impersonation.approved").count() == 1


def test_an_approval_link_expires_after_a_day(world):
    browser, imp = asked(world)
    link = approval_link_for("admin@acme.example")
    Impersonation.objects.filter(pk=imp.pk).update(
        approval_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert Client().get(link).status_code == 410
    assert Client().post(link, {"decision": "approve"}).status_code == 410
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.AWAITING_APPROVAL
    assert browser.post(f"/admin/impersonate/{imp.public_id}/start/").status_code == 400
    assert signed_in_as(browser) == str(world.staff.pk)


def test_an_approved_request_cannot_start_once_its_approval_has_lapsed(world):
    browser, imp = asked(world)
    Client().post(approval_link_for("admin@acme.example"), {"decision": "approve"})
    Impersonation.objects.filter(pk=imp.pk).update(
        approval_expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = browser.post(f"/admin/impersonate/{imp.public_id}/start/")

    assert response.status_code == 410
    assert signed_in_as(browser) == str(world.staff.pk)


@pytest.mark.parametrize("token", ["not-a-token", "x" * 43, ""])
def test_a_made_up_link_is_not_found(world, token):
    asked(world)
    path = f"/impersonation/approve/{token}/" if token else "/impersonation/approve/%20/"
    assert Client().post(path, {"decision": "approve"}).status_code == 404


def test_a_bad_decision_is_a_clear_error(world):
    _browser, imp = asked(world)
    response = Client().post(approval_link_for("admin@acme.example"), {"decision": "maybe"})
    assert response.status_code == 400
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.AWAITING_APPROVAL


def test_only_the_staff_member_who_asked_can_start_or_read_it(world):
    _browser, imp = asked(world)
    Client().post(approval_link_for("admin@acme.example"), {"decision": "approve"})
    colleague = staff_browser(make_staff("colleague@gatehouse.test"))

    assert colleague.get(f"/admin/impersonate/{imp.public_id}/").status_code == 404
    assert colleague.post(f"/admin/impersonate/{imp.public_id}/start/").status_code == 404
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.APPROVED


def test_each_organization_asking_for_approval_must_approve(world):
    other_owner = UserFactory(email="owner@bolt.example")
    bolt = organization_asking_approval(other_owner, name="Bolt", slug="bolt")
    add_member(bolt, world.person)
    _browser, imp = asked(world)

    Client().post(approval_link_for("admin@acme.example"), {"decision": "approve"})
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.AWAITING_APPROVAL

    Client().post(approval_link_for("owner@bolt.example"), {"decision": "approve"})
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.APPROVED


def test_a_policy_switched_off_means_no_approval(world):
    world.org.policy.impersonation_needs_approval = False
    world.org.policy.save()
    browser = staff_browser(world.staff)

    response = ask(browser, world.person)

    assert response["Location"] == "/account/"
    assert signed_in_as(browser) == str(world.person.pk)


def test_nobody_to_ask_is_refused_up_front(world):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user__in=[world.owner, world.admin, world.person]).update(
        verified=False
    )
    browser = staff_browser(world.staff)

    response = ask(browser, world.person)

    assert response.status_code == 409
    assert "Nobody can approve this" in response.content.decode()
    assert not Impersonation.objects.exists()
    assert not [m for m in mail.outbox if "asks to sign in" in m.subject]
