"""An app's organization-scoped sign-in (`/o/authorize/?organization=`) through an SSO-only
organization's real IdP: the SAML login allauth records must be the one the provider
recognises as that organization's, or the person would be sent round again."""

from __future__ import annotations

import json

from jwcrypto import jwt

from organizations import services as org_services
from organizations.models import Membership
from provider import keys
from provider.models import Grant
from provider.services.applications import create_application
from provider.services.keys import ensure_signing_keys
from tests.factories import UserFactory
from tests.provider.flows import Attempt, code_from, redeem
from tests.sso.conftest import saml_connection, saml_post

CALLBACK = "https://spa.example.com/cb"


def test_an_sso_only_organizations_sign_in_comes_back_from_its_idp_with_a_code(
    web, saml_idp, acme_org
):
    saml_connection(acme_org, saml_idp)
    ada = UserFactory(email="ada@acme.test")
    Membership.objects.create(organization=acme_org.org, user=ada, role="member", source="admin")
    org_services.update_policy(actor=acme_org.admin, org=acme_org.org, sso_only=True)
    ensure_signing_keys()
    app = create_application(
        actor=None,
        name="Storefront",
        kind="spa",
        redirect_uris=[CALLBACK],
        allowed_scopes=["openid", "organization"],
        first_party=True,
    ).application
    attempt = Attempt(client_id=app.client_id, redirect_uri=CALLBACK, scope="openid organization")

    to_idp = web.get(attempt.url(organization="acme"))
    assert to_idp["Location"].startswith(saml_idp.sso_url + "?"), to_idp["Location"]
    assert not Grant.objects.exists()

    back = saml_post(web, saml_idp.answer(to_idp["Location"], user="ada@acme.test"))
    assert back.status_code == 302, back.content[:500]
    assert back["Location"].startswith("/o/authorize/?")
    assert "organization=acme" in back["Location"]

    code = code_from(web.get(back["Location"]), attempt)
    body = redeem(web, attempt, code).json()
    claims = json.loads(jwt.JWT(jwt=body["id_token"], key=keys.public_keyset()).claims)
    assert claims["sub"] == str(ada.public_id)
    assert claims["org_slug"] == "acme"
    assert "fed" in claims["amr"]
