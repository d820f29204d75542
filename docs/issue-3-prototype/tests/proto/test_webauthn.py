from __future__ import annotations

import json

from django.test import Client
from django_otp_webauthn.models import WebAuthnCredential

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.proto.authenticator import SoftAuthenticator

ORIGIN = "http://localhost:8000"


def post_json(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def register(user, authenticator):
    c = Client()
    c.force_login(user)
    options = post_json(c, "/webauthn/registration/begin/").json()
    print("REG OPTIONS", {k: options[k] for k in ("rp", "authenticatorSelection", "attestation")})
    r = post_json(c, "/webauthn/registration/complete/", authenticator.create(options))
    assert r.status_code == 200, r.content
    return WebAuthnCredential.objects.get(pk=r.json()["id"])


def test_passwordless_login(user):
    a = SoftAuthenticator(ORIGIN)
    cred = register(user, a)
    print("CRED", cred.discoverable, cred.backup_eligible, cred.sign_count)
    c = Client()
    options = post_json(c, "/accounts/passkey/begin/").json()
    print("AUTH OPTIONS", options)
    r = post_json(c, "/accounts/passkey/complete/", a.get(options))
    print("COMPLETE", r.status_code, r.content[:300])
    assert r.status_code == 200 and r.json()["redirect_url"] == "/account/"
    assert c.session["_auth_user_id"] == str(user.pk)
    assert c.get("/account/").status_code == 200
    print("RECORDS", c.session["account_authentication_methods"])


def test_wrong_origin_rejected(user):
    a = SoftAuthenticator(ORIGIN)
    register(user, a)
    c = Client()
    options = post_json(c, "/accounts/passkey/begin/").json()
    r = post_json(c, "/accounts/passkey/complete/", a.get(options, origin="https://evil.example"))
    print("WRONG ORIGIN", r.status_code, r.content)
    assert r.status_code >= 400 and "_auth_user_id" not in c.session


def test_replayed_assertion_rejected(user):
    a = SoftAuthenticator(ORIGIN)
    register(user, a)
    c = Client()
    options = post_json(c, "/accounts/passkey/begin/").json()
    assertion = a.get(options)
    r = post_json(c, "/accounts/passkey/complete/", assertion)
    assert r.status_code == 200
    c2 = Client()
    r = post_json(c2, "/accounts/passkey/complete/", assertion)   # no state at all
    print("REPLAY no state", r.status_code, r.content)
    post_json(c2, "/accounts/passkey/begin/")          # fresh challenge
    r = post_json(c2, "/accounts/passkey/complete/", assertion)
    print("REPLAY old challenge", r.status_code, r.content)
    assert r.status_code >= 400 and "_auth_user_id" not in c2.session


def test_other_users_credential_rejected_at_second_step(user):
    mine = SoftAuthenticator(ORIGIN)
    register(user, mine)
    other = UserFactory()
    theirs = SoftAuthenticator(ORIGIN)
    register(other, theirs)
    c = Client()
    assert c.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})["Location"] == "/accounts/2fa/"
    options = post_json(c, "/accounts/2fa/passkey/begin/").json()
    print("STAGE OPTIONS allowCredentials", len(options.get("allowCredentials", [])), options["userVerification"])
    their_cred = next(iter(theirs.credentials))
    r = post_json(c, "/accounts/2fa/passkey/complete/", theirs.get(options, credential_id=their_cred))
    print("OTHER USER", r.status_code, r.content)
    assert r.status_code >= 400 and "_auth_user_id" not in c.session
    options = post_json(c, "/accounts/2fa/passkey/begin/").json()
    r = post_json(c, "/accounts/2fa/passkey/complete/", mine.get(options))
    print("OWN", r.status_code, r.content)
    assert r.status_code == 200 and c.session["_auth_user_id"] == str(user.pk)


def test_passkey_registration_needs_uv_for_passwordless(user):
    a = SoftAuthenticator(ORIGIN, user_verified=False)
    register(user, a)
    c = Client()
    options = post_json(c, "/accounts/passkey/begin/").json()
    r = post_json(c, "/accounts/passkey/complete/", a.get(options))
    print("NO UV", r.status_code, r.content)
    assert r.status_code >= 400


def test_downgrade_stage_state_used_for_passwordless(user):
    attacker = UserFactory()
    victim_key = SoftAuthenticator(ORIGIN, user_verified=False)  # stolen key, PIN unknown
    register(user, victim_key)
    c = Client()
    assert c.post("/accounts/login/", {"login": attacker.email, "password": DEFAULT_PASSWORD}).status_code == 302
    # attacker has no device -> logged in straight away; log out but keep going as anonymous
    c.post("/accounts/logout/")
    from django_otp_webauthn.models import WebAuthnCredential as W
    # give attacker a device so that he stops at the stage
    reg = SoftAuthenticator(ORIGIN)
    register(attacker, reg)
    c = Client()
    assert c.post("/accounts/login/", {"login": attacker.email, "password": DEFAULT_PASSWORD})["Location"] == "/accounts/2fa/"
    options = post_json(c, "/accounts/2fa/passkey/begin/").json()
    options["allowCredentials"] = []
    r = post_json(c, "/accounts/passkey/complete/", victim_key.get(options))
    print("DOWNGRADE", r.status_code, r.content, c.session.get("_auth_user_id"), "victim", user.pk)


import pytest


@pytest.mark.parametrize("body", ['[]', '"x"', '{"id": 5}', '{"id":"AA","rawId":"AA","type":"public-key","response":{}}', 'nope'])
def test_garbage(user, body):
    a = SoftAuthenticator(ORIGIN)
    register(user, a)
    c = Client(raise_request_exception=False)
    post_json(c, "/accounts/passkey/begin/")
    r = c.post("/accounts/passkey/complete/", body, content_type="application/json")
    print("GARBAGE", body, r.status_code, r.content[:120])
