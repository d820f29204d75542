"""Single logout started by the IdP: only a signed LogoutRequest, and only for the session that
came in through that connection as the person it names."""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

from audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sso.conftest import browser, saml_connection, saml_login, session_user


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def signed_in(web, saml_idp, connection, user: str = "ada@acme.test"):
    assert saml_login(web, saml_idp, connection, user=user).status_code == 302
    assert session_user(web) is not None


def test_a_signed_logout_request_ends_the_session_from_that_connection(web, saml_idp, saml):
    signed_in(web, saml_idp, saml)
    user = session_user(web)
    url = saml_idp.logout_request(saml.sp_entity_id, "ada@acme.test")
    assert "Signature=" in url

    response = web.get(local(url))

    assert response.status_code == 302
    # Back to the IdP with our own signed LogoutResponse.
    assert response["Location"].startswith(saml_idp.slo_url + "?")
    assert "Signature" in parse_qs(urlsplit(response["Location"]).query)
    assert session_user(web) is None
    assert AuditEvent.objects.filter(action="sso.logout", actor=user).exists()


def test_a_logout_request_leaves_a_password_session_alone(web, saml_idp, saml):
    # Same person, same browser, but this session came in by password.
    signed_in(browser(), saml_idp, saml)
    from allauth.account.models import EmailAddress

    from accounts.models import User

    ada = User.objects.get(email="ada@acme.test")
    ada.set_password("a long enough password 123")
    ada.save()
    assert EmailAddress.objects.get(user=ada).verified
    login = web.post(
        "/accounts/login/", {"login": "ada@acme.test", "password": "a long enough password 123"}
    )
    assert login.status_code == 302
    assert session_user(web) == ada

    response = web.get(local(saml_idp.logout_request(saml.sp_entity_id, "ada@acme.test")))

    assert response.status_code == 302
    assert session_user(web) == ada


def test_a_logout_request_for_someone_else_leaves_the_session_alone(web, saml_idp, saml):
    signed_in(web, saml_idp, saml, user="ada@acme.test")

    web.get(local(saml_idp.logout_request(saml.sp_entity_id, "bob@acme.test")))

    assert session_user(web) is not None


def test_a_logout_request_from_another_connection_leaves_the_session_alone(
    web, saml_idp, saml, beta_org
):
    beta = saml_connection(beta_org, saml_idp)
    signed_in(web, saml_idp, saml)

    response = web.get(
        local(saml_idp.logout_request(beta.sp_entity_id, "ada@acme.test")).replace(
            f"/{saml.slug}/", f"/{beta.slug}/"
        )
    )

    assert response.status_code == 302
    assert session_user(web) is not None


def unsigned_logout_request(issuer: str, name_id: str) -> str:
    xml = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_forged" Version="2.0" '
        'IssueInstant="2026-01-01T00:00:00Z">'
        f"<saml:Issuer>{issuer}</saml:Issuer><saml:NameID>{name_id}</saml:NameID>"
        "</samlp:LogoutRequest>"
    )
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(deflate.compress(xml.encode()) + deflate.flush()).decode()


def test_an_unsigned_logout_request_is_refused(web, saml_idp, saml):
    signed_in(web, saml_idp, saml)

    response = web.get(
        f"/accounts/saml/{saml.slug}/sls/",
        {"SAMLRequest": unsigned_logout_request(saml_idp.entity_id, "ada@acme.test")},
    )

    assert response.status_code == 400
    assert session_user(web) is not None


def test_a_tampered_logout_request_is_refused(web, saml_idp, saml):
    signed_in(web, saml_idp, saml)
    url = saml_idp.logout_request(saml.sp_entity_id, "ada@acme.test")
    query = parse_qs(urlsplit(url).query)
    query["SAMLRequest"] = [unsigned_logout_request(saml_idp.entity_id, "ada@acme.test")]

    response = web.get(f"/accounts/saml/{saml.slug}/sls/", {k: v[0] for k, v in query.items()})

    assert response.status_code == 400
    assert session_user(web) is not None


def test_logout_junk_is_a_400_not_a_500(web, saml):
    for junk in ("!!!", base64.b64encode(b"not deflated").decode(), ""):
        response = web.get(f"/accounts/saml/{saml.slug}/sls/", {"SAMLRequest": junk})
        assert response.status_code == 400, junk
    assert web.get(f"/accounts/saml/{saml.slug}/sls/").status_code == 400


def test_logout_request_for_a_person_without_a_session_is_answered(web, saml_idp, saml):
    UserFactory(email="someone@acme.test")

    response = web.get(local(saml_idp.logout_request(saml.sp_entity_id, "someone@acme.test")))

    assert response.status_code == 302
    assert response["Location"].startswith(saml_idp.slo_url + "?")


def test_signing_out_at_gatehouse_signs_out_at_the_idp(web, saml_idp, saml):
    import requests

    signed_in(web, saml_idp, saml)

    response = web.post("/accounts/logout/")

    assert session_user(web) is None
    assert response.status_code == 302
    assert response["Location"].startswith(saml_idp.slo_url + "?")
    # samlify checks our signature and reads whom we named.
    answer = requests.get(response["Location"], timeout=10)
    assert answer.status_code == 200, answer.text
    named = answer.json()
    assert named["nameID"] == "ada@acme.test"
    assert named["sessionIndex"].startswith("_session")
    assert named["issuer"] == saml.sp_entity_id
    # The IdP's signed LogoutResponse ends the round trip at our SLS, and goes no further.
    done = web.get(local(named["responseUrl"]))
    assert done.status_code == 302, done.content[:500]
    assert not done["Location"].startswith(saml_idp.base)


def test_a_logout_response_does_not_send_a_signed_in_browser_back_to_the_idp(web, saml_idp, saml):
    import requests

    signed_in(web, saml_idp, saml)
    leaving = browser()
    signed_in(leaving, saml_idp, saml)
    named = requests.get(leaving.post("/accounts/logout/")["Location"], timeout=10).json()

    # The answer meant for the other browser reaches this one, still signed in through SAML.
    response = web.get(local(named["responseUrl"]))

    assert response.status_code == 302
    assert not response["Location"].startswith(saml_idp.base)
    assert session_user(web) is not None


def test_signing_out_of_a_password_session_does_not_involve_the_idp(web, saml_idp, saml):
    UserFactory(email="bob@acme.test")
    web.post("/accounts/login/", {"login": "bob@acme.test", "password": DEFAULT_PASSWORD})
    assert session_user(web) is not None

    response = web.post("/accounts/logout/")

    assert session_user(web) is None
    assert not response["Location"].startswith(saml_idp.base)


def test_a_logout_request_is_honoured_once(web, saml_idp, saml):
    signed_in(web, saml_idp, saml)
    url = local(saml_idp.logout_request(saml.sp_entity_id, "ada@acme.test"))
    assert web.get(url).status_code == 302
    assert session_user(web) is None

    # Signed in again, the same captured request (a link someone is made to open) does nothing.
    signed_in(web, saml_idp, saml)
    replayed = web.get(url)

    assert replayed.status_code == 400
    assert session_user(web) is not None
    refused = AuditEvent.objects.get(action="sso.logout_refused")
    assert refused.organization_id == saml.organization_id
    assert refused.data["check"] == "replayed_or_stale"


def test_a_stale_logout_request_is_refused(web, saml_idp, saml, monkeypatch):
    from sso.saml import views

    signed_in(web, saml_idp, saml)
    url = local(saml_idp.logout_request(saml.sp_entity_id, "ada@acme.test"))
    monkeypatch.setattr(views, "LOGOUT_REQUEST_MAX_AGE", -600)  # as if issued long ago

    assert web.get(url).status_code == 400
    assert session_user(web) is not None
    assert AuditEvent.objects.get(action="sso.logout_refused").data["check"] == "replayed_or_stale"


def test_refused_logout_messages_are_on_record(web, saml_idp, saml):
    signed_in(web, saml_idp, saml)
    web.get(
        f"/accounts/saml/{saml.slug}/sls/",
        {"SAMLRequest": unsigned_logout_request(saml_idp.entity_id, "ada@acme.test")},
    )
    web.get(f"/accounts/saml/{saml.slug}/sls/", {"SAMLRequest": "!!!"})

    checks = sorted(e.data["check"] for e in AuditEvent.objects.filter(action="sso.logout_refused"))
    assert checks == ["invalid", "malformed"]
    assert all(
        e.organization_id == saml.organization_id and e.outcome == "failure"
        for e in AuditEvent.objects.filter(action="sso.logout_refused")
    )


def test_single_logout_with_no_current_idp_certificate_is_not_a_500(web, saml_idp, saml):
    saml.certificates.update(not_after=timezone.now() - dt.timedelta(days=1))
    url = saml_idp.logout_request(saml.sp_entity_id, "ada@acme.test")
    parts = urlsplit(url)

    response = web.get(f"{parts.path}?{parts.query}")

    assert 400 <= response.status_code < 500
