"""Starting an impersonation from the admin, the banner, ending it, and its time limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from accounts.impersonation.models import Impersonation
from accounts.tasks import expire_impersonations
from audit.models import AuditEvent
from tests.accounts.impersonation.helpers import (
    REASON,
    ask,
    begin,
    make_staff,
    signed_in_as,
    staff_browser,
    start_url,
)
from tests.factories import UserFactory


@pytest.fixture
def staff():
    return make_staff()


@pytest.fixture
def person():
    return UserFactory(email="pat@example.com")


def test_staff_with_the_permission_sign_in_as_a_person_and_see_the_banner(staff, person):
    browser = staff_browser(staff)
    form = browser.get(start_url(person))
    assert form.status_code == 200
    assert 'id="notice-after"' in form.content.decode()

    imp = begin(browser, person)

    assert signed_in_as(browser) == str(person.pk)
    page = browser.get("/account/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="impersonation-banner"' in html
    assert "support@gatehouse.test" in html
    assert "pat@example.com" in html
    assert imp.ends_at is not None
    assert timezone.localtime(imp.ends_at).strftime("%H:%M") in html
    assert 'id="end-impersonation"' in html
    assert imp.reason == REASON
    assert imp.minutes == 15
    assert imp.ends_at is not None
    assert imp.started_at is not None
    assert imp.ends_at - imp.started_at == timedelta(minutes=15)
    # Other pages carry it too, a refusal page included.
    assert 'id="impersonation-banner"' in browser.get("/account/sessions/").content.decode()
    assert 'id="impersonation-banner"' in browser.get("/account/password/").content.decode()


def test_the_banner_is_not_shown_to_the_person_themselves(person):
    from tests.organizations.conftest import signed_in

    own = signed_in(person)
    assert 'id="impersonation-banner"' not in own.get("/account/").content.decode()
    assert own.get("/account/password/").status_code == 200
    assert not AuditEvent.objects.filter(action__startswith="impersonation.").exists()


def test_ending_gives_the_staff_member_their_own_session_back_without_signing_in(staff, person):
    browser = staff_browser(staff)
    staff_cookie = browser.cookies["sessionid"].value
    imp = begin(browser, person)
    person_cookie = browser.cookies["sessionid"].value
    assert person_cookie != staff_cookie

    response = browser.post("/impersonation/end/")

    assert response.status_code == 302
    assert response["Location"] == f"/admin/impersonate/{imp.public_id}/"
    assert signed_in_as(browser) == str(staff.pk)
    own_cookie = browser.cookies["sessionid"].value
    assert own_cookie not in (staff_cookie, person_cookie), "a new key on each switch"
    assert browser.get("/admin/").status_code == 200, "still past the second factor"
    record = browser.get(response["Location"]).content.decode()
    assert "Ended" in record
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.ENDED
    assert imp.staff_session_key == ""
    # Neither earlier session key opens anything any more.
    from django.test import Client

    for stale in (staff_cookie, person_cookie):
        other = Client()
        other.cookies["sessionid"] = stale
        assert other.get("/account/").status_code == 302


def test_a_person_in_no_organization_is_told_afterwards_by_email(staff, person):
    browser = staff_browser(staff)
    imp = begin(browser, person)
    assert not [m for m in mail.outbox if m.subject.strip() == "Support signed in as you"]

    browser.post("/impersonation/end/")

    notices = [m for m in mail.outbox if m.subject.strip() == "Support signed in as you"]
    assert len(notices) == 1
    assert notices[0].to == ["pat@example.com"]
    body = str(notices[0].body)
    assert "Sam Support from support signed in as you" in body
    assert REASON in body
    imp.refresh_from_db()
    assert imp.person_notified
    assert timezone.localtime(imp.started_at).strftime("%H:%M") in body


def test_every_request_is_audited_with_both_people_and_start_and_end_too(staff, person):
    browser = staff_browser(staff)
    imp = begin(browser, person)
    browser.get("/account/")
    browser.get("/account/sessions/?page=2")
    browser.post("/impersonation/end/")

    started = AuditEvent.objects.get(action="impersonation.started")
    assert started.actor_id == staff.pk
    assert started.target_id == str(person.pk)
    assert started.data["reason"] == REASON
    requests = AuditEvent.objects.filter(action="impersonation.request").order_by("id")
    paths = [(e.data["method"], e.data["path"]) for e in requests]
    assert ("GET", "/account/") in paths
    assert ("GET", "/account/sessions/") in paths, "the path without its query"
    assert ("POST", "/impersonation/end/") in paths
    for event in requests:
        assert event.actor_id == staff.pk
        assert event.target_type == "user"
        assert event.target_id == str(person.pk)
        assert event.data["impersonation"] == str(imp.public_id)
    ended = AuditEvent.objects.get(action="impersonation.ended")
    assert ended.actor_id == staff.pk
    assert ended.data["person_notified"] is True
    # The person's trail (target) and the staff member's (actor) both hold them.
    assert (
        AuditEvent.objects.filter(target_type="user", target_id=str(person.pk))
        .filter(action__startswith="impersonation.")
        .count()
        == AuditEvent.objects.filter(actor=staff, action__startswith="impersonation.").count()
    )


def test_an_impersonation_past_its_time_ends_at_the_next_request(staff, person):
    browser = staff_browser(staff)
    imp = begin(browser, person)
    Impersonation.objects.filter(pk=imp.pk).update(ends_at=timezone.now() - timedelta(seconds=1))

    response = browser.get("/account/")

    assert response.status_code == 302
    assert response["Location"] == f"/admin/impersonate/{imp.public_id}/"
    assert signed_in_as(browser) == str(staff.pk)
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.EXPIRED
    assert AuditEvent.objects.filter(action="impersonation.expired", actor=staff).exists()
    assert not AuditEvent.objects.filter(
        action="impersonation.request", data__path="/account/"
    ).exists()


def test_the_beat_job_ends_forgotten_impersonations_and_the_browser_is_signed_out(staff, person):
    browser = staff_browser(staff)
    imp = begin(browser, person)
    Impersonation.objects.filter(pk=imp.pk).update(ends_at=timezone.now() - timedelta(minutes=1))

    assert expire_impersonations() == 1
    assert expire_impersonations() == 0

    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.EXPIRED
    assert imp.staff_session_key == ""
    response = browser.get("/account/")
    assert response.status_code == 302
    assert signed_in_as(browser) == ""
    assert [m for m in mail.outbox if m.subject.strip() == "Support signed in as you"]


def test_signing_out_while_impersonating_ends_it_and_keeps_the_staff_session(staff, person):
    browser = staff_browser(staff)
    imp = begin(browser, person)

    browser.post("/accounts/logout/")

    assert signed_in_as(browser) == str(staff.pk)
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.ENDED


def test_staff_without_the_permission_get_403(person):
    staff = make_staff(allowed=False)
    browser = staff_browser(staff)

    assert browser.get(start_url(person)).status_code == 403
    assert ask(browser, person).status_code == 403
    assert signed_in_as(browser) == str(staff.pk)
    assert not Impersonation.objects.exists()


def test_a_session_without_a_second_factor_is_sent_to_the_admin_login(staff, person):
    from django.test import Client

    browser = Client()
    browser.force_login(staff)

    response = ask(browser, person)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert not Impersonation.objects.exists()


@pytest.mark.parametrize(
    "who",
    [
        {"is_staff": True},
        {"is_superuser": True},
        {"is_blocked": True},
        {"is_active": False},
    ],
    ids=["staff", "superuser", "blocked", "deactivated"],
)
def test_staff_superusers_and_blocked_accounts_cannot_be_impersonated(staff, who):
    target = UserFactory(email="target@example.com", **who)
    browser = staff_browser(staff)

    response = ask(browser, target)

    assert response.status_code in (403,)
    assert 'id="impersonation-error"' in response.content.decode()
    assert signed_in_as(browser) == str(staff.pk)
    assert not Impersonation.objects.exists()


def test_an_erased_account_cannot_be_impersonated(staff):
    target = UserFactory(email="gone@example.com", erased_at=timezone.now())
    browser = staff_browser(staff)

    response = ask(browser, target)

    assert response.status_code == 404
    assert not Impersonation.objects.exists()


@pytest.mark.parametrize(
    ("reason", "minutes"),
    [("", 15), ("   ", 15), (REASON, 61), (REASON, 0), (REASON, "forever")],
    ids=["no-reason", "blank-reason", "over-an-hour", "zero", "not-a-number"],
)
def test_a_reason_and_at_most_an_hour_are_required(staff, person, reason, minutes):
    browser = staff_browser(staff)

    response = ask(browser, person, reason=reason, minutes=minutes)

    assert response.status_code == 400
    assert signed_in_as(browser) == str(staff.pk)
    assert not Impersonation.objects.exists()


def test_starting_needs_a_recent_step_up(staff, person, settings):
    browser = staff_browser(staff)
    session = browser.session
    session["account_authentication_methods"] = [
        {**r, "at": r["at"] - 3600} for r in session["account_authentication_methods"]
    ]
    session.save()

    response = ask(browser, person)

    assert response.status_code == 302
    assert response["Location"].startswith("/account/security/verify/")
    assert not Impersonation.objects.exists()


def test_blocking_the_person_meanwhile_ends_it_and_gives_the_staff_session_back(staff, person):
    browser = staff_browser(staff)
    imp = begin(browser, person)
    type(person).objects.filter(pk=person.pk).update(is_blocked=True)

    response = browser.get("/account/")

    assert response["Location"] == f"/admin/impersonate/{imp.public_id}/"
    assert signed_in_as(browser) == str(staff.pk)
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.ENDED


def test_the_admin_lists_impersonations_read_only_without_the_waiting_session_key(person):
    from config import encryption

    staff = make_staff()
    browser = staff_browser(staff)
    imp = begin(browser, person)
    key = encryption.decrypt(Impersonation.objects.get(pk=imp.pk).staff_session_key)
    supervisor = make_staff("lead@gatehouse.test")
    type(supervisor).objects.filter(pk=supervisor.pk).update(is_superuser=True)
    other = staff_browser(supervisor)

    listing = other.get("/admin/accounts/impersonation/", {"q": "pat@example.com"})
    page = other.get(f"/admin/accounts/impersonation/{imp.pk}/change/")
    probe = other.get("/admin/accounts/impersonation/", {"staff_session_key__startswith": "g"})

    assert listing.status_code == 200
    assert [i.pk for i in listing.context["cl"].result_list] == [imp.pk]
    assert page.status_code == 200
    html = page.content.decode()
    assert REASON in html
    assert key not in html
    assert "staff_session_key" not in html
    assert 'name="_save"' not in html
    assert probe.status_code in (302, 400)


def test_the_person_page_offers_sign_in_as_only_where_it_would_be_allowed(person):
    """The admin's person page links to the start page for staff holding the permission, and
    only on the page of someone who may be impersonated (never a colleague's)."""
    support = Permission.objects.filter(codename__in=["view_user", "change_user"])
    allowed = make_staff()
    allowed.user_permissions.add(*support)
    not_allowed = make_staff("other@gatehouse.test", allowed=False)
    not_allowed.user_permissions.add(*support)
    browser = staff_browser(allowed)

    page = browser.get(f"/admin/accounts/user/{person.pk}/change/")
    assert page.status_code == 200
    assert f'href="{start_url(person)}"' in page.content.decode()
    colleague = browser.get(f"/admin/accounts/user/{not_allowed.pk}/change/")
    assert colleague.status_code == 200
    assert start_url(not_allowed) not in colleague.content.decode()

    other = staff_browser(not_allowed).get(f"/admin/accounts/user/{person.pk}/change/")
    assert other.status_code == 200
    assert "Sign in as this person" not in other.content.decode()
    assert start_url(person) not in other.content.decode()
