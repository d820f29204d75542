"""The person page in the admin (issue 19, item 2): everything about one person at a glance,
never a secret, in a fixed number of queries."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.mfa.services.enrollment import regenerate_backup_codes
from accounts.models import BackupCodeDevice, User
from audit.actions import Action
from audit.models import AuditEvent
from audit.services import record
from consent import services as consent_services
from consent.models import DataSubjectRequest, Decision, Method
from organizations import services as organizations
from organizations.models import Membership, Organization
from provider.models import Authorization
from provider.services.applications import create_application
from social.models import SocialProvider
from sso.models import Connection
from tests.accounts.mfa_helpers import enroll_totp
from tests.conftest import force_login_verified
from tests.consent.conftest import purposes  # noqa: F401  (a fixture)
from tests.factories import UserFactory

CHANGELIST = "/admin/accounts/user/"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def page_of(user: User) -> str:
    return f"{CHANGELIST}{user.pk}/change/"


@pytest.fixture
def admin_client() -> Client:
    staff = UserFactory(email="support@gatehouse.test", is_staff=True, is_superuser=True)
    return force_login_verified(Client(), staff)


def add_session(user: User, n: int, *, ip: str = "203.0.113.7") -> UserSession:
    now = timezone.now()
    return UserSession.objects.create(
        user=user,
        session_key=f"sk{uuid.uuid4().hex}",
        ip=ip,
        user_agent=CHROME_MAC,
        created_at=now - timedelta(hours=n + 1),
        last_seen_at=now - timedelta(minutes=n),
    )


def add_membership(user: User, n: int, role: str = "member") -> Membership:
    owner = UserFactory(email=f"owner{n}-{uuid.uuid4().hex[:6]}@corp.example")
    org = organizations.create_organization(actor=owner, name=f"Corp {n}", slug=f"corp-{n}")
    return Membership.objects.create(organization=org, user=user, role=role, source="admin")


@pytest.fixture
def person(purposes):  # noqa: F811
    """Someone with a bit of everything: two addresses, factors, sessions, an organization,
    an SSO and a social identity, an app, consents, an open export and some history."""
    user = UserFactory(email="pat@example.com", display_name="Pat Doe")
    EmailAddress.objects.create(user=user, email="pat.old@example.org", verified=False)
    enroll_totp(user, name="Pat's phone")
    regenerate_backup_codes(user=user)
    add_session(user, 0)
    membership = add_membership(user, 1, role="admin")
    sso = Connection.objects.create(
        organization=membership.organization,
        protocol="saml",
        name="Corp Okta",
        slug="corp-okta",
        idp_entity_id="https://idp.corp.example/metadata",
        idp_sso_url="https://idp.corp.example/sso",
    )
    SocialAccount.objects.create(
        user=user, provider=sso.slug, uid="okta-subject-123", extra_data={"email": "pat@corp.ex"}
    )
    SocialProvider.objects.create(kind="github", slug="github", name="GitHub", client_id="x")
    social = SocialAccount.objects.create(
        user=user, provider="social.github", uid="gh-42", extra_data={"email": "pat@github.ex"}
    )
    SocialToken.objects.create(
        account=social,
        app=None,
        token="social-access-token-never-shown",
        token_secret="social-token-secret-never-shown",
    )
    app = create_application(
        actor=None, name="Ledger Cloud", kind="web", redirect_uris=["https://ledger.example/cb"]
    ).application
    Authorization.objects.create(user=user, application=app, scopes=["openid", "email"])
    consent_services.record_consent(
        user=user,
        purpose=purposes["marketing_email"],
        decision=Decision.GRANTED,
        method=Method.API,
    )
    DataSubjectRequest.objects.create(
        user=user, kind="export", status="pending", requested_at=timezone.now()
    )
    record(Action.LOGIN_SUCCEEDED, actor=user, target=user, data={"method": "password"})
    return user


def test_the_page_shows_each_panel(admin_client, person):
    response = admin_client.get(page_of(person))

    assert response.status_code == 200
    html = response.content.decode()
    panels = {
        "panel-addresses": ["pat@example.com", "pat.old@example.org", "verified", "not verified"],
        "panel-sign-in": ["Password", "set", "Authenticator app", "Pat&#x27;s phone", "unused"],
        "panel-sessions": ["Chrome on macOS", "203.0.113.7", "Active sessions (1)"],
        "panel-organizations": ["Corp 1", "Admin"],
        "panel-identities": ["Corp Okta", "okta-subject-123", "GitHub", "gh-42", "pat@corp.ex"],
        "panel-apps": ["Ledger Cloud"],
        "panel-consents": ["consentevent/?user__id__exact="],
        "panel-privacy-requests": ["Export", "Pending"],
        "panel-timeline": ["Logged in", f"?q=user%3A{person.pk}"],
    }
    for panel, expected in panels.items():
        start = html.index(f'id="{panel}"')
        end = html.find('id="panel-', start + 1)
        section = html[start : end if end > 0 else len(html)]
        for text in expected:
            assert text in section, (panel, text)
    assert "Marketing" in html


def test_the_page_never_shows_a_secret(admin_client, person):
    totp_key = person.totpdevice_set.get().key
    codes = regenerate_backup_codes(user=person)  # a fresh set: the plain codes are only known here
    session_key = UserSession.objects.get(user=person).session_key

    html = admin_client.get(page_of(person)).content.decode()

    assert totp_key not in html
    for code in codes:
        assert code not in html
    assert session_key not in html
    assert person.password not in html
    assert "argon2" not in html
    assert "social-access-token-never-shown" not in html
    assert "social-token-secret-never-shown" not in html


def test_the_timeline_shows_the_newest_events_about_the_person_only(admin_client, person):
    other = UserFactory()
    for n in range(30):
        record(Action.LOGIN_FAILED, actor_text=person.email, target=person, data={"n": n})
    record(Action.LOGIN_SUCCEEDED, actor=other, target=other)

    response = admin_client.get(page_of(person))

    events = response.context["person"].events
    assert len(events) == 20
    assert [e.occurred_at for e in events] == sorted((e.occurred_at for e in events), reverse=True)
    newest = AuditEvent.objects.about_user(person).order_by("-occurred_at", "-id")[:20]
    assert [e.pk for e in events] == [e.pk for e in newest]
    link = response.context["person"].audit_url
    listing = admin_client.get(link)
    assert listing.status_code == 200
    assert {e.target_id for e in listing.context["cl"].result_list} == {str(person.pk)}


# --- Query count -------------------------------------------------------------------------------

# The person page with every panel filled, for a superuser (whose form lists every permission),
# measured with sessions in Redis (31; it was 165 before the page was rebuilt); the database
# session store (the embedded mode's) reads and writes the session itself too.
PAGE_QUERIES = 31 if settings.SESSION_ENGINE == "config.sessions" else 34


def _count_queries(client: Client, user: User) -> int:
    """Queries of the page once warm: the first request of a session also refreshes its
    "last seen" time and fills per-process caches (content types)."""
    client.get(page_of(user))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_of(user))
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_the_page_runs_a_small_fixed_number_of_queries(admin_client, person):
    assert _count_queries(admin_client, person) <= PAGE_QUERIES
    # The permission picker no longer reads each permission's content type on its own.
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(page_of(person))
    content_type_reads = [
        q["sql"] for q in queries.captured_queries if 'FROM "django_content_type"' in q["sql"]
    ]
    assert len(content_type_reads) <= 1, content_type_reads


def test_the_query_count_does_not_grow_with_the_person(admin_client, person):
    before = _count_queries(admin_client, person)

    for n in range(1, 40):
        add_session(person, n, ip=f"198.51.100.{n}")
    for n in range(2, 12):
        add_membership(person, n)
    for n in range(60):
        record(Action.LOGIN_SUCCEEDED, actor=person, target=person, data={"n": n})
    for n in range(5):
        enroll_totp(person, name=f"Phone {n}")
    for n in range(5):
        SocialAccount.objects.create(user=person, provider="corp-okta", uid=f"subject-{n}")

    after = _count_queries(admin_client, person)

    assert after == before
    page = admin_client.get(page_of(person))
    assert page.context["person"].session_count == 40
    assert len(page.context["person"].sessions) == 20
    assert len(page.context["person"].memberships) == 11


def test_a_support_agent_sees_privileges_read_only_in_a_fixed_number_of_queries(person):
    from django.contrib.auth.models import Permission

    agent = UserFactory(email="agent@gatehouse.test", is_staff=True)
    agent.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    client = force_login_verified(Client(), agent)
    colleague = UserFactory(is_staff=True)
    colleague.user_permissions.add(*Permission.objects.all()[:5])
    few = _count_queries(client, colleague)
    colleague.user_permissions.add(*Permission.objects.all()[:60])

    many = _count_queries(client, colleague)

    assert many == few
    html = client.get(page_of(colleague)).content.decode()
    assert 'name="user_permissions"' not in html
    assert str(Permission.objects.select_related("content_type").first()) in html


def test_a_tombstone_shows_its_panels_and_no_action(admin_client, person):
    User.objects.filter(pk=person.pk).update(erased_at=timezone.now())

    html = admin_client.get(page_of(person)).content.decode()

    assert "This account was erased" in html
    assert re.search(r'action="[^"]*/support/', html) is None


def test_an_organization_is_linked_from_the_page(admin_client, person):
    org = Organization.objects.get(slug="corp-1")
    html = admin_client.get(page_of(person)).content.decode()
    assert f"/admin/organizations/organization/{org.pk}/change/" in html


def test_backup_codes_show_how_many_are_left(admin_client, person):
    device = BackupCodeDevice.objects.get(user=person)
    left = device.remaining()

    html = admin_client.get(page_of(person)).content.decode()

    assert f"{left} unused" in html
