"""The second factor after SSO: asked by Gatehouse unless the connection trusts the IdP's MFA
and the IdP reported it (OIDC ``amr``, SAML AuthnContextClassRef)."""

from __future__ import annotations

import pytest

from tests.accounts.mfa_helpers import enroll_totp, totp_now
from tests.factories import UserFactory
from tests.sso.conftest import (
    browser,
    oidc_connection,
    oidc_login,
    saml_connection,
    saml_login,
    session_user,
)

SECOND_STEP = "/accounts/2fa/"


@pytest.fixture
def ada_with_totp():
    ada = UserFactory(email="ada@acme.test")
    return ada, enroll_totp(ada)


def test_sso_stops_at_the_second_factor_and_then_signs_in(web, oidc_idp, oidc, ada_with_totp):
    ada, device = ada_with_totp

    _, done = oidc_login(web, oidc_idp, oidc, amr="pwd,mfa")

    assert done.status_code == 302
    assert done["Location"] == SECOND_STEP
    assert session_user(web) is None
    response = web.post(SECOND_STEP, {"kind": "totp", "code": totp_now(device)})
    assert response.status_code == 302, response.content[:500]
    assert session_user(web) == ada


@pytest.mark.parametrize(
    ("amr", "asked"), [("pwd,mfa", False), ("pwd,otp", False), ("pwd", True), ("", True)]
)
def test_a_connection_that_trusts_the_idp_skips_the_step_only_after_idp_mfa(
    amr, asked, web, oidc_idp, acme_org, ada_with_totp
):
    ada, device = ada_with_totp
    connection = oidc_connection(acme_org, oidc_idp, mfa_trust="idp")
    # The first sign-in links the identity to Ada's account: her own factor, whatever the IdP
    # says. Only once that sign-in is complete may the IdP vouch for MFA.
    link_by_completing(oidc_idp, connection, device)
    _, done = oidc_login(web, oidc_idp, connection, **({"amr": amr} if amr else {}))

    assert done.status_code == 302
    if asked:
        assert done["Location"] == SECOND_STEP
        assert session_user(web) is None
    else:
        assert done["Location"] != SECOND_STEP
        assert session_user(web) == ada


@pytest.mark.parametrize(
    ("context", "asked"),
    [
        ("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", True),
        ("http://schemas.microsoft.com/claims/multipleauthn", False),
    ],
)
def test_saml_authn_context_counts_as_idp_mfa_when_trusted(
    context, asked, web, saml_idp, acme_org, ada_with_totp
):
    _, device = ada_with_totp
    connection = saml_connection(acme_org, saml_idp, mfa_trust="idp")
    first = browser()
    response = saml_login(first, saml_idp, connection, user="ada@acme.test", authn_context=context)
    assert response["Location"] == SECOND_STEP  # linking: her own factor
    assert first.post(SECOND_STEP, {"kind": "totp", "code": totp_now(device)}).status_code == 302

    response = saml_login(web, saml_idp, connection, user="ada@acme.test", authn_context=context)

    assert response.status_code == 302
    assert (response["Location"] == SECOND_STEP) is asked
    assert (session_user(web) is None) is asked


def link_by_completing(idp, connection, device) -> None:
    """Ada's first SSO sign-in, finished with her TOTP: her identity is linked from then on."""
    client = browser()
    _, first = oidc_login(client, idp, connection, amr="pwd,mfa")
    assert first["Location"] == SECOND_STEP
    response = client.post(SECOND_STEP, {"kind": "totp", "code": totp_now(device)})
    assert response.status_code == 302, response.content[:500]


def test_an_untrusting_connection_asks_even_after_idp_mfa(web, saml_idp, saml, ada_with_totp):
    response = saml_login(
        web,
        saml_idp,
        saml,
        user="ada@acme.test",
        authn_context="http://schemas.microsoft.com/claims/multipleauthn",
    )

    assert response["Location"] == SECOND_STEP
    assert session_user(web) is None


def test_two_connections_sharing_a_client_id_resume_the_right_one(
    web, oidc_idp, oidc, acme_org, forger, ada_with_totp
):
    # A pending login is resumed by its connection, not by the client id it shares.
    from sso.models import Connection

    other = oidc_connection(acme_org, forger, name="Another IdP")
    Connection.objects.filter(pk=other.pk).update(client_id=oidc.client_id)
    ada, device = ada_with_totp

    _, done = oidc_login(web, oidc_idp, oidc)
    assert done["Location"] == SECOND_STEP
    response = web.post(SECOND_STEP, {"kind": "totp", "code": totp_now(device)})

    assert response.status_code == 302, response.content[:500]
    assert session_user(web) == ada


def test_a_saml_login_resumed_after_the_second_factor_can_sign_out_at_the_idp(
    web, saml_idp, saml, ada_with_totp
):
    ada, device = ada_with_totp
    response = saml_login(web, saml_idp, saml, user="ada@acme.test")
    assert response["Location"] == SECOND_STEP

    finished = web.post(SECOND_STEP, {"kind": "totp", "code": totp_now(device)})

    assert finished.status_code == 302, finished.content[:500]
    assert session_user(web) == ada
    logout = web.post("/accounts/logout/")
    assert logout["Location"].startswith(saml_idp.slo_url + "?")


def test_a_link_left_at_the_second_step_never_vouches_for_idp_mfa(
    web, oidc_idp, acme_org, ada_with_totp
):
    """An IdP an org admin runs asserts Ada's address and claims MFA: it is linked, but stops at
    Ada's own factor; coming back with the same claim stops there again."""
    connection = oidc_connection(acme_org, oidc_idp, mfa_trust="idp")
    for _attempt in range(2):
        client = browser()
        _, done = oidc_login(client, oidc_idp, connection, amr="pwd,mfa")
        assert done["Location"] == SECOND_STEP
        assert session_user(client) is None


def test_a_confirmation_made_before_the_account_had_a_factor_does_not_skip_it_later(
    web, oidc_idp, acme_org
):
    ada = UserFactory(email="ada@acme.test")  # no second factor yet
    connection = oidc_connection(acme_org, oidc_idp, mfa_trust="idp")
    first = browser()
    _, done = oidc_login(first, oidc_idp, connection, amr="pwd")
    assert done.status_code == 302
    assert done["Location"] != SECOND_STEP
    assert session_user(first) == ada  # the identity is now "confirmed"
    # Ada protects her account with an authenticator app.
    enroll_totp(ada)

    _, done = oidc_login(web, oidc_idp, connection, amr="pwd,mfa")

    # Her own factor has never been presented through this identity: it must be asked.
    assert done["Location"] == SECOND_STEP
    assert session_user(web) is None
