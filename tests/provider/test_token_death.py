"""Tokens follow the person (issue 15, item 7): blocking, signing out everywhere or of one
session, a password reset, removal from an organization and erasure end the person's access
and refresh tokens at once. Introspection answers ``active: false`` and the refresh grant
answers ``invalid_grant``, and nothing new is issued.

Tokens are made as the code grant makes them (tests/provider/person_tokens.py); each test
first proves they work (introspection active, a real refresh that rotates), then that they
die.
"""

from __future__ import annotations

from allauth.usersessions.models import UserSession
from django.core import mail
from django.test import Client

from accounts import services as accounts
from audit.models import AuditEvent
from consent.erasure.schedule import request_erasure
from organizations import services as organizations
from organizations.models import Membership
from provider.models import AccessToken, Authorization, ProviderSession, RefreshToken
from provider.services.revocation import Reason, revoke_tokens
from tests.conftest import links_in, path_of
from tests.factories import UserFactory
from tests.provider.person_tokens import (
    alive,
    dead,
    issue,
    open_session,
    refresh,
    signed_in,
    web_app,
)

SCOPES = ["invoices:read"]


def revoked_event(reason: str) -> AuditEvent:
    [event] = AuditEvent.objects.filter(action="oauth.tokens_revoked", data__reason=reason)
    return event


def test_blocking_a_person_ends_their_tokens(client, person, app, rs, invoices_api):
    tokens = alive(client, app, rs, issue(app, person, invoices_api, SCOPES))
    staff = UserFactory(email="support@gatehouse.test", is_staff=True)

    accounts.block_user(user=person, actor=staff, reason="Fraud report 42")

    dead(client, app, rs, tokens)
    event = revoked_event(Reason.BLOCKED)
    assert event.data["ended"] == {"access": 1, "refresh": 1}
    assert event.actor_id == staff.pk
    assert tokens["access_token"] not in str(event.data)
    assert tokens["refresh_token"] not in str(event.data)


def test_blocking_ends_only_that_persons_tokens(client, person, app, rs, invoices_api):
    other = UserFactory(email="sam@person.example")
    theirs = issue(app, other, invoices_api, SCOPES)
    staff = UserFactory(email="support@gatehouse.test", is_staff=True)

    accounts.block_user(user=person, actor=staff, reason="Fraud report 42")

    alive(client, app, rs, theirs)


def test_signing_out_everywhere_ends_every_token(person, app, rs, invoices_api):
    browser = signed_in(person)
    sid = open_session(person, browser.session.session_key)
    through_session = issue(app, person, invoices_api, SCOPES, sid=sid)
    without_session = issue(app, person, invoices_api, SCOPES)
    checker = Client()
    through_session = alive(checker, app, rs, through_session)

    response = browser.post("/account/sessions/", {"action": "revoke_all"})

    assert response.status_code == 302
    dead(checker, app, rs, through_session)
    dead(checker, app, rs, without_session)
    assert ProviderSession.objects.get(sid=sid).ended_at is not None
    assert revoked_event(Reason.SIGNED_OUT_EVERYWHERE).data["ended"]["refresh"] == 2


def test_signing_out_other_sessions_keeps_this_sessions_tokens(person, app, rs, invoices_api):
    here = signed_in(person)
    elsewhere = signed_in(person)
    here_sid = open_session(person, here.session.session_key)
    elsewhere_sid = open_session(person, elsewhere.session.session_key)
    kept = issue(app, person, invoices_api, SCOPES, sid=here_sid)
    ended = issue(app, person, invoices_api, SCOPES, sid=elsewhere_sid)
    checker = Client()

    here.post("/account/sessions/", {"action": "revoke_others"})

    dead(checker, app, rs, ended)
    alive(checker, app, rs, kept)
    assert ProviderSession.objects.get(sid=here_sid).ended_at is None
    assert ProviderSession.objects.get(sid=elsewhere_sid).ended_at is not None


def test_revoking_one_session_ends_only_the_tokens_issued_through_it(person, app, rs, invoices_api):
    here = signed_in(person)
    laptop = signed_in(person)
    laptop_key = laptop.session.session_key
    laptop_sid = open_session(person, laptop_key)
    here_sid = open_session(person, here.session.session_key)
    laptop_tokens = issue(app, person, invoices_api, SCOPES, sid=laptop_sid)
    here_tokens = issue(app, person, invoices_api, SCOPES, sid=here_sid)
    checker = Client()
    laptop_tokens = alive(checker, app, rs, laptop_tokens)
    session = UserSession.objects.get(session_key=laptop_key)

    response = here.post("/account/sessions/", {"action": "revoke", "session": session.pk})

    assert response.status_code == 302
    dead(checker, app, rs, laptop_tokens)
    alive(checker, app, rs, here_tokens)
    event = revoked_event(Reason.SESSION_REVOKED)
    assert event.data["one_session"] is True
    assert event.data["ended"]["refresh"] == 1


def test_signing_out_ends_this_browsers_oidc_session_but_not_offline_access(
    person, invoices_api, rs, django_capture_on_commit_callbacks, monkeypatch
):
    app = web_app(
        name="Invoices web",
        api=invoices_api,
        scopes=SCOPES,
        allowed_scopes=["openid", "offline_access"],
        backchannel_logout_uri="https://invoices.example/backchannel-logout",
    )
    here = signed_in(person)
    elsewhere = signed_in(person)
    here_sid = open_session(person, here.session.session_key)
    elsewhere_sid = open_session(person, elsewhere.session.session_key)
    online = issue(app, person, invoices_api, SCOPES, sid=here_sid, id_token=True)
    offline = issue(app, person, invoices_api, [*SCOPES, "offline_access"], sid=here_sid)
    other = issue(app, person, invoices_api, SCOPES, sid=elsewhere_sid)
    queued = []
    monkeypatch.setattr(
        "provider.tasks.queue_backchannel_logout", lambda *args: queued.append(args)
    )
    checker = Client()

    with django_capture_on_commit_callbacks(execute=True):
        response = here.post("/accounts/logout/")

    assert response.status_code == 302
    dead(checker, app, rs, online)
    alive(checker, app, rs, offline)
    alive(checker, app, rs, other)
    assert ProviderSession.objects.get(sid=here_sid).ended_at is not None
    assert ProviderSession.objects.get(sid=elsewhere_sid).ended_at is None
    assert queued == [(app.application.pk, str(person.public_id), here_sid)]
    event = revoked_event(Reason.SIGNED_OUT)
    assert event.data["ended"] == {"access": 1, "refresh": 1}
    assert AuditEvent.objects.filter(action="oauth.logout", actor=person).count() == 1


def test_signing_out_without_an_oidc_session_revokes_nothing(person, app, rs, invoices_api):
    here = signed_in(person)
    tokens = issue(app, person, invoices_api, SCOPES)

    here.post("/accounts/logout/")

    alive(Client(), app, rs, tokens)
    assert not AuditEvent.objects.filter(action__in=["oauth.logout", "oauth.tokens_revoked"])


def test_a_password_reset_ends_every_token(client, person, app, rs, invoices_api):
    tokens = alive(client, app, rs, issue(app, person, invoices_api, SCOPES))
    browser = Client()
    browser.post("/accounts/password/reset/", {"email": person.email})
    [message] = [m for m in mail.outbox if m.to == [person.email]]
    [link] = [link for link in links_in(message) if "/accounts/password/reset/key/" in link]
    form = browser.get(path_of(link))["Location"]

    new_password = "maroon-Lantern-orbit-42"
    response = browser.post(form, {"password1": new_password, "password2": new_password})

    assert response.status_code == 302
    dead(client, app, rs, tokens)
    assert revoked_event(Reason.PASSWORD_RESET).data["ended"]["refresh"] == 1


def test_removal_from_an_organization_ends_only_its_tokens(client, app, rs, invoices_api):
    owner = UserFactory(email="owner@acme.example")
    member = UserFactory(email="member@acme.example")
    acme = organizations.create_organization(actor=owner, name="Acme", slug="acme")
    Membership.objects.create(organization=acme, user=member, role="member", source="admin")
    at_acme = issue(app, member, invoices_api, SCOPES, organization=acme)
    personal = issue(app, member, invoices_api, SCOPES)
    for organization in (acme, None):
        Authorization.objects.create(
            user=member, application=app.application, organization=organization, scopes=SCOPES
        )
    at_acme = alive(client, app, rs, at_acme)

    organizations.remove_member(
        actor=Membership.objects.get(organization=acme, user=owner),
        org=acme,
        member_id=Membership.objects.get(organization=acme, user=member).pk,
    )

    dead(client, app, rs, at_acme)
    alive(client, app, rs, personal)
    event = revoked_event(Reason.REMOVED_FROM_ORGANIZATION)
    assert event.organization_id == acme.pk
    assert event.actor_id == owner.pk  # the admin who removed them, not "system"
    # What was allowed through the organization goes with the membership; the rest stays.
    assert list(
        Authorization.objects.filter(user=member).values_list("organization", flat=True)
    ) == [None]


def test_erasure_ends_every_token(client, person, app, rs, invoices_api, settings):
    settings.GATEHOUSE_ERASURE_GRACE_DAYS = 0
    tokens = alive(client, app, rs, issue(app, person, invoices_api, SCOPES))
    Authorization.objects.create(user=person, application=app.application, scopes=SCOPES)

    request_erasure(user=person)  # with no grace period the job runs at once (eager here)

    person.refresh_from_db()
    assert person.erased_at is not None
    dead(client, app, rs, tokens)
    assert revoked_event(Reason.ERASURE).data["ended"]["refresh"] == 1
    assert not Authorization.objects.filter(user=person).exists()  # forgotten with them


def test_revoking_twice_is_harmless_and_records_once(client, person, app, rs, invoices_api):
    tokens = issue(app, person, invoices_api, SCOPES)

    first = revoke_tokens(user=person, reason=Reason.BLOCKED)
    second = revoke_tokens(user=person, reason=Reason.BLOCKED)

    assert (first.access_tokens, first.refresh_tokens) == (1, 1)
    assert (second.access_tokens, second.refresh_tokens) == (0, 0)
    assert AuditEvent.objects.filter(action="oauth.tokens_revoked").count() == 1
    dead(client, app, rs, tokens)


def test_revocation_takes_the_same_queries_for_one_token_or_many(
    person, app, invoices_api, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    issue(app, person, invoices_api, SCOPES)
    with CaptureQueriesContext(connection) as one:
        revoke_tokens(user=person, reason=Reason.BLOCKED)
    for _ in range(25):
        issue(app, person, invoices_api, SCOPES)
    with CaptureQueriesContext(connection) as many:
        revoke_tokens(user=person, reason=Reason.BLOCKED)

    assert RefreshToken.objects.filter(user=person, revoked__isnull=True).count() == 0
    assert not AccessToken.objects.filter(user=person).exists()
    assert len(many.captured_queries) == len(one.captured_queries)


def test_a_refresh_racing_a_block_mints_nothing(client, person, app, rs, invoices_api, monkeypatch):
    """The refresh grant reads the refresh token, then the person is blocked (committed), then
    the grant rotates: the rotation sees the revocation and refuses, instead of minting a new
    pair for someone just blocked (DOT re-locks the row but does not look at it again)."""
    from provider.validator import GatehouseValidator

    tokens = issue(app, person, invoices_api, SCOPES)
    staff = UserFactory(email="support@gatehouse.test", is_staff=True)
    validate = GatehouseValidator.validate_refresh_token

    def validate_then_block(self, *args, **kwargs):
        valid = validate(self, *args, **kwargs)
        accounts.block_user(user=person, actor=staff, reason="Blocked mid-refresh")
        return valid

    monkeypatch.setattr(GatehouseValidator, "validate_refresh_token", validate_then_block)
    before = (AccessToken.objects.count(), RefreshToken.objects.count())

    response = refresh(client, app, tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert (AccessToken.objects.count(), RefreshToken.objects.count()) == (before[0] - 1, before[1])
    assert not RefreshToken.objects.filter(user=person, revoked__isnull=True).exists()


def test_userinfo_answers_401_once_the_person_is_blocked(client, person, app):
    tokens = issue(app, person, None, ["openid"])
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    answer = client.get("/o/userinfo/", **bearer)
    assert answer.status_code == 200, answer.content
    assert answer.json()["sub"] == str(person.public_id)
    staff = UserFactory(email="support@gatehouse.test", is_staff=True)

    accounts.block_user(user=person, actor=staff, reason="Fraud report 42")

    assert client.get("/o/userinfo/", **bearer).status_code == 401
