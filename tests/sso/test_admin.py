"""Support staff look SSO connections up in the Django admin: read-only, and no secrets."""

from __future__ import annotations

from django.test import Client

from config import encryption
from sso import services
from sso.models import Connection
from tests.conftest import force_login_verified
from tests.factories import UserFactory
from tests.sso.builders import HOST, org_with_domain, request, saml_connection

SECRET = "oidc-client-secret-for-the-admin-test"


def test_support_finds_a_connection_and_sees_no_secrets(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    acme, acme_owner = org_with_domain("acme", "acme.test")
    beta, beta_owner = org_with_domain("beta", "beta.test")
    saml = saml_connection(acme, acme_owner, name="Okta")
    oidc = services.create_connection(
        actor=beta_owner,
        org=beta,
        site_url=request().build_absolute_uri("/"),
        protocol="oidc",
        name="Entra ID",
    )
    # Set directly: the service would fetch a discovery document first.
    Connection.objects.filter(pk=oidc.pk).update(
        client_id="beta-client", client_secret_encrypted=encryption.encrypt(SECRET)
    )
    oidc.refresh_from_db()
    staff = force_login_verified(Client(), UserFactory(is_staff=True, is_superuser=True))

    listing = "/admin/sso/connection/"
    for query, found in (
        ({"q": "Okta"}, [saml.slug]),
        ({"q": saml.slug}, [saml.slug]),
        ({"q": "beta"}, [oidc.slug]),
        ({"protocol__exact": "oidc"}, [oidc.slug]),
        ({"status__exact": "active"}, [saml.slug]),
    ):
        response = staff.get(listing, query)
        assert response.status_code == 200, query
        assert [c.slug for c in response.context["cl"].result_list] == found, query

    page = staff.get(f"/admin/sso/connection/{saml.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert saml.idp_entity_id in text
    assert "acme.test" in text
    assert saml.certificates.get().fingerprint_sha256 in text  # the certificates inline
    assert "PRIVATE KEY" not in text
    assert saml.sp_private_key_encrypted not in text
    assert 'name="name"' not in text  # read-only

    text = staff.get(f"/admin/sso/connection/{oidc.pk}/change/").content.decode()
    assert "beta-client" in text
    assert SECRET not in text
    assert oidc.client_secret_encrypted not in text

    # No rebuilding a secret through URL filters, no changes, no deletes.
    for lookup, value in (
        ("client_secret_encrypted__startswith", oidc.client_secret_encrypted[:6]),
        ("sp_private_key_encrypted__startswith", saml.sp_private_key_encrypted[:6]),
    ):
        assert staff.get(listing, {lookup: value}).status_code == 400
    assert staff.post(f"/admin/sso/connection/{saml.pk}/change/", {"name": "X"}).status_code == 403
    assert staff.post(f"/admin/sso/connection/{saml.pk}/delete/").status_code == 403
    assert staff.get("/admin/sso/connection/add/").status_code == 403
    saml.refresh_from_db()
    assert saml.name == "Okta"
