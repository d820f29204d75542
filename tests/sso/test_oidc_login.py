"""OpenID Connect sign-in through an organization's connection, against the real
oidc-provider on loopback: code flow with PKCE and a nonce, replay and cancel, role mapping."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from audit.models import AuditEvent
from organizations.models import Membership
from sso import services
from tests.sso.conftest import (
    HOST,
    assert_refused,
    browser,
    oidc_connection,
    oidc_login,
    oidc_start,
    session_user,
)


def test_full_login_creates_the_account_and_membership(web, oidc_idp, oidc, acme_org):
    _, done = oidc_login(web, oidc_idp, oidc)

    assert done.status_code == 302, done.content[:2000]
    user = User.objects.get(email="ada@acme.test")
    assert session_user(web) == user
    assert EmailAddress.objects.get(user=user).verified
    assert user.display_name == "Ada Lovelace"
    identity = SocialAccount.objects.get(user=user)
    assert (identity.provider, identity.uid) == (oidc.slug, "ada-sub")
    membership = Membership.objects.get(organization=acme_org.org, user=user)
    assert (membership.role, membership.source) == ("member", "sso")
    assert AuditEvent.objects.filter(action="sso.login_succeeded", actor=user).exists()


def test_the_authorize_request_carries_pkce_s256_and_a_nonce_the_id_token_returns(
    web, oidc_idp, oidc
):
    start, done = oidc_login(web, oidc_idp, oidc)

    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [f"http://{HOST}/accounts/oidc/{oidc.slug}/login/callback/"]
    assert sorted(query["scope"][0].split()) == ["email", "openid", "profile"]
    nonce = query["nonce"][0]
    assert len(nonce) >= 32
    assert done.status_code == 302
    identity = SocialAccount.objects.get(provider=oidc.slug)
    assert identity.extra_data["id_token"]["nonce"] == nonce


def test_scope_and_auth_params_from_the_browser_do_not_reach_the_idp(web, oidc):
    start = web.post(
        f"/accounts/oidc/{oidc.slug}/login/?scope=openid+offline_access&auth_params=prompt%3Dnone"
    )

    query = parse_qs(urlsplit(start["Location"]).query)
    assert sorted(query["scope"][0].split()) == ["email", "openid", "profile"]
    assert "prompt" not in query


def test_a_replayed_callback_is_refused(web, oidc_idp, oidc):
    start = oidc_start(web, oidc)
    back = urlsplit(oidc_idp.authorize(start["Location"], "ada-sub"))
    assert web.get(f"{back.path}?{back.query}").status_code == 302
    web.logout()

    again = web.get(f"{back.path}?{back.query}")

    assert_refused(web, again, oidc, "state")
    thief = browser()
    stolen = thief.get(f"{back.path}?{back.query}")
    assert_refused(thief, stolen, oidc, "state")


def test_a_forged_state_is_refused(web, oidc_idp, oidc):
    oidc_start(web, oidc)

    response = web.get(f"/accounts/oidc/{oidc.slug}/login/callback/?code=abc&state=forged")

    assert_refused(web, response, oidc, "state")
    assert not User.objects.filter(email="ada@acme.test").exists()


def test_cancelling_at_the_idp_is_handled(web, oidc_idp, oidc):
    _, done = oidc_login(web, oidc_idp, oidc, login=None)

    assert_refused(web, done, oidc, "cancelled")
    assert b"cancelled" in done.content
    assert not User.objects.filter(email="ada@acme.test").exists()


def test_role_mapping_follows_the_groups_claim_at_every_login(web, oidc_idp, acme_org):
    connection = oidc_connection(acme_org, oidc_idp, role_mapping={"engineering": "admin"})
    oidc_idp.set_account("grace-sub", {"email": "grace@acme.test", "groups": ["engineering"]})

    oidc_login(web, oidc_idp, connection, login="grace-sub")
    grace = User.objects.get(email="grace@acme.test")
    membership = Membership.objects.get(organization=acme_org.org, user=grace)
    assert membership.role == "admin"

    oidc_idp.set_account("grace-sub", {"email": "grace@acme.test", "groups": ["sales"]})
    again = browser()
    oidc_login(again, oidc_idp, connection, login="grace-sub")

    assert session_user(again) == grace
    membership.refresh_from_db()
    assert membership.role == "member"
    assert AuditEvent.objects.filter(action="sso.role_mapped", data__to="member").exists()


def test_a_disabled_connection_refuses_login_and_callback(web, oidc_idp, oidc, acme_org):
    start = oidc_start(web, oidc)
    back = urlsplit(oidc_idp.authorize(start["Location"], "ada-sub"))
    services.disable(actor=acme_org.admin, org=acme_org.org, connection_id=oidc.pk)

    assert oidc_start(browser(), oidc).status_code == 404
    done = web.get(f"{back.path}?{back.query}")

    assert done.status_code == 404
    assert session_user(web) is None
    assert not User.objects.filter(email="ada@acme.test").exists()


def test_a_draft_connection_refuses_login(web, oidc_idp, acme_org):
    connection = oidc_connection(acme_org, oidc_idp, status="draft")

    assert oidc_start(web, connection).status_code == 404
    assert session_user(web) is None


def test_an_unknown_connection_is_a_404(web):
    assert web.post("/accounts/oidc/nope/login/").status_code == 404
    assert web.get("/accounts/oidc/nope/login/callback/?code=x&state=y").status_code == 404


def test_an_idp_that_is_down_is_a_clear_refusal(web, forger, acme_org):
    from sso.models import Connection

    connection = oidc_connection(acme_org, forger)
    closed = "http://127.0.0.1:9/.well-known/openid-configuration"  # discard port: refused
    Connection.objects.filter(pk=connection.pk).update(discovery_url=closed)

    response = oidc_start(web, connection)

    assert_refused(web, response, connection, "discovery")


def test_home_realm_discovery_leads_to_the_idp_and_back(web, oidc_idp, oidc):
    start = web.post("/sso/", {"identifier": "ada@acme.test"})
    assert start.status_code == 302
    assert start["Location"].startswith(oidc_idp.issuer + "/auth?")

    back = urlsplit(oidc_idp.authorize(start["Location"], "ada-sub"))
    done = web.get(f"{back.path}?{back.query}")

    assert done.status_code == 302, done.content[:500]
    assert session_user(web) == User.objects.get(email="ada@acme.test")


def test_client_secret_post_is_used_when_the_connection_says_so(web, oidc_idp, acme_org):
    connection = oidc_connection(acme_org, oidc_idp, token_auth_method="client_secret_post")

    _, done = oidc_login(web, oidc_idp, connection)

    assert done.status_code == 302, done.content[:800]
    assert session_user(web) == User.objects.get(email="ada@acme.test")
