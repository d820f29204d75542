"""Checking a long chain in the background (audit/chain/verifications.py): past
``GATEHOUSE_AUDIT_VERIFY_SYNC_MAX`` events (or with ``Prefer: respond-async``) the verify
endpoint answers 202 with a check to poll, and the audit page lists it. One check per
organization at a time, the quota counts checks started (not polls), the result is audited as
an inline check's is, a dead worker's check is taken up again or given up, and another
organization's check is a 404.

The tests here run the check eagerly (as the embedded mode does, and on either database);
tests/audit/chain/test_chain_worker.py runs it in a real worker on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models
from django.test import Client
from django.utils import timezone

from audit.actions import Action
from audit.chain import checkpoints, verifications
from audit.chain.models import AuditVerification
from audit.chain.verify import verify
from audit.models import AuditEvent
from tests.api.oauth_world import backend
from tests.audit.chain.helpers import (
    position_of,
    seal_committed,
    seal_in_test_transaction,
    superuser,
)
from tests.audit.helpers import event
from tests.conftest import force_login_verified
from tests.factories import UserFactory
from tests.organizations.conftest import OrgWorld, signed_in

pytestmark = pytest.mark.django_db


def _seal() -> None:
    """Seal what the test wrote: inside its transaction on PostgreSQL, by rowid on SQLite."""
    seal_in_test_transaction()


@pytest.fixture
def world(settings) -> OrgWorld:
    settings.GATEHOUSE_AUDIT_VERIFY_SYNC_MAX = 5
    made = OrgWorld()
    for _ in range(12):  # dated now, as the organization's own events are
        event(made.a, at=timezone.now(), action="login.failed", outcome="failure")
    _seal()
    for org in (made.a, made.b):
        checkpoints.sign(org.pk)
    return made


def _checkpoint(org) -> dict:
    newest = checkpoints.newest_checkpoint(org.pk)
    assert newest is not None
    return checkpoints.as_json(newest)


def _verify_url(org) -> str:
    return f"/api/v1/organizations/{org.slug}/audit/verify"


def _post(client, org, body=None, **headers):
    _seal()  # what the test wrote since (an app's registration, a sign-in)
    return client.post(
        _verify_url(org),
        json.dumps(body if body is not None else _checkpoint(org)),
        content_type="application/json",
        headers=headers,
    )


def _running(org, **fields) -> AuditVerification:
    """A check of ``org`` a worker is on (or was, before it died)."""
    checkpoint = _checkpoint(org)
    values = {
        "organization": org,
        "checkpoint": verifications.signed_parts(checkpoint),
        "checkpoint_size": checkpoint["size"],
        "status": AuditVerification.Status.RUNNING,
        "attempts": 1,
        "to_check": checkpoint["size"],
        "claimed_at": timezone.now(),
        "started_at": timezone.now(),
    }
    return AuditVerification.objects.create(**(values | fields))


def _checks(org):
    return AuditEvent.objects.for_org(org).filter(action=Action.AUDIT_VERIFIED)


# --- The API ------------------------------------------------------------------------------------


def test_a_chain_past_the_threshold_is_checked_in_the_background(world):
    app = backend(organization=world.a, scopes=["audit:read"])
    caller = app.caller()
    response = _post(caller, world.a)

    assert response.status_code == 202, response.content
    body = response.json()
    check = AuditVerification.objects.get(public_id=body["id"])
    assert check.organization_id == world.a.pk
    location = f"http://testserver/api/v1/organizations/acme/audit/verify/{check.public_id}"
    assert response["Location"] == body["url"] == location
    # Tasks run eagerly here: the check ran when the request's transaction committed.
    assert body["status"] == "done"
    assert "Retry-After" not in response
    assert body["result"]["ok"] is True
    assert body["result"]["first_problem"] is None
    assert body["checkpoint_size"] == _checkpoint(world.a)["size"]
    assert body["checked"] == body["result"]["checked"] >= 12
    assert body["started_at"] is not None
    assert body["finished_at"] is not None
    assert body["error"] is None

    polled = caller.get(location)
    assert polled.status_code == 200
    assert polled.json() == body

    # On the record as an inline check is, by the app that asked, naming the check.
    (event,) = _checks(world.a)
    assert event.actor_text == f"client {app.client_id}"
    assert event.outcome == "success"
    assert event.data == {
        "size": body["checkpoint_size"],
        "ok": True,
        "problems": 0,
        "check": body["id"],
    }


def test_a_short_chain_is_checked_in_the_request_unless_the_caller_prefers_a_check(world, settings):
    settings.GATEHOUSE_AUDIT_VERIFY_SYNC_MAX = 10_000
    caller = backend(organization=world.a, scopes=["audit:read"]).caller()
    at_once = _post(caller, world.a)
    assert at_once.status_code == 200
    assert at_once.json()["ok"] is True
    assert not AuditVerification.objects.exists()

    preferred = _post(caller, world.a, Prefer="respond-async, wait=10")
    assert preferred.status_code == 202
    assert preferred["Preference-Applied"] == "respond-async"
    assert preferred.json()["result"]["ok"] is True
    assert _checks(world.a).count() == 2


def test_a_check_under_way_answers_every_request_and_only_starting_costs_quota(world, monkeypatch):
    from accounts.ratelimits import Limit
    from audit.chain import views

    monkeypatch.setattr(views, "VERIFY_LIMIT", Limit(attempts=1, window_seconds=600))
    running = _running(world.a, checked=7)
    caller = backend(organization=world.a, scopes=["audit:read"]).caller()
    for _ in range(3):
        again = _post(caller, world.a)
        assert again.status_code == 202
        assert again.json()["id"] == str(running.public_id)
        assert again.json()["status"] == "running"
        assert again.json()["checked"] == 7
        assert again["Retry-After"] == str(verifications.POLL_SECONDS)
        assert caller.get(again["Location"]).status_code == 200
    assert AuditVerification.objects.count() == 1
    assert not _checks(world.a).exists()

    # Once it has finished, a new check starts, and spends the quota...
    AuditVerification.objects.filter(pk=running.pk).update(status="done", result={"ok": True})
    started = _post(caller, world.a)
    assert started.status_code == 202
    assert started.json()["id"] != str(running.public_id)
    # ...so the next one is refused, but polling still answers.
    refused = _post(caller, world.a)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert caller.get(started["Location"]).status_code == 200
    assert AuditVerification.objects.count() == 2


def test_only_one_check_per_organization_is_queued_or_running(world):
    first = _running(world.a)
    started = verifications.start(
        org=world.a,
        actor=world.membership(world.a, world.a_admin),
        claim=checkpoints.read(_checkpoint(world.a)),
        checkpoint=verifications.signed_parts(_checkpoint(world.a)),
        length=12,
    )
    assert (started.verification.pk, started.new) == (first.pk, False)
    # The database holds to it too, whatever the code above it does.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        _running(world.a)
    # Another organization's check is its own.
    assert _running(world.b).organization_id == world.b.pk


def test_another_organizations_check_is_a_404(world):
    theirs = _running(world.b)
    for caller in (
        backend(organization=world.a, scopes=["audit:read"]).caller(),
        signed_in(world.a_admin),
    ):
        for slug in ("bolt", "acme"):
            path = f"/api/v1/organizations/{slug}/audit/verify/{theirs.public_id}"
            response = caller.get(path)
            assert response.status_code == 404, (path, response.content)
            assert response["Content-Type"] == "application/problem+json"
            assert str(theirs.public_id) not in response.content.decode()
    admin = signed_in(world.a_admin)
    for slug in ("bolt", "acme"):  # the portal's page of the check
        page = admin.get(f"/orgs/{slug}/audit/checks/{theirs.public_id}/")
        assert page.status_code == 404
        assert str(theirs.public_id) not in page.content.decode()
    # B's own admin reads it; A's member may not read A's checks at all.
    own = signed_in(world.b_admin).get(f"/orgs/bolt/audit/checks/{theirs.public_id}/")
    assert own.status_code == 200
    ours = _running(world.a)
    member = signed_in(world.a_member)
    polled = member.get(f"/api/v1/organizations/acme/audit/verify/{ours.public_id}")
    assert polled.status_code == 403
    assert member.get(f"/orgs/acme/audit/checks/{ours.public_id}/").status_code == 403


def test_a_check_needs_the_audit_read_scope_to_poll(world):
    ours = _running(world.a)
    caller = backend(organization=world.a, scopes=["organizations:read"]).caller()
    response = caller.get(f"/api/v1/organizations/acme/audit/verify/{ours.public_id}")
    assert response.status_code == 403
    assert "audit:read" in response["WWW-Authenticate"]


# Not a UUID (the route does not match), or one no check has.
UNKNOWN_IDS = ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", str(uuid.UUID(int=7))]


@pytest.mark.parametrize("check_id", UNKNOWN_IDS)
def test_a_bad_or_unknown_check_id_is_a_404(world, check_id):
    caller = backend(organization=world.a, scopes=["audit:read"]).caller()
    response = caller.get(f"/api/v1/organizations/acme/audit/verify/{check_id}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    page = signed_in(world.a_admin).get(f"/orgs/acme/audit/checks/{check_id}/")
    assert page.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_tampered_chain_names_the_first_bad_event(settings):
    """The background check reports as the inline one does. The events are committed, so that
    on PostgreSQL they are changed as the database's superuser would change them (the
    application role cannot); SQLite has no such guard and takes the ORM's update."""
    settings.GATEHOUSE_AUDIT_VERIFY_SYNC_MAX = 5
    world = OrgWorld()
    for _ in range(12):
        event(world.a, at=timezone.now(), action="login.failed", outcome="failure")
    seal_committed()
    for org in (world.a, world.b):
        checkpoints.sign(org.pk)
    victims = list(AuditEvent.objects.for_org(world.a).filter(action="login.failed")[:2])
    if connection.vendor == "postgresql":
        with superuser() as db:
            db.execute(
                "UPDATE audit_auditevent SET outcome = 'success' WHERE id = ANY(%s)",
                [[victim.pk for victim in victims]],
            )
    else:
        for victim in victims:
            models.QuerySet.update(AuditEvent.objects.filter(pk=victim.pk), outcome="success")
    first = min(victims, key=position_of)
    caller = backend(organization=world.a, scopes=["audit:read"]).caller()
    body = _post(caller, world.a).json()
    assert body["status"] == "done"
    result = body["result"]
    assert result["ok"] is False
    assert result["first_problem"] == (
        f"position {position_of(first)}: event {first.pk} was changed"
    )
    assert result["problems"][0]["position"] == position_of(first)
    assert result["problems"][0]["event_id"] == str(first.pk)
    assert result["problem_count"] == 2
    audited = _checks(world.a).get()
    assert (audited.data["ok"], audited.data["problems"]) == (False, 2)


# --- The audit page -----------------------------------------------------------------------------


def _upload(client, org):
    _seal()
    upload = SimpleUploadedFile(
        "checkpoint.json", json.dumps(_checkpoint(org)).encode(), content_type="application/json"
    )
    return client.post(f"/orgs/{org.slug}/audit/verify/", {"checkpoint": upload}, follow=True)


def test_the_audit_page_checks_a_long_chain_in_the_background_and_shows_the_result(world):
    admin = signed_in(world.a_admin)
    page = _upload(admin, world.a)
    assert page.status_code == 200
    text = page.content.decode()
    assert "being checked in the background" in text
    check = AuditVerification.objects.get(organization=world.a)
    assert f'data-check-id="{check.public_id}" data-status="done"' in text
    assert "Verifies" in text

    detail = admin.get(f"/orgs/acme/audit/checks/{check.public_id}/")
    assert detail.status_code == 200
    assert "The log verifies:" in detail.content.decode()
    event = _checks(world.a).get()
    assert event.actor_id == world.a_admin.pk
    assert event.data["check"] == str(check.public_id)


def test_the_audit_page_shows_a_running_check_and_sends_a_second_request_to_it(world):
    running = _running(world.a, checked=4, to_check=12)
    admin = signed_in(world.a_admin)
    page = _upload(admin, world.a)
    text = page.content.decode()
    assert "A check of this log is already under way" in text
    assert f'data-check-id="{running.public_id}" data-status="running"' in text
    assert "4 of 12 events checked" in text
    detail = admin.get(f"/orgs/acme/audit/checks/{running.public_id}/").content.decode()
    assert "Being checked" in detail
    assert "Reload" in detail
    assert AuditVerification.objects.count() == 1


# --- Dead workers, lost messages and attempts taken over ----------------------------------------


def _long_ago() -> datetime:
    return timezone.now() - verifications.STALLED_AFTER - timedelta(minutes=1)


def test_a_dead_workers_check_is_taken_up_again(world):
    stalled = _running(world.a, claimed_at=_long_ago(), queued_at=_long_ago())
    alive = _running(world.b)  # beating: left alone
    assert verifications.requeue() == 1  # ...and run here at once (eager)
    stalled.refresh_from_db()
    assert stalled.status == "done"
    assert stalled.attempts == 2
    assert stalled.result is not None
    assert stalled.result["ok"] is True
    alive.refresh_from_db()
    assert (alive.status, alive.attempts) == ("running", 1)
    # A second message for a live worker's check does nothing.
    assert verifications.run(alive.pk) == "skipped"
    assert verifications.run(stalled.pk) == "skipped"  # done already


def test_a_lost_message_is_queued_again(world):
    lost = _running(
        world.a,
        status="queued",
        attempts=0,
        claimed_at=None,
        started_at=None,
        queued_at=_long_ago(),
    )
    assert verifications.requeue() == 1
    lost.refresh_from_db()
    assert lost.status == "done"
    assert verifications.requeue() == 0


def test_a_check_that_keeps_dying_is_given_up_and_that_is_audited(world):
    stalled = _running(
        world.a,
        attempts=verifications.MAX_ATTEMPTS,
        claimed_at=_long_ago(),
        queued_at=_long_ago(),
        requested_by=world.a_admin,
    )
    assert verifications.requeue() == 1
    stalled.refresh_from_db()
    assert stalled.status == "failed"
    assert "stopped 3 times" in stalled.last_error
    assert stalled.finished_at is not None
    event = _checks(world.a).get()
    assert (event.outcome, event.actor_id) == ("failure", world.a_admin.pk)
    assert event.data["check"] == str(stalled.public_id)

    caller = backend(organization=world.a, scopes=["audit:read"]).caller()
    body = caller.get(f"/api/v1/organizations/acme/audit/verify/{stalled.public_id}").json()
    assert (body["status"], body["result"]) == ("failed", None)
    assert "stopped 3 times" in body["error"]
    page = signed_in(world.a_admin).get(f"/orgs/acme/audit/checks/{stalled.public_id}/")
    assert "The check could not finish" in page.content.decode()
    # A new check may start now.
    assert _post(caller, world.a).status_code == 202
    assert AuditVerification.objects.filter(organization=world.a).count() == 2


def test_an_attempt_taken_over_settles_nothing(world):
    check = _running(world.a, status="queued", attempts=0, claimed_at=None)
    first = verifications._claim(check.pk)
    assert isinstance(first, verifications._Claimed)
    # Between batches the worker beats: its progress and a fresh claim (once per HEARTBEAT).
    beat = verifications._Beat(first)
    beat(300)
    assert AuditVerification.objects.get(pk=check.pk).checked == 0  # too soon after the claim
    beat.last = _long_ago()
    beat(500)
    check.refresh_from_db()
    assert check.checked == 500
    assert check.claimed_at is not None
    assert check.claimed_at > timezone.now() - timedelta(seconds=30)
    # Then it stops beating, and looks dead.
    AuditVerification.objects.filter(pk=check.pk).update(claimed_at=_long_ago())
    second = verifications._claim(check.pk)
    assert isinstance(second, verifications._Claimed)
    assert second.attempt == first.attempt + 1
    report = verify(world.a.pk, checkpoints.read(check.checkpoint))
    # The first worker comes back to life: its beat stops it, and it could not settle anyway.
    beat = verifications._Beat(first)
    beat.last = _long_ago()
    with pytest.raises(verifications._TakenOver):
        beat(5)
    assert verifications._settle_done(first, report) == "skipped"
    assert verifications._settle_done(second, report) == "done"
    assert _checks(world.a).count() == 1


def test_a_checkpoint_whose_key_is_gone_fails_the_check_clearly(world):
    check = _running(world.a, status="queued", attempts=0, claimed_at=None)
    AuditVerification.objects.filter(pk=check.pk).update(
        checkpoint={**check.checkpoint, "kid": "unknown-key"}
    )
    assert verifications.run(check.pk) == "failed"
    check.refresh_from_db()
    assert check.last_error == (
        "The checkpoint can no longer be trusted: "
        "The checkpoint was signed by a key Gatehouse does not know."
    )


def test_staff_see_a_stuck_check_in_the_admin_and_cannot_change_it(world):
    stuck = _running(world.a, claimed_at=_long_ago(), last_error="")
    staff = Client()
    force_login_verified(staff, UserFactory(is_staff=True, is_superuser=True))
    listing = staff.get("/admin/audit/auditverification/", {"status": "running"})
    assert listing.status_code == 200
    assert [c.pk for c in listing.context["cl"].result_list] == [stuck.pk]
    page = staff.get(f"/admin/audit/auditverification/{stuck.pk}/change/")
    assert page.status_code == 200
    changed = staff.post(f"/admin/audit/auditverification/{stuck.pk}/change/", {"status": "done"})
    assert changed.status_code == 403
    stuck.refresh_from_db()
    assert stuck.status == "running"
