"""A person the directory turns off loses access in that same call: their membership, their
browser sessions and their OAuth tokens, on real PostgreSQL and Redis, whether the Celery
broker is up (nobody consumes its queue here) or down. Owners are never turned off;
turning back on restores the membership with the mapped role."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.user_sessions import UserSession
from audit.models import AuditEvent
from config.celery import app as celery_app
from organizations.models import Domain, Membership
from organizations.services import members
from organizations.services.members import SessionStoreDown
from provider.models import Api
from provider.services.apis import create_api
from provider.services.keys import ensure_signing_keys
from tests.conftest import broker_at, require
from tests.factories import UserFactory
from tests.provider.person_tokens import (
    SCOPES,
    App,
    alive,
    dead,
    introspect,
    issue,
    resource_server,
    signed_in,
    web_app,
)
from tests.scim import records

SIGNED_IN_PAGE = "/account/"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again on leaving: nothing listens there


@pytest.fixture(params=["broker up", "broker down"])
def broker(request, settings):
    """Tasks are queued, never run in-process (``CELERY_TASK_ALWAYS_EAGER=False``), to the
    real Redis broker (no worker consumes it here) or to a closed loopback port."""
    require(connection.vendor == "postgresql", "DATABASE_URL pointing at PostgreSQL")
    original = django_settings.CELERY_BROKER_URL
    require(original.startswith("redis://"), "a Redis broker (REDIS_URL)")
    url = original if request.param == "broker up" else f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    with broker_at(url):
        yield request.param
    celery_app.conf.task_always_eager = True  # as the autouse fixture leaves it


@dataclass
class Apps:
    """The Invoices API, a web app allowed to call it, and its resource server."""

    api: Api
    app: App
    rs: App


@pytest.fixture
def apps() -> Apps:
    ensure_signing_keys()
    api = create_api(
        actor=None,
        identifier="https://invoices.example.com/",
        name="Invoices",
        scopes={"invoices:read": "Read your invoices"},
    )
    return Apps(api, web_app(name="Invoices web", api=api, scopes=SCOPES), resource_server(api))


def at_work(user, org) -> Client:
    """A browser signed in as ``user``, working in ``org``."""
    browser = signed_in(user)
    assert browser.post("/orgs/switch/", {"slug": org.slug}).status_code == 302
    assert browser.session["gatehouse_active_org"] == org.pk
    return browser


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("occurred_at", "pk").values_list("action", flat=True))


def test_a_deactivated_persons_sessions_and_tokens_stop_in_the_same_call(
    scim, broker, apps, caplog
):
    app, rs = apps.app, apps.rs
    pat = UserFactory(email="pat@acme.test")  # signs in with a password
    record = records.provision(scim.directory, "pat@acme.test")
    assert record.user == pat
    browser = at_work(pat, scim.org)
    phone = signed_in(pat)  # a second session, not working in the organization
    through_org = issue(app, pat, apps.api, SCOPES, organization=scim.org)
    personal = issue(app, pat, apps.api, SCOPES)
    checker = Client()
    assert browser.get(SIGNED_IN_PAGE).status_code == 200
    through_org = alive(checker, app, rs, through_org)
    personal = alive(checker, app, rs, personal)

    records.deactivate(record)

    # When the call returns, nothing of theirs works any more: no worker has run.
    for session in (browser, phone):
        assert session.get(SIGNED_IN_PAGE).status_code == 302
    assert not UserSession.objects.filter(user=pat).exists()
    dead(checker, app, rs, through_org)
    dead(checker, app, rs, personal)
    membership = Membership.objects.get(organization=scim.org, user=pat)
    assert membership.status == "removed"
    assert membership.deprovisioned_at is not None  # deprovision_now ran in the call
    assert {"org.member_removed", "scim.user_deactivated", "org.member_deprovisioned"} <= set(
        actions()
    )
    deactivated = AuditEvent.objects.get(action="scim.user_deactivated")
    assert deactivated.actor_text == f"scim:{scim.directory.public_id}"
    assert deactivated.data == {"membership_ended": True, "all_sessions": True}
    if broker == "broker down":
        assert "could not queue" in caplog.text  # the backstop job waits for the sweep


def test_someone_whose_login_address_the_org_does_not_own_keeps_their_own_session(
    scim, broker, apps
):
    app, rs = apps.app, apps.rs
    pat = UserFactory(email="pat@personal.example")
    EmailAddress.objects.create(user=pat, email="pat@acme.test", verified=True)
    record = records.provision(scim.directory, "pat", work_email="pat@acme.test")
    assert record.user == pat
    browser = at_work(pat, scim.org)
    through_org = issue(app, pat, apps.api, SCOPES, organization=scim.org)
    personal = issue(app, pat, apps.api, SCOPES)

    records.deactivate(record)

    # The organization leaves the session at once; the person's own account goes on.
    assert browser.get(SIGNED_IN_PAGE).status_code == 200
    assert "gatehouse_active_org" not in browser.session
    assert browser.get(f"/orgs/{scim.org.slug}/").status_code == 404
    checker = Client()
    dead(checker, app, rs, through_org)
    assert introspect(checker, rs, personal["access_token"])["active"] is True
    assert AuditEvent.objects.get(action="org.member_deprovisioned").data == {"sessions_cleared": 1}


def test_deleting_the_record_turns_the_person_off_and_keeps_the_account(scim, broker):
    pat = UserFactory(email="pat@acme.test")  # signs in with a password
    record = records.provision(scim.directory, "pat@acme.test")
    assert record.user == pat
    browser = at_work(pat, scim.org)

    records.delete(record)

    assert browser.get(SIGNED_IN_PAGE).status_code == 302
    pat.refresh_from_db()
    assert pat.email == "pat@acme.test"
    assert Membership.objects.get(user=pat).status == "removed"
    assert "scim.user_deactivated" in actions()


def test_a_repeated_deactivation_ends_nothing_twice(scim):
    record = records.deactivate(records.provision(scim.directory, "pat@acme.test"))

    records.deactivate(record)
    records.update(record, display_name="Pat")

    assert actions().count("org.member_removed") == 1
    assert actions().count("scim.user_deactivated") == 1
    assert actions().count("org.member_deprovisioned") == 1


def test_a_failed_session_store_is_reported_and_a_repeat_finishes_the_job(scim, monkeypatch):
    pat = UserFactory(email="pat@acme.test")  # signs in with a password
    record = records.provision(scim.directory, "pat@acme.test")
    assert record.user == pat
    browser = at_work(pat, scim.org)

    def store_down(user_id: int, org_id: int) -> int:
        raise ConnectionError("session store unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(members, "clear_active_org", store_down)
        with pytest.raises(SessionStoreDown):
            records.deactivate(record)

    membership = Membership.objects.get(user=pat)
    assert membership.status == "removed"  # committed before the store was asked
    assert membership.deprovisioned_at is None

    records.deactivate(record)  # the directory retries after its 503

    assert browser.get(SIGNED_IN_PAGE).status_code == 302
    membership.refresh_from_db()
    assert membership.deprovisioned_at is not None


def test_the_directory_never_ends_an_owners_membership(scim):
    pat = UserFactory(email="pat@acme.test")  # signs in with a password
    record = records.provision(scim.directory, "pat@acme.test")
    assert record.user == pat
    Membership.objects.filter(user=pat).update(role="owner")  # made owner since
    browser = at_work(pat, scim.org)

    records.deactivate(record)

    assert browser.get(SIGNED_IN_PAGE).status_code == 200
    assert browser.session["gatehouse_active_org"] == scim.org.pk
    assert Membership.objects.get(user=pat).status == "active"
    refused = AuditEvent.objects.get(action="scim.user_not_admitted")
    assert refused.data == {"reason": "owner", "attempted": "deactivate"}
    assert "org.member_removed" not in actions()


def test_reactivation_restores_the_membership_with_the_mapped_role(scim):
    UserFactory(email="pat@acme.test")
    record = records.provision(scim.directory, "pat@acme.test")
    records.group(scim.directory, "IT admins", role="admin", members=[record])
    records.deactivate(record)
    assert Membership.objects.get(user=record.user).status == "removed"

    records.reactivate(record)

    membership = Membership.objects.get(user=record.user)
    assert (membership.status, membership.role, membership.ended_at) == ("active", "admin", None)
    reactivated = AuditEvent.objects.get(action="scim.user_reactivated")
    assert reactivated.data == {"membership_restored": True, "role": "admin"}
    at_work(record.user, scim.org)  # the organization is theirs to work in again


@pytest.mark.parametrize("since", ["made staff", "domain unverified", "domain removed"])
def test_reactivation_checks_the_admission_rules_again(scim, since):
    pat = UserFactory(email="pat@acme.test")
    record = records.provision(scim.directory, "pat@acme.test")
    records.deactivate(record)
    if since == "made staff":
        User.objects.filter(pk=pat.pk).update(is_staff=True)
        expected = "privileged"
    elif since == "domain unverified":
        Domain.objects.filter(pk=scim.domain.pk).update(verified_at=None)
        expected = "outside_domains"
    else:
        scim.directory.domains.remove(scim.domain)
        expected = "outside_domains"

    record = records.reactivate(record)

    assert Membership.objects.get(user=pat).status == "removed"
    assert record.user is None
    assert record.link_state == expected
    assert not AuditEvent.objects.filter(action="scim.user_reactivated").exists()


def test_erasure_unlinks_the_directorys_record_and_the_directory_makes_no_new_account(scim):
    from consent import tasks as consent_tasks
    from consent.erasure.schedule import request_erasure
    from consent.export.sections import SECTIONS
    from consent.models import DataSubjectRequest

    pat = UserFactory(email="pat@acme.test")
    record = records.provision(scim.directory, "pat@acme.test", external_id="E-7")
    exported = next(s for s in SECTIONS if s.name == "directory_records").export(pat)
    assert [(r["organization"], r["userName"], r["externalId"]) for r in exported] == [
        ("Acme", "pat@acme.test", "E-7")
    ]

    request = request_erasure(user=pat)
    DataSubjectRequest.objects.filter(pk=request.pk).update(scheduled_for=timezone.now())
    assert consent_tasks.erase_user(request.pk) == "erased"
    assert DataSubjectRequest.objects.get(pk=request.pk).status == "completed"

    record.refresh_from_db()
    assert (record.user, record.link_state) == (None, "detached")
    assert record.user_name == "pat@acme.test"  # the organization's own record stays
    records.update(record, display_name="Pat again")  # the directory's next update
    assert not Membership.objects.filter(organization=scim.org).exists()
    assert not User.objects.filter(email="pat@acme.test").exists()  # no new account
