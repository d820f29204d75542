"""Sign-in and sign-up with the OpenID kinds (Google, Microsoft, any OpenID provider) against the
real oidc-provider on loopback: PKCE S256 and a nonce, the provider's email_verified trusted,
Microsoft's address never trusted without a verification claim, the consent boxes before the
account exists, and failed checks refused on the record."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from audit.models import AuditEvent
from consent.models import ConsentEvent
from tests.consent.conftest import publish
from tests.social.conftest import (
    HOST,
    browser,
    consent_boxes,
    session_user,
    sign_in,
    start,
)

SIGNUP = "/accounts/3rdparty/signup/"


def test_google_sign_up_asks_the_consent_boxes_then_creates_a_verified_account(web, idp, google):
    publish("terms")
    publish("privacy")

    back = sign_in(web, idp, google, "new-sub")

    assert back.status_code == 302
    assert back["Location"] == SIGNUP
    assert not User.objects.filter(email="newcomer@example.com").exists()
    page = web.get(SIGNUP).content.decode()
    assert 'name="consent_terms"' in page
    assert 'name="consent_privacy"' in page
    refused = web.post(SIGNUP, {"email": "newcomer@example.com"})
    assert refused.status_code == 200
    assert b"Accept the terms" in refused.content or b"Accept the" in refused.content
    assert not User.objects.filter(email="newcomer@example.com").exists()

    done = web.post(SIGNUP, {"email": "newcomer@example.com", **consent_boxes()})

    assert done.status_code == 302, done.content[:1000]
    user = User.objects.get(email="newcomer@example.com")
    assert session_user(web) == user
    assert EmailAddress.objects.get(user=user).verified  # Google said email_verified
    identity = SocialAccount.objects.get(user=user)
    assert (identity.provider, identity.uid) == ("social.google", "new-sub")
    assert set(ConsentEvent.objects.filter(user=user).values_list("purpose__key", flat=True)) == {
        "terms",
        "privacy",
    }
    assert AuditEvent.objects.filter(action="social.user_created", actor=user).exists()
    assert AuditEvent.objects.filter(action="social.login_succeeded", actor=user).exists()


def test_the_authorize_request_carries_pkce_s256_and_a_nonce_the_id_token_returns(web, idp, google):
    begun = start(web, google)
    query = parse_qs(urlsplit(begun["Location"]).query)

    assert begun["Location"].startswith(idp.issuer)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == [f"http://{HOST}/accounts/social.google/login/callback/"]
    back = urlsplit(idp.authorize(begun["Location"], "new-sub"))
    web.get(f"{back.path}?{back.query}")
    web.post(SIGNUP, {"email": "newcomer@example.com"})
    identity = SocialAccount.objects.get(provider="social.google")
    assert identity.extra_data["id_token"]["nonce"] == query["nonce"][0]


def test_an_identity_already_linked_signs_in(web, idp, acme_oidc):
    sign_in(web, idp, acme_oidc, "new-sub")
    web.post(SIGNUP, {"email": "newcomer@example.com"})
    user = User.objects.get(email="newcomer@example.com")

    again = browser()
    back = sign_in(again, idp, acme_oidc, "new-sub")

    assert back.status_code == 302
    assert back["Location"] != SIGNUP
    assert session_user(again) == user
    assert SocialAccount.objects.filter(user=user).count() == 1


def test_an_unverified_new_address_must_be_verified_by_email(web, idp, google, mailoutbox):
    sign_in(web, idp, google, "fresh-unverified-sub")

    done = web.post(SIGNUP, {"email": "fresh@example.com"})

    assert done.status_code == 302
    assert "confirm-email" in done["Location"] or "verify" in done["Location"]
    user = User.objects.get(email="fresh@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert session_user(web) is None


def test_microsoft_address_without_a_verification_claim_is_not_trusted(web, idp, microsoft):
    back = sign_in(web, idp, microsoft, "ms-sub")
    assert back["Location"] == SIGNUP

    web.post(SIGNUP, {"email": "grace@contoso.example"})

    user = User.objects.get(email="grace@contoso.example")
    assert not EmailAddress.objects.get(user=user).verified
    identity = SocialAccount.objects.get(user=user)
    assert identity.extra_data["id_token"]["tid"] == "9188040d-6c67-4c5b-b112-36a304b66dad"


def test_a_forged_state_is_refused(web, idp, google):
    start(web, google)

    response = web.get("/accounts/social.google/login/callback/?code=abc&state=forged")

    assert response.status_code == 403
    assert not User.objects.exists()
    refused = AuditEvent.objects.get(action="social.login_failed")
    assert refused.data["check"] == "state"
    assert refused.data["provider"] == "google"


def test_a_replayed_callback_is_refused(web, idp, google):
    begun = start(web, google)
    back = urlsplit(idp.authorize(begun["Location"], "new-sub"))
    assert web.get(f"{back.path}?{back.query}").status_code == 302

    thief = browser()
    stolen = thief.get(f"{back.path}?{back.query}")

    assert stolen.status_code == 403
    assert session_user(thief) is None
    assert AuditEvent.objects.filter(action="social.login_failed", data__check="state").exists()


def test_a_disabled_provider_refuses_to_start(web, google):
    google.enabled = False
    google.save()

    response = web.post("/accounts/social.google/login/", {"process": "login"})

    assert response.status_code == 404
    assert b"not available" in response.content


def test_an_unknown_provider_is_a_clear_404(web):
    response = web.post("/accounts/social.nothing/login/", {"process": "login"})
    assert response.status_code == 404
