"""Bad input at the social login endpoints gets a clear page, never a 500, and writes nothing."""

from __future__ import annotations

import pytest

from accounts.models import User

CALLBACK = "/accounts/social.google/login/callback/"


@pytest.mark.parametrize(
    "query",
    ["", "?code=", "?state=", "?code=x&state=" + "A" * 5000, "?error=access_denied&state=zz"],
)
def test_a_callback_with_nonsense_is_refused_cleanly(web, google, query):
    response = web.get(CALLBACK + query)
    assert response.status_code in (400, 403)
    assert not User.objects.exists()


def test_a_form_post_to_the_callback_with_nonsense_is_handed_on_then_refused(web, google):
    posted = web.post(CALLBACK, {"code": "x" * 3000, "state": "\x00\ufffd", "junk": "1"})
    assert posted.status_code == 303
    assert "junk" not in posted["Location"]
    assert web.get(posted["Location"]).status_code in (400, 403)


def test_a_github_callback_with_nonsense_is_refused_cleanly(web, github_row):
    response = web.get("/accounts/social-github/login/callback/?code=x&state=nope")
    assert response.status_code in (400, 403)


def test_linking_with_no_sign_in_waiting_and_a_garbled_session_is_a_404(web):
    session = web.session
    session["social_pending_link"] = {"account": "not what allauth stored"}
    session.save()

    response = web.post("/accounts/social/link/", {"action": "link"})

    assert response.status_code == 404


def test_an_unknown_or_malformed_provider_is_a_404(web):
    assert web.post("/accounts/social.does-not-exist/login/").status_code == 404
    assert web.get("/accounts/social.bad%00id/login/").status_code == 404
