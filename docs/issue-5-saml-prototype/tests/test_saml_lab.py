"""LAB: allauth's SAML provider fed from sso.Connection, against samlify on loopback."""

from __future__ import annotations

import urllib.parse

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from organizations.models import Organization
from sso.models import Connection
from tests.sso.saml_idp import IDP_DIR, SamlIdP


@pytest.fixture(scope="module")
def idp():
    server = SamlIdP()
    yield server
    server.close()


HOST = "id.gatehouse.test"


@pytest.fixture
def client(settings):
    settings.ALLOWED_HOSTS = [HOST]
    return Client(HTTP_HOST=HOST)


@pytest.fixture
def conn(idp):
    org = Organization.objects.create(name="Acme", slug="acme")
    c = Connection.objects.create(
        organization=org, slug="acme", name="Acme Okta", status="active",
        idp_entity_id=idp.entity_id, idp_sso_url=idp.sso_url,
        idp_certificates=[idp.cert("idp")],
        sp_private_key=(IDP_DIR / "sp.key").read_text(),
        sp_certificate=(IDP_DIR / "sp.crt").read_text(),
        verified_domains=["acme.test"],
    )
    return c


def sp_metadata(client: Client, slug: str = "acme") -> bytes:
    r = client.get(f"/accounts/saml/{slug}/metadata/")
    assert r.status_code == 200, r.content[:500]
    assert r["Content-Type"].startswith("text/xml")
    return r.content


def start_login(client: Client, slug: str = "acme", next_url: str = "/account/") -> str:
    r = client.post(f"/accounts/saml/{slug}/login/", {"next": next_url})
    assert r.status_code == 302, r.content[:300]
    return r["Location"]


def post_to_acs(client: Client, answer: dict, slug: str = "acme"):
    acs = urllib.parse.urlparse(answer["acs"]).path
    assert acs == f"/accounts/saml/{slug}/acs/", acs
    data = {"SAMLResponse": answer["SAMLResponse"]}
    if answer.get("RelayState"):
        data["RelayState"] = answer["RelayState"]
    r = client.post(acs, data)
    assert r.status_code == 302 and r["Location"] == f"/accounts/saml/{slug}/acs/finish/"
    return client.get(r["Location"])


def test_metadata_is_xml(conn, client):
    xml = sp_metadata(client).decode()
    assert "EntityDescriptor" in xml and 'AuthnRequestsSigned="true"' in xml
    assert 'WantAssertionsSigned="true"' in xml
    assert f"http://{HOST}/accounts/saml/acme/acs/" in xml
    print(xml)


def test_sp_initiated_login_ends_in_session(conn, idp, client):
    idp.register_sp(sp_metadata(client))
    answer = idp.answer(start_login(client), user="ada@acme.test")
    r = post_to_acs(client, answer)
    print(r.status_code, r.get("Location"))
    assert r.status_code == 302 and r["Location"] == "/account/", r.content[:2000]
    user = get_user_model().objects.get(email="ada@acme.test")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert user.emailaddress_set.get().verified


def outcome(r) -> str:
    if r.status_code == 302:
        return f"302 -> {r['Location']}"
    body = r.content.decode(errors="replace")
    import re

    title = re.search(r"<title>(.*?)</title>", body, re.S)
    return f"{r.status_code} {title.group(1).strip() if title else body[:120]!r}"


CASES = ["no_nameid", "unsigned", "tampered", "attacker_key", "wrong_audience", "no_audience", "expired",
         "not_yet_valid", "wrong_destination", "sha1", "xsw"]


@pytest.mark.parametrize("case", CASES)
def test_adversarial(case, conn, idp, client, caplog):
    idp.register_sp(sp_metadata(client))
    answer = idp.answer(start_login(client), user="ada@acme.test", case=case)
    r = post_to_acs(client, answer)
    errors = [rec.getMessage() for rec in caplog.records if rec.levelname == "ERROR"]
    print(f"\nCASE {case}: {outcome(r)} | {errors[-1:] if errors else ''}")
    assert "_auth_user_id" not in client.session
    assert r.status_code != 500


def test_replay_same_session(conn, idp, client, caplog):
    idp.register_sp(sp_metadata(client))
    answer = idp.answer(start_login(client), user="ada@acme.test")
    assert post_to_acs(client, answer).status_code == 302
    client.logout()
    r = post_to_acs(client, answer)
    print(f"\nREPLAY same browser after logout: {outcome(r)}")
    assert "_auth_user_id" not in client.session


def test_replay_other_browser(conn, idp, client, caplog):
    idp.register_sp(sp_metadata(client))
    answer = idp.answer(start_login(client), user="ada@acme.test")
    thief = Client(HTTP_HOST=HOST)
    r = post_to_acs(thief, answer)
    print(f"\nREPLAY stolen response, other browser: {outcome(r)}")
    assert "_auth_user_id" not in thief.session


def test_idp_initiated_rejected_by_default(conn, idp, client, caplog):
    entity = idp.register_sp(sp_metadata(client))
    r = post_to_acs(client, idp.unsolicited(entity, user="ada@acme.test"))
    print(f"\nIDP-INITIATED (off): {outcome(r)} {[x.getMessage() for x in caplog.records][-1:]}")
    assert "_auth_user_id" not in client.session


def test_idp_initiated_allowed_is_replayable(conn, idp, client):
    conn.allow_idp_initiated = True
    conn.save()
    entity = idp.register_sp(sp_metadata(client))
    answer = idp.unsolicited(entity, user="ada@acme.test", RelayState="/account/security/")
    r = post_to_acs(client, answer)
    print(f"\nIDP-INITIATED (on): {outcome(r)}")
    assert "_auth_user_id" in client.session
    thief = Client(HTTP_HOST=HOST)
    r = post_to_acs(thief, answer)
    print(f"IDP-INITIATED replay in another browser: {outcome(r)} logged_in={'_auth_user_id' in thief.session}")


def test_response_for_other_orgs_connection(conn, idp, client):
    org_b = Organization.objects.create(name="Beta", slug="beta")
    Connection.objects.create(
        organization=org_b, slug="beta", name="Beta", status="active",
        idp_entity_id=idp.entity_id, idp_sso_url=idp.sso_url,  # same IdP and cert (worst case)
        idp_certificates=[idp.cert("idp")],
        sp_private_key=conn.sp_private_key, sp_certificate=conn.sp_certificate,
        verified_domains=["beta.test"],
    )
    idp.register_sp(sp_metadata(client))
    idp.register_sp(sp_metadata(client, "beta"))
    answer = idp.answer(start_login(client, "acme"), user="ada@acme.test")
    answer["acs"] = answer["acs"].replace("/acme/", "/beta/")
    r = post_to_acs(client, answer, slug="beta")
    print(f"\nACME response at BETA's ACS: {outcome(r)}")
    assert "_auth_user_id" not in client.session


def test_rotation_second_certificate_accepted(conn, idp, client):
    conn.idp_certificates = [idp.cert("idp"), idp.cert("idp2")]
    conn.save()
    idp.register_sp(sp_metadata(client))
    r = post_to_acs(client, idp.answer(start_login(client), user="ada@acme.test", key="idp2"))
    print(f"\nROTATION (signed by 2nd cert): {outcome(r)}")
    assert r.status_code == 302 and "_auth_user_id" in client.session


@pytest.mark.parametrize("ours", [False, True])
def test_unsigned_logout_request(conn, idp, client, ours, settings):
    conn.idp_slo_url = idp.base + "/slo"
    conn.save()
    if not ours:
        settings.ROOT_URLCONF = "tests.sso.stock_urls"
    import base64
    import zlib

    idp.register_sp(sp_metadata(client))
    assert post_to_acs(client, idp.answer(start_login(client), user="ada@acme.test")).status_code == 302
    xml = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil1" Version="2.0" '
        'IssueInstant="2026-11-21T00:00:00Z">'
        f"<saml:Issuer>{idp.entity_id}</saml:Issuer><saml:NameID>ada@acme.test</saml:NameID>"
        "</samlp:LogoutRequest>"
    )
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    req = base64.b64encode(c.compress(xml.encode()) + c.flush()).decode()
    r = client.get("/accounts/saml/acme/sls/", {"SAMLRequest": req})
    print(f"\nUNSIGNED LogoutRequest via GET: {outcome(r)} still_logged_in={'_auth_user_id' in client.session}")


def test_signed_logout_request_logs_out(conn, idp, client):
    import json
    import urllib.request

    conn.idp_slo_url = idp.base + "/slo"
    conn.save()
    entity = idp.register_sp(sp_metadata(client))
    assert post_to_acs(client, idp.answer(start_login(client), user="ada@acme.test")).status_code == 302
    with urllib.request.urlopen(f"{idp.base}/logout-request?" + urllib.parse.urlencode({"sp": entity, "user": "ada@acme.test"})) as f:
        url = json.load(f)["url"]
    print("\nIdP LogoutRequest URL has Signature:", "Signature=" in url)
    r = client.get(urllib.parse.urlparse(url).path + "?" + urllib.parse.urlparse(url).query)
    print(f"SIGNED LogoutRequest: {outcome(r)[:80]} still_logged_in={'_auth_user_id' in client.session}")
    assert r.status_code == 302 and "_auth_user_id" not in client.session


JUNK = {
    "not_base64": "!!!***",
    "not_xml": "bm90IHhtbA==",
    "dtd": __import__("base64").b64encode(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" Version="2.0">&x;</samlp:Response>'
    ).decode(),
    "empty": "",
}


@pytest.mark.parametrize("ours", [False, True])
@pytest.mark.parametrize("junk", list(JUNK))
def test_junk_never_500(conn, client, junk, ours, settings):
    if not ours:
        settings.ROOT_URLCONF = "tests.sso.stock_urls"
    client.raise_request_exception = False
    r = client.post("/accounts/saml/acme/acs/", {"SAMLResponse": JUNK[junk]})
    r = client.get(r["Location"])
    print(f"\nJUNK {junk} {'ours' if ours else 'stock'}: {outcome(r)}")


def test_existing_local_account_same_email(conn, idp, client):
    from tests.factories import UserFactory

    UserFactory(email="ada@acme.test")  # verified local account
    idp.register_sp(sp_metadata(client))
    r = post_to_acs(client, idp.answer(start_login(client), user="ada@acme.test"))
    from allauth.socialaccount.models import SocialAccount
    from django.core import mail
    print(f"\nEXISTING local account, same email: {outcome(r)} logged_in={'_auth_user_id' in client.session} "
          f"users={get_user_model().objects.filter(email__iexact='ada@acme.test').count()} "
          f"socialaccounts={SocialAccount.objects.count()} mails={[m.subject for m in mail.outbox]}")


def test_email_outside_verified_domains(conn, idp, client, mailoutbox):
    idp.register_sp(sp_metadata(client))
    r = post_to_acs(client, idp.answer(start_login(client), user="eve@gmail.test"))
    print(f"\nEMAIL outside verified domains: {outcome(r)} logged_in={'_auth_user_id' in client.session} mails={len(mailoutbox)}")


def test_show_authn_request(conn, idp, client):
    import base64
    import zlib

    loc = start_login(client, next_url="https://evil.test/")
    q = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query, keep_blank_values=True)
    print("\nAUTHN redirect params:", sorted(q), "RelayState=", q.get("RelayState"))
    print(zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15).decode()[:600])
    print("session states:", {k: v[0] for k, v in client.session["socialaccount_states"].items()})


def test_encrypted_assertion(conn, idp, client, settings):
    from sso import adapter

    orig = adapter.saml_app

    def with_encryption(c):
        app = orig(c)
        app.settings["advanced"]["want_assertion_encrypted"] = True
        return app

    adapter.saml_app = with_encryption
    try:
        md = sp_metadata(client)
        assert b'use="encryption"' in md
        idp.register_sp(md)
        answer = idp.answer(start_login(client), user="ada@acme.test", encrypt="1")
        xml = __import__("base64").b64decode(answer["SAMLResponse"])
        print("\nENCRYPTED response contains EncryptedAssertion:", b"EncryptedAssertion" in xml, b"aes256-gcm" in xml)
        r = post_to_acs(client, answer)
        print(f"ENCRYPTED assertion: {outcome(r)} logged_in={'_auth_user_id' in client.session}")
    finally:
        adapter.saml_app = orig
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize("want_name_id", [False, True])
def test_no_nameid_stock(conn, idp, client, settings, want_name_id):
    from sso import adapter

    settings.ROOT_URLCONF = "tests.sso.stock_urls"
    client.raise_request_exception = False
    orig = adapter.saml_app

    def patched(c):
        app = orig(c)
        app.settings["advanced"]["want_name_id"] = want_name_id
        return app

    adapter.saml_app = patched
    try:
        idp.register_sp(sp_metadata(client))
        r = post_to_acs(client, idp.answer(start_login(client), user="ada@acme.test", case="no_nameid"))
    finally:
        adapter.saml_app = orig
    print(f"\nNO NameID, stock allauth, want_name_id={want_name_id}: {outcome(r)}")
