"""Hostile SAML input at the ACS: every case is a 4xx that names the failed check, never a 500,
never a session or an account. The IdP is samlify; the spoiled responses are its own output
bent the way an attacker would bend it (tests/sso/idp/saml_idp.js, ``case=``)."""

from __future__ import annotations

import base64

import pytest
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from tests.sso.conftest import (
    assert_refused,
    browser,
    failed_checks,
    saml_connection,
    saml_login,
    saml_post,
    saml_start,
    session_user,
)


def assert_nobody_created() -> None:
    assert not User.objects.filter(email__endswith="@acme.test").exists()
    assert not SocialAccount.objects.exists()


# case at the IdP -> the check Gatehouse names (audit log, error page, "Test connection").
SPOILED = {
    "tampered": "invalid_signature",
    "unsigned": "no_signed_assertion",
    "attacker_key": "invalid_signature",
    "expired": "assertion_expired",
    "not_yet_valid": "assertion_too_early",
    "wrong_audience": "wrong_audience",
    "no_audience": "audience_missing",
    "wrong_destination": "wrong_destination",
    "sha1": "deprecated_signature_method",
    "xsw": "wrong_number_of_assertions",
    "no_nameid": "no_nameid",
}


@pytest.mark.parametrize("case", list(SPOILED))
def test_spoiled_response_is_refused_with_the_check_named(case, web, saml_idp, saml):
    response = saml_login(web, saml_idp, saml, user="ada@acme.test", case=case)

    assert_refused(web, response, saml, SPOILED[case])
    assert response.status_code == 403
    assert SPOILED[case].encode() in response.content  # the reference the IT team is given
    assert_nobody_created()


def test_a_replayed_response_is_refused_in_the_same_browser(web, saml_idp, saml):
    answer = saml_idp.answer(saml_start(web, saml), user="ada@acme.test")
    assert saml_post(web, answer).status_code == 302
    web.logout()

    response = saml_post(web, answer)

    # The sign-in it answered is used up: its InResponseTo is unknown now.
    assert_refused(web, response, saml, "in_response_to")


def test_a_stolen_response_is_refused_in_another_browser(web, saml_idp, saml):
    answer = saml_idp.answer(saml_start(web, saml), user="ada@acme.test")
    thief = browser()

    response = saml_post(thief, answer)

    assert_refused(thief, response, saml, "in_response_to")
    assert_nobody_created()
    # The rightful browser can still use it.
    assert saml_post(web, answer).status_code == 302
    assert session_user(web) is not None


def test_a_response_for_another_orgs_connection_is_refused(web, saml_idp, saml, acme_org, beta_org):
    # Beta trusts the very same IdP and certificate: the worst case.
    beta = saml_connection(beta_org, saml_idp)
    answer = saml_idp.answer(saml_start(web, saml), user="ada@beta.test")

    response = saml_post(web, answer, slug=beta.slug)

    assert_refused(web, response, beta, "wrong_destination")
    assert not User.objects.filter(email="ada@beta.test").exists()
    assert not SocialAccount.objects.exists()


def test_the_finish_step_without_a_posted_response_is_refused(web, saml):
    response = web.get(f"/accounts/saml/{saml.slug}/acs/finish/")

    assert_refused(web, response, saml, "acs_session_missing")


JUNK = {
    "not_base64": "!!!***",
    "not_xml": base64.b64encode(b"not xml at all").decode(),
    "empty": "",
    "dtd": base64.b64encode(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" '
        b'Version="2.0">&x;</samlp:Response>'
    ).decode(),
    "billion_laughs": base64.b64encode(
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>'
    ).decode(),
}


@pytest.mark.parametrize("junk", list(JUNK))
def test_junk_is_a_clear_refusal_not_a_500(junk, web, saml):
    response = saml_post(
        web, {"acs": f"/accounts/saml/{saml.slug}/acs/", "SAMLResponse": JUNK[junk]}
    )

    assert_refused(web, response, saml, None)
    assert failed_checks(saml)[-1] in ("malformed_response", "invalid_response")
    assert_nobody_created()


def test_without_the_replay_cache_no_assertion_is_accepted(web, saml_idp, saml, monkeypatch):
    from sso import replay

    class Unreachable:
        def add(self, *args, **kwargs):
            raise ConnectionError("cache unreachable")

    # Only the replay cache is down (sessions may live in the same cache in production).
    monkeypatch.setattr(replay, "cache", Unreachable())

    response = saml_login(web, saml_idp, saml, user="ada@acme.test")

    assert_refused(web, response, saml, "replay_cache_down")
    assert_nobody_created()


def test_a_saml_subject_longer_than_an_identity_can_hold_is_refused(web, saml_idp, acme_org):
    from allauth.socialaccount import app_settings

    connection = saml_connection(acme_org, saml_idp, email_attribute="email")
    long_id = "x" * (app_settings.UID_MAX_LENGTH + 20)
    response = saml_login(web, saml_idp, connection, user="ada@acme.test", nameid=long_id)

    # On PostgreSQL SocialAccount.uid is varchar(191): saving it raises DataError, a 500.
    assert_refused(web, response, connection, "subject")
