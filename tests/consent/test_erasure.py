"""Erasure through HTTP and through the jobs: asked for after a step-up and a typed confirmation,
told to every verified address, cancellable during the grace period, refused to a sole owner of
an organization with members, carried out by the due-erasures sweep, and harmless when run twice
or after a crash. What the job leaves behind: a tombstone nobody can sign in to, an address free
for a new account, audit events under a pseudonym, and consent evidence without IP addresses."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import OutboundEmail, User
from accounts.tasks import send_email
from audit import services as audit_services
from audit.actions import Action, Outcome
from audit.models import AuditEvent
from config.refusals import Refusal
from consent import evidence, tasks
from consent.erasure import job, quotes, schedule
from consent.erasure.identifiers import Identifiers, collect
from consent.erasure.rewriter import Rewriter
from consent.models import ConsentEvent, DataSubjectRequest, Purpose
from consent.signals import user_erased
from organizations import services as org_services
from organizations.models import Invitation, Membership, Organization
from tests.audit.helpers import erasure_under_way
from tests.conftest import force_login_verified, require
from tests.consent.conftest import publish
from tests.consent.world import accept_required, signed_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

PRIVACY = "/account/privacy/"
ERASE = "/account/privacy/delete/"
CANCEL = "/account/privacy/delete/cancel/"
API = "/api/v1/me/erasure/"
PAT = "pat@person.example"
PAT_SECOND = "pat.second@person.example"
PAT_UNPROVEN = "someone.maybe@else.example"


@pytest.fixture
def pat(published):
    user = UserFactory(email=PAT, display_name="Pat Person")
    EmailAddress.objects.create(user=user, email=PAT_SECOND, verified=True, primary=False)
    EmailAddress.objects.create(user=user, email=PAT_UNPROVEN, verified=False, primary=False)
    accept_required(user)
    return user


@pytest.fixture
def client(pat) -> Client:
    return signed_in(pat, REMOTE_ADDR="192.0.2.10")


def _erasure(user) -> DataSubjectRequest:
    return DataSubjectRequest.objects.get(user=user, kind="erasure")


def _make_due(user) -> None:
    DataSubjectRequest.objects.filter(user=user, kind="erasure").update(
        scheduled_for=timezone.now() - timedelta(minutes=1)
    )


def _recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


# --- Asking ------------------------------------------------------------------------------------


def test_the_page_needs_a_recent_step_up(pat):
    client = Client()
    client.force_login(pat)  # a session with no recent sign-in on record

    page = client.get(ERASE)
    post = client.post(ERASE, {"confirm": "delete"})

    assert page.status_code == 302
    assert page["Location"].startswith(reverse("mfa:stepup"))
    assert post.status_code == 302
    assert post["Location"].startswith(reverse("mfa:stepup"))
    assert not DataSubjectRequest.objects.filter(user=pat).exists()


def test_confirming_schedules_the_erasure_and_tells_every_verified_address(pat, client):
    assert b'id="erasure-start"' in client.get(PRIVACY).content
    assert client.get(ERASE).status_code == 200
    mail.outbox.clear()

    wrong = client.post(ERASE, {"confirm": "yes please"})
    empty = client.post(ERASE, {})

    assert wrong.status_code == 400
    assert b"Type the word" in wrong.content
    assert empty.status_code == 400
    assert not DataSubjectRequest.objects.filter(user=pat).exists()
    assert mail.outbox == []

    before = timezone.now()
    response = client.post(ERASE, {"confirm": " Delete "})

    assert response.status_code == 302
    assert response["Location"] == PRIVACY
    request = _erasure(pat)
    assert request.status == "scheduled"
    assert request.via == "self"
    assert request.scheduled_for is not None
    assert timedelta(days=14) <= request.scheduled_for - before < timedelta(days=14, minutes=1)
    # Every address Pat proved, and not the one added without proof.
    assert _recipients() == sorted([PAT, PAT_SECOND])
    assert request.scheduled_for.strftime("%-d %B %Y") in str(mail.outbox[0].body)
    assert PRIVACY in mail.outbox[0].body
    [event] = AuditEvent.objects.filter(action="privacy.erasure_requested")
    assert event.actor_id == pat.pk
    assert event.data["request"] == str(request.public_id)
    # The account keeps working, with a banner on every account page.
    profile = client.get("/account/")
    assert profile.status_code == 200
    assert b'id="erasure-banner"' in profile.content
    privacy = client.get(PRIVACY).content
    assert b'id="erasure-cancel"' in privacy
    assert b'id="erasure-start"' not in privacy
    # Asking again changes nothing.
    assert client.post(ERASE, {"confirm": "delete"})["Location"] == PRIVACY
    assert DataSubjectRequest.objects.filter(user=pat, kind="erasure").count() == 1
    assert len(mail.outbox) == 2


def test_cancelling_keeps_the_account_and_says_so(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    mail.outbox.clear()

    response = client.post(CANCEL)

    assert response["Location"] == PRIVACY
    request = _erasure(pat)
    assert request.status == "cancelled"
    assert request.cancelled_at is not None
    assert _recipients() == sorted([PAT, PAT_SECOND])
    assert "called off" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="privacy.erasure_cancelled", actor=pat).exists()
    assert b'id="erasure-banner"' not in client.get("/account/").content
    # The sweep leaves a cancelled request alone, however late it is.
    _make_due(pat)
    assert tasks.run_due_erasures() == 0
    pat.refresh_from_db()
    assert pat.erased_at is None
    assert pat.is_active
    # Nothing left to cancel: a message, not an error page.
    again = client.post(CANCEL, follow=True)
    assert again.status_code == 200
    assert b"no account deletion to cancel" in again.content
    # A cancel is a POST.
    assert client.get(CANCEL).status_code == 405


def test_a_sole_owner_of_an_organization_with_members_is_told_what_to_do_first(pat, client):
    org = org_services.create_organization(actor=pat, name="Pat's Shop", slug="pats-shop")
    colleague = UserFactory(email="colleague@shop.example")
    Membership.objects.create(organization=org, user=colleague, role="member", source="admin")

    page = client.get(ERASE)
    refused = client.post(ERASE, {"confirm": "delete"})

    assert b'id="erasure-blocked"' in page.content
    assert b"Pat&#x27;s Shop" in page.content
    assert refused.status_code == 400
    assert b"only owner of Pat" in refused.content
    assert not DataSubjectRequest.objects.filter(user=pat).exists()

    # A second owner makes it possible; so would being the only one left.
    Membership.objects.filter(organization=org, user=colleague).update(role="owner")
    assert client.post(ERASE, {"confirm": "delete"})["Location"] == PRIVACY
    assert _erasure(pat).status == "scheduled"


def test_an_organization_with_no_one_else_does_not_hold_erasure_up(pat, client):
    org_services.create_organization(actor=pat, name="Solo", slug="solo")
    assert client.post(ERASE, {"confirm": "delete"})["Location"] == PRIVACY


def test_erasure_pages_stay_reachable_while_new_terms_wait(pat, client):
    publish("terms", reaccept=True)

    assert client.get("/account/")["Location"].startswith("/account/privacy/accept/")
    assert client.get(ERASE).status_code == 200
    assert client.post(ERASE, {"confirm": "delete"})["Location"] == PRIVACY
    assert client.get(API).status_code == 200
    assert client.post(CANCEL)["Location"] == PRIVACY


# --- The API -------------------------------------------------------------------------------------


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def test_the_api_asks_confirms_and_cancels(pat, client):
    _problem(client.get(API), 404)
    bad = _problem(client.post(API, {}, content_type="application/json"), 400)
    assert "confirm" in bad["errors"]
    _problem(client.post(API, {"confirm": "nope"}, content_type="application/json"), 400)
    assert not DataSubjectRequest.objects.filter(user=pat).exists()

    created = client.post(API, {"confirm": "delete"}, content_type="application/json")
    again = client.post(API, {"confirm": "delete"}, content_type="application/json")

    assert created.status_code == 202
    assert again.status_code == 200
    body = created.json()
    request = _erasure(pat)
    assert body["id"] == str(request.public_id)
    assert body["status"] == "scheduled"
    assert body["via"] == "api"
    assert body["scheduled_for"]
    assert client.get(API).json()["id"] == body["id"]

    cancelled = client.delete(API)

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    _problem(client.delete(API), 404)
    _problem(client.get(API), 404)


def test_the_api_needs_a_step_up_and_a_signed_in_person(pat):
    stale = Client()
    stale.force_login(pat)

    refused = _problem(stale.post(API, {"confirm": "delete"}, content_type="application/json"), 403)

    assert "step up" in refused["detail"]
    assert not DataSubjectRequest.objects.filter(user=pat).exists()
    for method in ("get", "post", "delete"):
        assert getattr(Client(), method)(API).status_code in (401, 403)


def test_the_api_refuses_a_sole_owner_with_a_problem(pat, client):
    org = org_services.create_organization(actor=pat, name="Shop", slug="shop")
    Membership.objects.create(organization=org, user=UserFactory(), role="admin", source="admin")

    problem = _problem(
        client.post(API, {"confirm": "delete"}, content_type="application/json"), 409
    )

    assert "only owner of Shop" in problem["detail"]
    assert not DataSubjectRequest.objects.filter(user=pat).exists()


# --- The job -----------------------------------------------------------------------------------


def test_the_sweep_waits_for_the_grace_period_then_erases(pat, client):
    org = org_services.create_organization(actor=UserFactory(), name="Acme", slug="acme")
    Membership.objects.create(organization=org, user=pat, role="admin", source="admin")
    old_public_id = pat.public_id
    client.post(ERASE, {"confirm": "delete"})
    received = []

    def on_erased(sender, user, old_public_id, **kwargs):
        received.append((user.pk, old_public_id))

    user_erased.connect(on_erased)
    try:
        assert tasks.run_due_erasures() == 0
        pat.refresh_from_db()
        assert pat.erased_at is None
        _make_due(pat)
        mail.outbox.clear()
        assert tasks.run_due_erasures() == 1
    finally:
        user_erased.disconnect(on_erased)

    tombstone = User.objects.get(pk=pat.pk)
    request = _erasure(pat)
    assert request.status == "completed"
    assert request.completed_at is not None
    assert re.fullmatch(r"erased-[0-9a-f]{12}@erased\.invalid", tombstone.email)
    assert tombstone.email.startswith(request.pseudonym)
    assert tombstone.display_name == ""
    assert not tombstone.is_active
    assert not tombstone.has_usable_password()
    assert tombstone.public_id != old_public_id
    assert received == [(pat.pk, old_public_id)]
    # Signed out, and the old password opens nothing.
    assert client.get("/account/")["Location"].startswith("/accounts/login/")
    stranger = Client()
    login = stranger.post("/accounts/login/", {"login": PAT, "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
    assert "_auth_user_id" not in stranger.session
    # The last email, to each proven address, and the record of it forgot where it went.
    assert _recipients() == sorted([PAT, PAT_SECOND])
    assert "has been deleted" in mail.outbox[0].body
    last = OutboundEmail.objects.filter(template="email/consent/erasure_completed")
    assert last.count() == 2
    assert set(last.values_list("to", flat=True)) == {""}
    # The organization lost a member, and its log says so without naming Pat.
    assert not Membership.objects.filter(user=pat).exists()
    [left] = AuditEvent.objects.filter(action="org.member_erased")
    assert left.organization_id == org.pk
    assert PAT not in str(left.target_text)
    assert Organization.objects.filter(pk=org.pk).exists()
    [done] = AuditEvent.objects.filter(action="privacy.user_erased")
    assert done.actor_text == "erasure job"
    assert done.data["counts"]["memberships"] == 1
    # Consent evidence is kept, without where it came from.
    kept = ConsentEvent.objects.filter(user=pat)
    assert kept.count() >= 2
    assert set(kept.values_list("ip", "user_agent")) == {(None, "")}
    # The address is free: the same person (or anyone) can sign up again, as a new account.
    signup = Client().post(
        "/accounts/signup/",
        {
            "email": PAT,
            "password1": "a fresh start 2026!",
            "password2": "a fresh start 2026!",
            **_required_consents(),
        },
    )
    assert signup.status_code == 302
    assert User.objects.get(email=PAT).pk != pat.pk


def _required_consents() -> dict[str, str]:
    return {
        f"consent_{p.key}": "on"
        for p in Purpose.objects.filter(required=True, organization__isnull=True)
    }


def test_running_the_job_twice_does_nothing_more(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)
    request = _erasure(pat)
    assert tasks.erase_user(request.pk) == "erased"
    events = AuditEvent.objects.count()
    emails = OutboundEmail.objects.count()
    tombstone = User.objects.values().get(pk=pat.pk)

    assert tasks.erase_user(request.pk) == "skipped"
    assert tasks.run_due_erasures() == 0

    assert AuditEvent.objects.count() == events
    assert OutboundEmail.objects.count() == emails
    assert User.objects.values().get(pk=pat.pk) == tombstone
    identifiers = Identifiers(everywhere=[PAT], names=["Pat Person"])
    assert quotes.rewrite_quotes(pat, identifiers, request.pseudonym) == {
        "audit_events": 0,
        "consent_events_recorded": 0,
        "admin_log_entries": 0,
        "outbound_emails": 0,
    }


def test_a_job_that_died_half_way_is_finished_with_the_same_pseudonym(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)
    request = _erasure(pat)

    # The worker starts, then dies before rewriting anything.
    started = job.start(request.pk)
    assert isinstance(started, tuple)
    request.refresh_from_db()
    pseudonym = request.pseudonym
    assert request.status == "erasing"
    assert request.identifiers is not None
    pat.refresh_from_db()
    assert not pat.is_active, "nobody signs in while the job runs"
    assert client.get("/account/")["Location"].startswith("/accounts/login/")
    # Too late to cancel; and too soon to call it stalled.
    assert _cancel_refused(pat)
    assert tasks.run_due_erasures() == 0

    DataSubjectRequest.objects.filter(pk=request.pk).update(
        started_at=timezone.now() - schedule.STALLED_AFTER - timedelta(minutes=1)
    )
    assert tasks.run_due_erasures() == 1

    request.refresh_from_db()
    assert request.status == "completed"
    assert request.pseudonym == pseudonym
    assert request.identifiers is None
    assert request.attempts == 2
    assert User.objects.get(pk=pat.pk).email == f"{pseudonym}@erased.invalid"
    assert not AuditEvent.objects.filter(actor_text__icontains=PAT).exists()


def test_what_quotes_them_while_the_job_runs_is_caught_before_it_ends(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)
    real = quotes.rewrite_quotes
    passes: list[object] = []  # what each pass was given as ``since``

    def slow_pass(*args, **kwargs):
        result = real(*args, **kwargs)
        if not passes:  # a stranger tries Pat's address while the first pass is finishing
            audit_services.record(
                Action.LOGIN_FAILED,
                actor_text=PAT.upper(),
                outcome=Outcome.FAILURE,
                data={"login": PAT},
            )
        passes.append(kwargs.get("since"))
        return result

    with mock.patch.object(quotes, "rewrite_quotes", side_effect=slow_pass):
        assert tasks.erase_user(_erasure(pat).pk) == "erased"

    assert passes[0] is None
    assert passes[1] is not None
    [late] = AuditEvent.objects.filter(action="login.failed")
    assert PAT not in late.actor_text.lower()
    assert PAT not in str(late.data)
    assert late.actor_text.endswith("@erased.invalid")


def _cancel_refused(user) -> bool:
    with pytest.raises(Refusal) as refused:
        schedule.cancel_erasure(user=user)
    return refused.value.status == 409


def test_a_request_goes_on_hold_while_its_person_alone_owns_an_organization(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    # Since asking, Pat became the only owner of an organization with a member.
    org = org_services.create_organization(actor=pat, name="Later Inc", slug="later")
    member = UserFactory(email="member@later.example")
    Membership.objects.create(organization=org, user=member, role="member", source="admin")
    _make_due(pat)
    mail.outbox.clear()

    assert tasks.run_due_erasures() == 1

    request = _erasure(pat)
    assert request.status == "on_hold"
    pat.refresh_from_db()
    assert pat.erased_at is None
    assert pat.is_active
    assert _recipients() == sorted([PAT, PAT_SECOND])
    assert "Later Inc" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="privacy.erasure_on_hold").count() == 1
    assert b"on hold" in client.get("/account/").content
    # Checked again on every sweep, without telling Pat again.
    mail.outbox.clear()
    assert tasks.run_due_erasures() == 1
    assert mail.outbox == []
    assert _erasure(pat).status == "on_hold"
    assert AuditEvent.objects.filter(action="privacy.erasure_on_hold").count() == 1

    Membership.objects.filter(organization=org, user=member).update(role="owner")
    assert tasks.run_due_erasures() == 1

    assert _erasure(pat).status == "completed"
    assert Membership.objects.filter(organization=org).count() == 1


def test_a_held_request_can_be_cancelled(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    org = org_services.create_organization(actor=pat, name="Held", slug="held")
    Membership.objects.create(organization=org, user=UserFactory(), role="member", source="admin")
    _make_due(pat)
    tasks.run_due_erasures()

    assert client.post(CANCEL)["Location"] == PRIVACY
    assert _erasure(pat).status == "cancelled"


def test_with_no_grace_period_the_account_is_erased_at_once(pat, client, settings):
    settings.GATEHOUSE_ERASURE_GRACE_DAYS = 0

    client.post(ERASE, {"confirm": "delete"})

    assert _erasure(pat).status == "completed"
    assert User.objects.get(pk=pat.pk).erased_at is not None


def test_an_erased_account_cannot_ask_again_and_its_export_fails(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)
    tasks.run_due_erasures()
    tombstone = User.objects.get(pk=pat.pk)

    with pytest.raises(Refusal):
        schedule.request_erasure(user=tombstone)
    export = DataSubjectRequest.objects.create(user=tombstone, kind="export", status="pending")
    assert tasks.build_export(export.pk) == "failed"


def test_a_staff_members_erasure_removes_their_powers_and_rewrites_what_they_recorded(published):
    officer = UserFactory(email="officer@gatehouse.test", is_staff=True, is_superuser=True)
    subject = UserFactory(email="subject@else.example")
    marketing = Purpose.objects.get(key="marketing_email", organization__isnull=True)
    from consent import services

    services.record_consent(
        user=subject, purpose=marketing, decision="granted", method="api", actor=officer
    )
    DataSubjectRequest.objects.create(
        user=officer, kind="erasure", status="scheduled", scheduled_for=timezone.now()
    )

    assert tasks.run_due_erasures() == 1

    officer.refresh_from_db()
    assert not officer.is_staff
    assert not officer.is_superuser
    [recorded] = ConsentEvent.objects.filter(user=subject)
    assert recorded.actor_text == officer.email
    assert officer.email.endswith("@erased.invalid")


# --- Evidence retention and the database's guard ----------------------------------------------


def test_consent_evidence_is_purged_after_the_retention_period(published, settings):
    old, recent, alive = (UserFactory() for _ in range(3))
    for user in (old, recent, alive):
        accept_required(user)
    User.objects.filter(pk=old.pk).update(erased_at=timezone.now() - timedelta(days=1100))
    User.objects.filter(pk=recent.pk).update(erased_at=timezone.now() - timedelta(days=10))
    settings.GATEHOUSE_CONSENT_EVIDENCE_DAYS = 1095

    assert tasks.purge_erased_consent_evidence() == 2

    assert not ConsentEvent.objects.filter(user=old).exists()
    assert ConsentEvent.objects.filter(user=recent).count() == 2
    assert ConsentEvent.objects.filter(user=alive).count() == 2
    assert tasks.purge_erased_consent_evidence() == 0


def test_the_audit_rewrite_helper_refuses_columns_erasure_may_not_touch(pat):
    event = AuditEvent.objects.filter(actor=pat).first() or audit_services.record(
        Action.PROFILE_UPDATED, actor=pat, target=pat
    )
    with pytest.raises(ValueError, match="action"):
        audit_services.rewrite_events("erased-0123456789ab", [(event.pk, {"action": "x"})])
    assert AuditEvent.objects.get(pk=event.pk).action == event.action


def _sql(statement: str, params: list, *, setting: str | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if setting:
            cursor.execute(f"SET LOCAL {setting} = 'on'")
        cursor.execute(statement, params)


def _erasing(user) -> str:
    """Pat's erasure, started: the database's functions work only while one is under way."""
    pseudonym = "erased-0123456789ab"
    erasure_under_way(user, pseudonym)
    return pseudonym


def test_the_database_lets_erasure_rewrite_quotes_and_nothing_else(pat):
    require(connection.vendor == "postgresql", "PostgreSQL (the triggers and functions)")
    event = audit_services.record(
        Action.PROFILE_UPDATED, actor=pat, target=pat, data={"email": {"from": PAT, "to": PAT}}
    )
    # No statement of the application changes the log, whatever it sets first (the old
    # switches included); tests/audit/test_database_roles.py tries every way in.
    refused = [
        ("UPDATE audit_auditevent SET actor_text = 'x' WHERE id = %s", None),
        ("UPDATE audit_auditevent SET actor_text = 'x' WHERE id = %s", "gatehouse.erasure"),
        ("UPDATE audit_auditevent SET action = 'login.failed' WHERE id = %s", "gatehouse.erasure"),
        ("DELETE FROM audit_auditevent WHERE id = %s", "gatehouse.audit_maintenance"),
    ]
    for statement, setting in refused:
        with pytest.raises(DatabaseError, match=r"append-only|permission denied"):
            _sql(statement, [event.pk], setting=setting)

    pseudonym = _erasing(pat)
    name = f"{pseudonym}@erased.invalid"
    changed = audit_services.rewrite_events(
        pseudonym,
        [
            (
                event.pk,
                {
                    "actor_text": name,
                    "target_text": name,
                    "data": {"email": {"from": name, "to": name}},
                },
            )
        ],
    )

    event = AuditEvent.objects.get(pk=event.pk)
    assert changed == 1
    assert event.actor_text == name
    assert event.action == "profile.updated"
    consent = ConsentEvent.objects.filter(user=pat).first()
    assert consent is not None
    with pytest.raises(DatabaseError, match=r"append-only|permission denied"):
        _sql(
            "UPDATE consent_consentevent SET actor_text = 'erased' WHERE id = %s",
            [consent.pk],
            setting="gatehouse.erasure",
        )
    with pytest.raises(DatabaseError, match="not recorded by the person"), transaction.atomic():
        evidence.rewrite_recorders(pseudonym, [(consent.pk, {"actor_text": name})])
    assert ConsentEvent.objects.get(pk=consent.pk).actor_text == consent.actor_text


# --- Email that forgets its recipient --------------------------------------------------------


def test_an_email_that_failed_for_good_forgets_its_recipient_too(published):
    from django.core.mail import EmailMessage

    from accounts.services import queue_email

    with mock.patch.object(send_email, "delay"):
        outbound = queue_email(
            template="t",
            message=EmailMessage("Gone", "Bye", "from@gatehouse.test", ["gone@else.example"]),
            forget_recipient=True,
        )
    with mock.patch(
        "django.core.mail.EmailMultiAlternatives.send",
        side_effect=ValueError("mailbox gone@else.example does not exist"),
    ):
        assert send_email(str(outbound.pk)) == "failed"

    outbound.refresh_from_db()
    assert outbound.status == "failed"
    assert outbound.to == ""
    assert "gone@else.example" not in outbound.last_error


# --- The admin ---------------------------------------------------------------------------------


def test_support_staff_read_requests_and_tombstones_but_change_nothing(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    request = _erasure(pat)
    staff = UserFactory(email="support@gatehouse.test", is_staff=True, is_superuser=True)
    accept_required(staff)
    admin = force_login_verified(Client(), staff)

    listing = admin.get(f"/admin/consent/datasubjectrequest/?user__id__exact={pat.pk}")
    detail = admin.get(f"/admin/consent/datasubjectrequest/{request.pk}/change/")
    user_page = admin.get(f"/admin/accounts/user/{pat.pk}/change/")

    assert listing.status_code == 200
    assert PAT.encode() in listing.content
    assert detail.status_code == 200
    assert b"Scheduled" in detail.content
    assert b"datasubjectrequest/?user__id__exact=" in user_page.content
    assert admin.post(f"/admin/consent/datasubjectrequest/{request.pk}/delete/").status_code == 403
    # The identifiers an erasure works through cannot be fished for through a filter.
    for lookup in ("identifiers__isnull", "download_token_hash__startswith"):
        fishing = admin.get("/admin/consent/datasubjectrequest/", {lookup: "a"})
        assert fishing.status_code == 400, lookup

    _make_due(pat)
    tasks.run_due_erasures()
    tombstone_page = admin.get(f"/admin/accounts/user/{pat.pk}/change/")
    assert tombstone_page.status_code == 200
    assert b'name="is_active"' not in tombstone_page.content
    posted = admin.post(f"/admin/accounts/user/{pat.pk}/change/", {"is_active": "on"})
    assert posted.status_code == 403
    assert not User.objects.get(pk=pat.pk).is_active


# --- A real worker ------------------------------------------------------------------------------


@pytest.mark.services
def test_a_real_worker_erases_a_due_account_and_sends_the_last_email(pat, client, celery_worker):
    inbox = celery_worker
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)
    request = _erasure(pat)

    tasks.run_due_erasures.delay()

    from tests.organizations.test_deprovision_worker import wait_until

    wait_until(lambda: _erasure(pat).status == "completed")

    def last_emails() -> list[str]:
        return sorted(
            m["To"] for m in inbox.messages if m["Subject"].endswith("account has been deleted")
        )

    wait_until(lambda: len(last_emails()) == 2)
    assert last_emails() == sorted([PAT, PAT_SECOND])
    wait_until(
        lambda: (
            set(
                OutboundEmail.objects.filter(
                    template="email/consent/erasure_completed"
                ).values_list("to", flat=True)
            )
            == {""}
        )
    )
    request.refresh_from_db()
    assert User.objects.get(pk=pat.pk).email == f"{request.pseudonym}@erased.invalid"


# --- What counts as theirs ---------------------------------------------------------------------


def test_identifiers_come_from_their_rows_and_their_own_trail(pat):
    from allauth.socialaccount.models import SocialAccount

    SocialAccount.objects.create(
        user=pat,
        provider="acme-oidc",
        uid="sub-1",
        extra_data={
            "userinfo": {"name": "Patricia Okafor", "manager_email": "boss@corp.example"},
            "id_token": {"given_name": "Patricia", "family_name": "Okafor"},
        },
    )
    audit_services.record(
        Action.PROFILE_UPDATED,
        actor=pat,
        target=pat,
        data={"display_name": {"from": "Old Name", "to": "Pat Person"}},
    )

    # Pat invited a friend: the friend's address is in Pat's trail, and is not Pat's.
    audit_services.record(
        Action.ORG_INVITATION_SENT, actor=pat, data={"email": "friend@else.example"}
    )

    found = collect(pat)

    assert set(found.everywhere) == {PAT, PAT_SECOND}
    assert set(found.linked) == {PAT_UNPROVEN}
    assert {"Patricia Okafor", "Old Name", "Pat Person"} <= set(found.names)
    everything = found.everywhere + found.linked + found.names
    assert "boss@corp.example" not in everything
    assert "friend@else.example" not in everything
    assert ("user", str(pat.pk)) in found.targets


def test_the_rewriter_replaces_whole_addresses_and_names_in_any_case():
    identifiers = Identifiers(everywhere=["ann@x.example"], names=["Zoë Ann", "Al"])
    rewriter = Rewriter(identifiers, "erased-abc")

    assert rewriter.text("o'ann@x.example a&ann@x.example", linked=False) == (
        "o'ann@x.example a&ann@x.example"
    )
    # Names only where a record quotes a name: a role called like them stays a role.
    assert rewriter.data(
        {"display_name": {"from": "Al", "to": "Bo"}, "role": {"to": "Al"}}, linked=True
    ) == {"display_name": {"from": "erased-abc", "to": "Bo"}, "role": {"to": "Al"}}

    assert rewriter.text("by ANN@X.Example.", linked=False) == "by erased-abc@erased.invalid."
    assert rewriter.text("joann@x.example ann@x.example.org", linked=False) == (
        "joann@x.example ann@x.example.org"
    )
    assert rewriter.text("zoë ann and Al, not Alice", linked=True) == (
        "erased-abc and erased-abc, not Alice"
    )
    assert rewriter.text("Al", linked=False) == "Al", "names only in rows about them"
    assert rewriter.data({"to": ["ann@x.example", 3]}, linked=False) == {
        "to": ["erased-abc@erased.invalid", 3]
    }


# --- Found at review: other people's data, ownership races, long values, giving up ----------


def test_a_former_address_that_someone_else_holds_now_stays_theirs(pat, client):
    audit_services.record(
        Action.EMAIL_VERIFIED, actor=pat, target=pat, data={"email": "sales@shop.example"}
    )
    quinn = UserFactory(email="sales@shop.example")
    org = org_services.create_organization(actor=UserFactory(), name="Shop", slug="shop2")
    invitation = Invitation.objects.create(
        organization=org,
        email="sales@shop.example",
        role="member",
        token_hash="x" * 64,
        expires_at=timezone.now() + timedelta(days=7),
    )
    login = audit_services.record(Action.LOGIN_SUCCEEDED, actor=quinn, target=quinn)
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)

    assert tasks.run_due_erasures() == 1

    assert Invitation.objects.filter(pk=invitation.pk, email="sales@shop.example").exists()
    assert AuditEvent.objects.get(pk=login.pk).actor_text == "sales@shop.example"
    assert User.objects.get(pk=quinn.pk).email == "sales@shop.example"


def test_two_owners_erased_together_never_leave_their_members_without_one(published):
    a, b, member = UserFactory(), UserFactory(), UserFactory()
    org = org_services.create_organization(actor=a, name="Duo", slug="duo")
    Membership.objects.create(organization=org, user=b, role="owner", source="admin")
    Membership.objects.create(organization=org, user=member, role="member", source="admin")
    requests = [
        DataSubjectRequest.objects.create(
            user=u, kind="erasure", status="scheduled", scheduled_for=timezone.now()
        )
        for u in (a, b)
    ]
    # Both jobs start while both are owners; both rewrite quotes; then both finish.
    for request in requests:
        assert isinstance(job.start(request.pk), tuple)
    since = timezone.now() - timedelta(minutes=5)

    assert job.finish(requests[0].pk, since=since) == "erased"
    assert job.finish(requests[1].pk, since=since) == "on_hold"

    assert list(
        Membership.objects.filter(organization=org, role="owner").values_list("user", flat=True)
    ) == [b.pk]
    b.refresh_from_db()
    assert b.is_active, "held: they can sign in to hand it over"
    assert b.erased_at is None, "held: they can sign in to hand it over"
    assert DataSubjectRequest.objects.get(pk=requests[1].pk).status == "on_hold"


def test_a_job_another_worker_is_running_is_left_alone(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)
    request = _erasure(pat)
    assert isinstance(job.start(request.pk), tuple)

    assert tasks.erase_user(request.pk) == "skipped"
    assert _erasure(pat).attempts == 1


def test_a_job_that_keeps_failing_gives_up_and_says_why(pat, client):
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)
    request = _erasure(pat)
    with (
        mock.patch.object(quotes, "rewrite_quotes", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        tasks.erase_user(request.pk)
    request.refresh_from_db()
    assert request.status == "erasing"
    assert request.last_error == "RuntimeError: disk full"

    DataSubjectRequest.objects.filter(pk=request.pk).update(
        attempts=job.MAX_ATTEMPTS, started_at=timezone.now() - timedelta(hours=1)
    )
    assert tasks.erase_user(request.pk) == "failed"
    request.refresh_from_db()
    assert request.status == "failed"
    assert "disk full" in request.last_error


def test_a_pseudonym_longer_than_what_it_replaces_never_overflows_a_column(pat, client):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    repr_limit = LogEntry._meta.get_field("object_repr").max_length
    assert repr_limit is not None
    entry = LogEntry.objects.create(
        user=UserFactory(is_staff=True),
        content_type=ContentType.objects.get_for_model(User),
        object_id="0",
        object_repr=("x" * (repr_limit - len(PAT) - 1)) + " " + PAT,
        action_flag=CHANGE,
        change_message="[]",
    )
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)

    assert tasks.run_due_erasures() == 1

    entry.refresh_from_db()
    assert len(entry.object_repr) <= repr_limit
    assert PAT not in entry.object_repr
    assert _erasure(pat).status == "completed"


def test_a_long_quote_cut_to_its_column_still_names_the_pseudonym(pat, client):
    # The database's erasure function refuses a rewritten quote that does not name the
    # pseudonym: cutting the longer text to the column must keep it.
    limit = AuditEvent._meta.get_field("actor_text").max_length
    assert limit is not None
    event = audit_services.record(
        Action.LOGIN_FAILED,
        actor_text=("x" * (limit - len(PAT) - 1)) + " " + PAT,
        outcome=Outcome.FAILURE,
    )
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)

    assert tasks.run_due_erasures() == 1

    quoted = AuditEvent.objects.get(pk=event.pk).actor_text
    assert len(quoted) == limit
    assert PAT not in quoted
    assert quoted.endswith(_erasure(pat).pseudonym)


def test_a_pending_export_is_not_built_once_erasure_begins(pat, client):
    export = DataSubjectRequest.objects.create(user=pat, kind="export", status="pending")
    client.post(ERASE, {"confirm": "delete"})
    _make_due(pat)
    request = _erasure(pat)

    assert isinstance(job.start(request.pk), tuple)

    assert tasks.build_export(export.pk) == "skipped"
    export.refresh_from_db()
    assert export.status == "failed"
