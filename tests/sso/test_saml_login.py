"""SAML sign-in through an organization's connection, against samlify on loopback: SP- and
IdP-initiated login, certificate rotation, encrypted assertions, metadata, connection status."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qs, urlsplit

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from organizations.models import Membership
from sso import services
from sso.models import IdPCertificate
from tests.sso.conftest import (
    HOST,
    assert_refused,
    browser,
    saml_connection,
    saml_login,
    saml_post,
    saml_start,
    session_user,
)


def test_sp_initiated_login_creates_the_account_and_membership(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, role_mapping={"engineering": "admin"})

    response = saml_login(web, saml_idp, connection, user="ada@acme.test", groups="engineering")

    assert response.status_code == 302, response.content[:2000]
    assert response["Location"] == "/account/"
    user = User.objects.get(email="ada@acme.test")
    assert session_user(web) == user
    assert EmailAddress.objects.get(user=user).verified
    assert not user.has_usable_password()
    identity = SocialAccount.objects.get(user=user)
    assert (identity.provider, identity.uid) == (connection.slug, "ada@acme.test")
    membership = Membership.objects.get(organization=acme_org.org, user=user)
    assert (membership.role, membership.source) == ("admin", "sso")
    assert AuditEvent.objects.filter(action="sso.login_succeeded", actor=user).exists()


def test_the_authn_request_is_signed_and_next_is_kept_only_when_safe(web, saml):
    location = saml_start(web, saml, next_url="https://evil.test/")

    query = parse_qs(urlsplit(location).query)
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    assert query["Signature"]
    states = web.session["socialaccount_states"]
    assert all(state[0].get("next") is None for state in states.values())


def test_idp_initiated_login_is_refused_by_default(web, saml_idp, saml):
    answer = saml_idp.unsolicited(saml.sp_entity_id, user="ada@acme.test")

    response = saml_post(web, answer)

    assert_refused(web, response, saml, "idp_initiated_disabled")
    assert not User.objects.filter(email="ada@acme.test").exists()


def test_idp_initiated_login_works_when_the_org_turns_it_on(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, allow_idp_initiated=True)
    answer = saml_idp.unsolicited(
        connection.sp_entity_id, user="ada@acme.test", RelayState="/account/security/"
    )

    response = saml_post(web, answer)

    assert response.status_code == 302, response.content[:1000]
    assert response["Location"] == "/account/security/"
    assert session_user(web) == User.objects.get(email="ada@acme.test")


def test_an_idp_initiated_response_replayed_in_another_browser_is_refused(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, allow_idp_initiated=True)
    answer = saml_idp.unsolicited(connection.sp_entity_id, user="ada@acme.test")
    assert saml_post(web, answer).status_code == 302
    thief = browser()

    response = saml_post(thief, answer)

    assert_refused(thief, response, connection, "replayed")
    assert session_user(web) is not None  # the first browser is untouched


def test_an_idp_initiated_relay_state_off_site_is_dropped(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, allow_idp_initiated=True)
    answer = saml_idp.unsolicited(
        connection.sp_entity_id, user="ada@acme.test", RelayState="https://evil.test/"
    )

    response = saml_post(web, answer)

    assert response.status_code == 302
    assert not response["Location"].startswith("https://evil.test")
    assert session_user(web) is not None


def test_a_rotated_certificate_works_once_it_is_on_the_connection(web, saml_idp, saml, acme_org):
    refused = saml_login(web, saml_idp, saml, user="ada@acme.test", key="idp2")
    assert_refused(web, refused, saml, "invalid_signature")

    services.add_certificate(
        actor=acme_org.admin, org=acme_org.org, connection_id=saml.pk, pem=saml_idp.cert("idp2")
    )
    response = saml_login(web, saml_idp, saml, user="ada@acme.test", key="idp2")

    assert response.status_code == 302, response.content[:1000]
    assert session_user(web) is not None
    # The old certificate keeps working during the rotation.
    other = browser()
    assert saml_login(other, saml_idp, saml, user="ada@acme.test").status_code == 302
    assert session_user(other) is not None


def test_metadata_with_two_signing_certificates_accepts_both(web, saml_idp, saml, acme_org):
    services.import_metadata(
        actor=acme_org.admin,
        org=acme_org.org,
        connection_id=saml.pk,
        xml=saml_idp.metadata(certs="idp,idp2"),
    )
    assert saml.certificates.count() == 2

    response = saml_login(web, saml_idp, saml, user="ada@acme.test", key="idp2")

    assert response.status_code == 302, response.content[:1000]
    assert session_user(web) is not None


def test_an_encrypted_assertion_is_decrypted_with_the_connections_key(web, saml_idp, saml):
    answer = saml_idp.answer(saml_start(web, saml), user="ada@acme.test", encrypt="1")
    assert b"EncryptedAssertion" in base64.b64decode(answer["SAMLResponse"])

    response = saml_post(web, answer)

    assert response.status_code == 302, response.content[:1000]
    assert session_user(web) == User.objects.get(email="ada@acme.test")


def test_sp_metadata_is_xml_with_our_certificate_and_endpoints(web, saml):
    response = web.get(f"/accounts/saml/{saml.slug}/metadata/")

    assert response.status_code == 200
    assert "xml" in response["Content-Type"]
    xml = response.content.decode()
    body = "".join(saml.sp_certificate.strip().splitlines()[1:-1])
    assert body in xml
    assert f'entityID="{saml.sp_entity_id}"' in xml
    assert f"http://{HOST}/accounts/saml/{saml.slug}/acs/" in xml
    assert f"http://{HOST}/accounts/saml/{saml.slug}/sls/" in xml
    assert 'AuthnRequestsSigned="true"' in xml
    assert 'WantAssertionsSigned="true"' in xml
    assert 'use="signing"' in xml
    assert 'use="encryption"' in xml
    assert "PRIVATE KEY" not in xml


def test_a_draft_connection_serves_metadata_but_refuses_login(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, status="draft")

    assert web.get(f"/accounts/saml/{connection.slug}/metadata/").status_code == 200
    start = web.post(f"/accounts/saml/{connection.slug}/login/")
    assert start.status_code == 404
    assert "socialaccount_states" not in web.session


def test_a_draft_connection_refuses_a_response_too(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, status="draft", allow_idp_initiated=True)
    answer = saml_idp.unsolicited(connection.sp_entity_id, user="ada@acme.test")

    response = saml_post(web, answer)

    assert response.status_code == 404
    assert session_user(web) is None
    assert not User.objects.filter(email="ada@acme.test").exists()


def test_a_disabled_connection_refuses_login(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, allow_idp_initiated=True)
    pending = saml_idp.answer(saml_start(web, connection), user="ada@acme.test")
    services.disable(actor=acme_org.admin, org=acme_org.org, connection_id=connection.pk)

    assert web.post(f"/accounts/saml/{connection.slug}/login/").status_code == 404
    response = saml_post(web, pending)  # a login started before it was turned off

    assert response.status_code == 404
    assert session_user(web) is None
    assert not User.objects.filter(email="ada@acme.test").exists()


def test_an_unknown_connection_is_a_404(web):
    assert web.get("/accounts/saml/nope/metadata/").status_code == 404
    assert web.post("/accounts/saml/nope/login/").status_code == 404


def test_the_connected_accounts_page_lists_sso_identities(web, saml_idp, saml, oidc_idp, acme_org):
    import time

    from tests.sso.conftest import oidc_connection, oidc_login

    oidc = oidc_connection(acme_org, oidc_idp)
    saml_login(web, saml_idp, saml, user="ada@acme.test")
    oidc_login(web, oidc_idp, oidc)  # linked: same verified address
    assert SocialAccount.objects.filter(user__email="ada@acme.test").count() == 2
    # The page asks for a fresh confirmation first; as if an emailed code had just been used.
    session = web.session
    session["account_authentication_methods"].append({"method": "code", "at": time.time()})
    session.save()

    response = web.get("/accounts/3rdparty/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Okta" in page
    assert "Entra ID" in page


def test_an_expired_idp_certificate_signs_nothing_gatehouse_accepts(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    services.add_certificate(
        actor=acme_org.admin,
        org=acme_org.org,
        connection_id=connection.pk,
        pem=saml_idp.cert("idp2"),
    )
    old = connection.certificates.exclude(subject__contains="idp2").get()
    IdPCertificate.objects.filter(pk=old.pk).update(not_after=timezone.now() - dt.timedelta(days=1))

    response = saml_login(web, saml_idp, connection, user="ada@acme.test")  # signed by the old key

    assert_refused(web, response, connection, "invalid_signature")
    assert not User.objects.filter(email="ada@acme.test").exists()
    response = saml_login(web, saml_idp, connection, user="ada@acme.test", key="idp2")
    assert response.status_code == 302


def test_with_every_certificate_expired_sign_in_is_refused_by_name(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    connection.certificates.update(not_after=timezone.now() - dt.timedelta(days=1))

    response = web.post(f"/accounts/saml/{connection.slug}/login/")

    assert_refused(web, response, connection, "configuration")
