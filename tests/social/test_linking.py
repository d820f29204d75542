"""The account-linking rules of social login, one by one: a provider-verified address of an
existing account links only after the person proves the account; an unverified one never links
and answers exactly as for a free address; an organization's policy refuses social sign-in for
its members; unlinking the last way in is refused."""

from __future__ import annotations

from urllib.parse import urlsplit

from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from audit.models import AuditEvent
from organizations import services as org_services
from organizations.models import Membership
from tests.accounts.mfa_helpers import enroll_totp
from tests.accounts.test_login_code import code_from
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.social.conftest import HOST, browser, session_user, sign_in
from tests.sso.builders import org_with_domain, saml_connection

SIGNUP = "/accounts/3rdparty/signup/"
LINK = "/accounts/social/link/"


def password_login(client: Client, email: str, next_url: str = ""):
    data = {
        "login": email,
        "password": DEFAULT_PASSWORD,
        **({"next": next_url} if next_url else {}),
    }
    return client.post("/accounts/login/", data)


def test_a_verified_address_of_an_existing_account_links_only_after_signing_in_to_it(
    web, idp, google
):
    ada = UserFactory(email="ada@example.com")

    back = sign_in(web, idp, google, "ada-sub")

    # Not signed in, nothing linked: the person is asked to prove the account first.
    assert back.status_code == 302
    assert back["Location"] == LINK
    assert session_user(web) is None
    assert not SocialAccount.objects.exists()
    refused = AuditEvent.objects.get(action="social.link_refused")
    assert refused.data == {"provider": "google", "reason": "existing_account"}
    page = web.get(LINK)
    assert b"An account already uses ada@example.com" in page.content

    signed = password_login(web, ada.email, next_url=LINK)
    assert signed.status_code == 302
    assert signed["Location"] == LINK
    confirm = web.get(LINK)
    assert b"Link Google to your account?" in confirm.content
    assert not SocialAccount.objects.exists()  # not before the confirmation

    linked = web.post(LINK, {"action": "link"})

    assert linked.status_code == 302
    identity = SocialAccount.objects.get()
    assert (identity.user, identity.provider, identity.uid) == (ada, "social.google", "ada-sub")
    assert AuditEvent.objects.filter(action="social.identity_linked", actor=ada).exists()
    # From now on Google signs Ada in.
    later = browser()
    assert sign_in(later, idp, google, "ada-sub").status_code == 302
    assert session_user(later) == ada


def test_the_link_page_without_a_waiting_sign_in_is_a_clear_404(web):
    response = web.get(LINK)
    assert response.status_code == 404
    assert b"no sign-in waiting" in response.content


def test_declining_the_link_links_nothing(web, idp, google):
    ada = UserFactory(email="ada@example.com")
    sign_in(web, idp, google, "ada-sub")
    password_login(web, ada.email, next_url=LINK)

    response = web.post(LINK, {"action": "cancel"})

    assert response.status_code == 302
    assert not SocialAccount.objects.exists()
    assert web.get(LINK).status_code == 404


def _unverified_round(idp, google, sub: str, email: str):
    client = browser()
    back = sign_in(client, idp, google, sub)
    form = client.get(SIGNUP)
    done = client.post(SIGNUP, {"email": email})
    return client, back, form, done


def test_an_unverified_address_of_an_existing_account_never_links_and_reveals_nothing(
    web, idp, google
):
    ada = UserFactory(email="ada@example.com")

    _, taken_back, taken_form, taken_done = _unverified_round(
        idp, google, "mallory-sub", "ada@example.com"
    )
    _, free_back, free_form, free_done = _unverified_round(
        idp, google, "fresh-unverified-sub", "fresh@example.com"
    )

    # The same answers at every step, as for an address nobody has.
    assert taken_back["Location"] == free_back["Location"] == SIGNUP
    assert taken_form.status_code == free_form.status_code == 200
    assert b"already" not in taken_form.content
    assert taken_done.status_code == free_done.status_code == 302
    assert taken_done["Location"] == free_done["Location"]
    # Mallory got nothing: no link, no session, no second account.
    assert not SocialAccount.objects.filter(user=ada).exists()
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1
    assert not SocialAccount.objects.filter(uid="mallory-sub").exists()
    refused = AuditEvent.objects.get(action="social.link_refused", target_id=str(ada.pk))
    assert refused.data["reason"] == "unverified_email"
    # The owner is told someone tried to sign up with their address.
    assert any(m.to == ["ada@example.com"] for m in mail.outbox)


def _inserts_of_the_sign_up(idp, google, sub: str, email: str) -> list[str]:
    client = browser()
    assert sign_in(client, idp, google, sub)["Location"] == SIGNUP
    client.get(SIGNUP)
    with CaptureQueriesContext(connection) as queries:
        done = client.post(SIGNUP, {"email": email})
    assert done.status_code == 302
    return sorted(
        q["sql"].split('"')[1] for q in queries.captured_queries if q["sql"].startswith("INSERT")
    )


def test_a_social_sign_up_with_a_taken_address_does_a_new_accounts_writes(
    web, idp, google, monkeypatch
):
    """No timing to tell a taken address from a free one: the taken one's sign-up makes a new
    account's inserts (user, address, identity, consents, audit) on a throwaway account it
    rolls back, then emails the owner where a new account is emailed its verification."""
    import events.pipeline

    # Embedded mode's in-process events pass after a commit is a worker's work in production.
    monkeypatch.setattr(events.pipeline, "run_once_on_commit", lambda: None)
    UserFactory(email="ada@example.com")

    taken = _inserts_of_the_sign_up(idp, google, "mallory-sub", "ada@example.com")
    free = _inserts_of_the_sign_up(idp, google, "fresh-unverified-sub", "fresh@example.com")

    assert taken == free
    assert {"accounts_user", "account_emailaddress", "socialaccount_socialaccount"} <= set(free)
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1
    assert not User.objects.filter(email__endswith="@signup.invalid").exists()
    assert not SocialAccount.objects.filter(uid="mallory-sub").exists()


def test_an_organization_that_does_not_allow_social_login_refuses_its_member(web, idp, google):
    org, owner = org_with_domain("acme", "acme.test")
    org_services.update_policy(
        actor=owner, org=org, allowed_login_methods=["password", "code", "passkey", "sso"]
    )
    ada = UserFactory(email="ada@acme.test")
    Membership.objects.create(organization=org, user=ada, role="member", source="admin")
    SocialAccount.objects.create(user=ada, provider="social.google", uid="new-sub")

    response = sign_in(web, idp, google, "new-sub")

    assert response.status_code == 403
    assert session_user(web) is None
    event = AuditEvent.objects.get(action="login.method_not_allowed")
    assert event.data["method"] == "social"
    assert event.organization_id == org.pk


def test_an_sso_only_organization_refuses_its_member_social_sign_in(web, idp, google):
    org, owner = org_with_domain("acme", "acme.test")
    saml_connection(org, owner)
    org_services.update_policy(actor=owner, org=org, sso_only=True)
    ada = UserFactory(email="ada@acme.test")
    Membership.objects.create(organization=org, user=ada, role="member", source="admin")
    SocialAccount.objects.create(user=ada, provider="social.google", uid="new-sub")

    response = sign_in(web, idp, google, "new-sub")

    assert response.status_code == 403
    assert session_user(web) is None
    assert AuditEvent.objects.filter(action="login.sso_required", target_id=str(ada.pk)).exists()


def _code_login(client: Client, email: str) -> None:
    client.post("/accounts/login/code/", {"email": email})
    done = client.post("/accounts/login/code/confirm/", {"code": code_from(mail.outbox[-1])})
    assert done.status_code == 302, done.content[:500]


def test_unlinking_the_last_way_in_is_refused(web, google):
    ada = UserFactory(email="ada@example.com")
    ada.set_unusable_password()
    ada.save()
    identity = SocialAccount.objects.create(user=ada, provider="social.google", uid="ada-sub")
    client = Client(HTTP_HOST=HOST)
    _code_login(client, ada.email)

    response = client.post("/accounts/3rdparty/", {"account": identity.pk})

    assert response.status_code == 200
    assert b"This is your only way to sign in" in response.content
    assert SocialAccount.objects.filter(pk=identity.pk).exists()
    assert not AuditEvent.objects.filter(action="social.identity_unlinked").exists()


def test_unlinking_with_a_password_left_is_allowed_and_audited(web, google):
    ada = UserFactory(email="ada@example.com")
    identity = SocialAccount.objects.create(user=ada, provider="social.google", uid="ada-sub")
    client = Client(HTTP_HOST=HOST)
    assert password_login(client, ada.email).status_code == 302

    response = client.post("/accounts/3rdparty/", {"account": identity.pk})

    assert response.status_code == 302
    assert not SocialAccount.objects.filter(pk=identity.pk).exists()
    event = AuditEvent.objects.get(action="social.identity_unlinked")
    assert event.data == {"provider": "google"}


def test_linking_from_the_account_page_needs_a_step_up_first(web, idp, google):
    ada = UserFactory(email="ada@example.com")
    web.force_login(ada)  # a session without a recent sign-in (a stolen cookie, say)

    response = web.post("/accounts/social.google/login/", {"process": "connect"})
    assert response.status_code == 302
    back = idp.authorize(response["Location"], "new-sub")
    parts = urlsplit(back)
    done = web.get(f"{parts.path}?{parts.query}")

    assert done.status_code == 302
    assert "/account/security/verify/" in done["Location"]
    assert not SocialAccount.objects.exists()


def test_a_person_with_a_second_factor_is_asked_for_it_after_the_provider(web, idp, google):
    ada = UserFactory(email="ada@example.com")
    enroll_totp(ada)
    SocialAccount.objects.create(user=ada, provider="social.google", uid="ada-sub")

    response = sign_in(web, idp, google, "ada-sub")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/")
    assert session_user(web) is None
