"""The SSO tab of the organization portal, through HTTP as an org admin uses it: create a
connection, give the IdP Gatehouse's values, tell Gatehouse about the IdP (metadata file or URL,
by hand, OIDC discovery), accounts and roles, certificate rotation, test, turn on and off,
delete; with the bad input each step meets. Isolation per endpoint is in
tests/organizations/test_isolation.py."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from organizations.models import Domain
from sso import certificates, services
from sso.entry import TEST_SESSION_KEY
from sso.models import Connection, IdPCertificate
from tests.factories import DEFAULT_PASSWORD
from tests.organizations.conftest import OrgWorld

HOST = "id.gatehouse.test"
IDP_ENTITY_ID = "https://idp.example.net/metadata"
IDP_SSO_URL = "https://idp.example.net/sso"


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def world(settings) -> OrgWorld:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    # The test IdP documents are served on 127.0.0.1.
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    world = OrgWorld()
    for org, name in ((world.a, "a.example"), (world.b, "b.example")):
        Domain.objects.create(
            organization=org,
            name=name,
            verification_token=Domain.new_token(),
            verified_at=timezone.now(),
        )
    return world


def signed_in(user) -> Client:
    # A dotted host: python3-saml refuses single-label ones such as "testserver".
    client = Client(HTTP_HOST=HOST)
    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


@pytest.fixture
def admin(world) -> Client:
    return signed_in(world.a_admin)


@functools.cache
def idp_certificate() -> str:
    """The IdP's signing certificate (PEM), made once: key generation is slow."""
    return certificates.new_sp_key_pair("Test IdP")[0]


@functools.cache
def second_certificate() -> str:
    return certificates.new_sp_key_pair("Test IdP, next year's key")[0]


def expired_certificate() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old IdP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def idp_metadata(pem: str | None = None, entity_id: str = IDP_ENTITY_ID) -> bytes:
    der = x509.load_pem_x509_certificate((pem or idp_certificate()).encode()).public_bytes(
        serialization.Encoding.DER
    )
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{base64.b64encode(der).decode()}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="{IDP_SSO_URL}"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="https://idp.example.net/slo"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>""".encode()


class Documents:
    """A tiny web server on 127.0.0.1 that serves fixed documents (an IdP's metadata or its
    OIDC discovery document)."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[str, bytes]] = {}
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = documents.get(self.path)
                self.send_response(200 if found else 404)
                body = found[1] if found else b"not found"
                self.send_header("Content-Type", found[0] if found else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes | dict, content_type: str = "application/json") -> str:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        self.documents[path] = (content_type, body)
        return self.base + path

    def discovery(self, issuer_path: str = "/tenant") -> str:
        """An OIDC issuer at ``issuer_path``; returns its discovery URL."""
        issuer = self.base + issuer_path
        return self.serve(
            f"{issuer_path}/.well-known/openid-configuration",
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            },
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def documents() -> Iterator[Documents]:
    server = Documents()
    yield server
    server.close()


def create(client: Client, protocol: str = "saml", name: str = "Okta") -> Connection:
    response = client.post("/orgs/acme/sso/new/", {"protocol": protocol, "name": name})
    assert response.status_code == 302, response.content[:500]
    connection = Connection.objects.filter(organization__slug="acme").latest("pk")
    assert response["Location"] == f"/orgs/acme/sso/{connection.pk}/setup/"
    return connection


def url(connection: Connection, step: str = "") -> str:
    return f"/orgs/acme/sso/{connection.pk}/{step}"


def upload(client: Client, connection: Connection, xml: bytes, name: str = "idp.xml"):
    return client.post(
        url(connection, "idp/metadata-file/"),
        {"metadata_file": SimpleUploadedFile(name, xml, content_type="application/xml")},
    )


def ready_saml(client: Client, name: str = "Okta") -> Connection:
    """A SAML connection with everything it needs to be turned on, set up through the portal."""
    connection = create(client, name=name)
    assert upload(client, connection, idp_metadata()).status_code == 302
    connection.refresh_from_db()
    return connection


def followed_text(client: Client, response) -> str:
    assert response.status_code == 302, response.content[:500]
    return client.get(response["Location"]).content.decode()


def updates(connection: Connection) -> list[dict]:
    return [
        e.data
        for e in AuditEvent.objects.filter(action="sso.connection_updated").order_by("occurred_at")
        if e.data.get("connection") == connection.slug
    ]


# --- The list and a new connection ----------------------------------------------------------------


def test_the_tab_lists_no_connection_until_one_is_created(admin):
    page = admin.get("/orgs/acme/sso/")
    assert page.status_code == 200
    assert b'id="sso-empty"' in page.content
    assert b'href="/orgs/acme/sso/new/"' in page.content


def test_admin_creates_a_saml_connection_and_gets_the_values_for_the_idp(admin, world):
    connection = create(admin, "saml", "  Okta   SSO ")
    assert connection.name == "Okta SSO"
    assert connection.status == "draft"
    assert [d.name for d in connection.domains.all()] == ["a.example"]
    assert AuditEvent.objects.filter(
        action="sso.connection_created", organization_id=world.a.pk
    ).exists()

    page = admin.get(url(connection, "setup/"))
    assert page.status_code == 200
    text = page.content.decode()
    base = f"http://{HOST}/accounts/saml/{connection.slug}"
    assert f'data-sp-value="acs_url">{base}/acs/<' in text
    assert f'data-sp-value="entity_id">{connection.sp_entity_id}<' in text
    assert connection.sp_entity_id == f"{base}/metadata/"
    assert f'data-sp-value="metadata_url">{base}/metadata/<' in text
    assert f'data-sp-value="sls_url">{base}/sls/<' in text
    assert f'href="{base}/metadata/?download=1"' in text
    for idp in ("entra", "okta", "google"):
        assert f'data-idp="{idp}"' in text
    assert "SHA-256" in text
    assert "NameID" in text
    # The SP certificate is public; its key never leaves the server.
    assert "BEGIN CERTIFICATE" in text
    assert "PRIVATE KEY" not in text
    assert connection.sp_private_key.split("\n")[1] not in text

    listing = admin.get("/orgs/acme/sso/").content.decode()
    assert f'data-connection-id="{connection.pk}" data-status="draft"' in listing
    assert "Still needs the IdP&#x27;s entity ID and sign-on URL" in listing


@pytest.mark.parametrize(
    "data",
    [{"protocol": "ldap", "name": "X"}, {"protocol": "saml", "name": ""}, {"protocol": "oidc"}],
)
def test_a_new_connection_needs_a_protocol_and_a_name(admin, data):
    response = admin.post("/orgs/acme/sso/new/", data)
    assert response.status_code == 400
    assert b"field__errors" in response.content
    assert not Connection.objects.exists()


def test_the_sso_tab_is_for_admins(world):
    member = signed_in(world.a_member)
    for path in ("/orgs/acme/sso/", "/orgs/acme/sso/new/"):
        response = member.get(path)
        assert response.status_code == 403
        assert b'id="org-error"' in response.content


def test_posts_without_a_csrf_token_are_refused(world):
    client = Client(HTTP_HOST=HOST, enforce_csrf_checks=True)
    client.force_login(world.a_admin)
    response = client.post("/orgs/acme/sso/new/", {"protocol": "saml", "name": "Okta"})
    assert response.status_code == 403
    assert not Connection.objects.exists()


# --- Step 2, SAML: metadata or by hand ------------------------------------------------------------


def test_metadata_file_fills_in_the_idp_settings_and_its_certificate(admin):
    connection = create(admin)
    response = upload(admin, connection, idp_metadata())
    assert response["Location"] == url(connection, "idp/")

    connection.refresh_from_db()
    assert connection.idp_entity_id == IDP_ENTITY_ID
    assert connection.idp_sso_url == IDP_SSO_URL
    assert connection.idp_slo_url == "https://idp.example.net/slo"
    fingerprint = certificates.read_certificate(idp_certificate()).fingerprint_sha256
    assert list(connection.certificates.values_list("fingerprint_sha256", "source")) == [
        (fingerprint, "metadata")
    ]
    assert updates(connection)[-1]["source"] == "upload"
    page = admin.get(url(connection, "idp/")).content.decode()
    assert f'value="{IDP_ENTITY_ID}"' in page  # the by-hand form shows what was read
    certs = admin.get(url(connection, "certificates/")).content.decode()
    assert fingerprint in certs
    assert "Test IdP" in certs


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("idp.txt", None, "Choose an .xml metadata file."),
        ("idp.xml", b"<x/>", "The metadata has no IdP entity ID"),
        ("idp.xml", b"not xml at all", "That is not SAML IdP metadata"),
        (
            "idp.xml",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
            "That is not SAML IdP metadata",
        ),
        ("idp.xml", b"<x>" + b" " * (1024 * 1024) + b"</x>", "larger than 1 MB"),
        ("idp.xml", b"", "The submitted file is empty."),
    ],
)
def test_a_bad_metadata_file_is_a_form_error(admin, name, content, error):
    connection = create(admin)
    response = upload(admin, connection, idp_metadata() if content is None else content, name)
    assert response.status_code == 400
    assert error in response.content.decode()
    connection.refresh_from_db()
    assert connection.idp_entity_id == ""
    assert not connection.certificates.exists()


def test_metadata_file_with_only_an_expired_certificate_is_refused(admin):
    connection = create(admin)
    response = upload(admin, connection, idp_metadata(expired_certificate()))
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    connection.refresh_from_db()
    assert connection.idp_entity_id == ""


def test_metadata_url_is_read_and_kept_for_refreshes(admin, documents):
    connection = create(admin)
    metadata_url = documents.serve("/idp/metadata", idp_metadata(), "application/samlmetadata+xml")
    response = admin.post(url(connection, "idp/metadata-url/"), {"metadata_url": metadata_url})
    assert response["Location"] == url(connection, "idp/")

    connection.refresh_from_db()
    assert connection.metadata_url == metadata_url
    assert connection.idp_entity_id == IDP_ENTITY_ID
    assert connection.certificates.count() == 1
    assert updates(connection)[-1]["source"] == "url"
    assert (
        f"Read from <code>{metadata_url}</code>"
        in admin.get(url(connection, "idp/")).content.decode()
    )


def test_the_admin_can_stop_the_refresh_and_keep_the_settings(admin, documents):
    connection = create(admin)
    metadata_url = documents.serve("/idp/metadata", idp_metadata(), "application/samlmetadata+xml")
    admin.post(url(connection, "idp/metadata-url/"), {"metadata_url": metadata_url})
    response = admin.post(url(connection, "idp/metadata-stop/"))
    assert response["Location"] == url(connection, "idp/")
    connection.refresh_from_db()
    assert connection.metadata_url == ""
    assert connection.idp_entity_id == IDP_ENTITY_ID
    assert connection.certificates.count() == 1
    assert updates(connection)[-1]["changed"] == ["metadata_url"]
    assert 'id="metadata-stop"' not in admin.get(url(connection, "idp/")).content.decode()


def test_uploading_a_file_replaces_a_metadata_url(admin, documents):
    connection = create(admin)
    metadata_url = documents.serve("/idp/metadata", idp_metadata(), "application/samlmetadata+xml")
    admin.post(url(connection, "idp/metadata-url/"), {"metadata_url": metadata_url})
    upload = SimpleUploadedFile("idp.xml", idp_metadata(), content_type="text/xml")
    admin.post(url(connection, "idp/metadata-file/"), {"metadata_file": upload})
    connection.refresh_from_db()
    assert connection.metadata_url == ""


def test_a_metadata_url_that_cannot_be_read_is_a_form_error(admin, documents):
    connection = create(admin)
    for bad, error in (
        (documents.base + "/missing", "The server answered 404."),
        ("not a url", "Enter a valid URL."),
        ("ftp://idp.example.net/metadata", "The metadata URL is not a URL."),
    ):
        response = admin.post(url(connection, "idp/metadata-url/"), {"metadata_url": bad})
        assert response.status_code == 400, bad
        assert error in response.content.decode(), bad
    connection.refresh_from_db()
    assert connection.metadata_url == ""
    assert connection.idp_entity_id == ""


def by_hand(**changes: str) -> dict:
    return {
        "name": "Okta",
        "idp_entity_id": IDP_ENTITY_ID,
        "idp_sso_url": IDP_SSO_URL,
        "idp_slo_url": "",
        "certificate": idp_certificate(),
        "email_attribute": "email",
        **changes,
    }


def test_settings_by_hand_with_the_certificate(admin):
    connection = create(admin)
    response = admin.post(url(connection, "idp/"), by_hand())
    assert response["Location"] == url(connection, "accounts/")
    connection.refresh_from_db()
    assert connection.idp_entity_id == IDP_ENTITY_ID
    assert connection.idp_sso_url == IDP_SSO_URL
    assert connection.email_attribute == "email"
    assert connection.certificates.get().source == "uploaded"
    assert services.missing_settings(connection) == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"idp_sso_url": "not a url"}, "Enter a valid URL."),
        ({"idp_entity_id": ""}, "This field is required."),
        (
            {"certificate": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"},
            "not a certificate",
        ),
        ({"email_attribute": "bad attribute name!"}, "not a valid attribute name"),
        ({"name": " "}, "This field is required."),
    ],
)
def test_bad_settings_by_hand_are_form_errors_and_nothing_is_kept(admin, changes, error):
    connection = create(admin)
    response = admin.post(url(connection, "idp/"), by_hand(**changes))
    assert response.status_code == 400
    assert error in response.content.decode()
    connection.refresh_from_db()
    assert connection.idp_entity_id == ""
    assert not connection.certificates.exists()


def test_an_expired_certificate_by_hand_keeps_the_settings_beside_it_too(admin):
    connection = create(admin)
    response = admin.post(url(connection, "idp/"), by_hand(certificate=expired_certificate()))
    assert response.status_code == 400
    assert "That certificate expired on" in response.content.decode()
    connection.refresh_from_db()
    # One change: the settings typed next to the refused certificate were not saved either.
    assert connection.idp_entity_id == ""
    assert not connection.certificates.exists()
    assert updates(connection) == []


# --- Step 3: accounts and roles -------------------------------------------------------------------


def accounts(**changes) -> dict:
    return {
        "jit_enabled": "on",
        "default_role": "member",
        "groups_attribute": "groups",
        "role_mapping": "",
        "mfa_trust": "gatehouse",
        "domain_ids": [],
        **changes,
    }


def test_accounts_and_role_mapping_are_saved(admin, world):
    connection = ready_saml(admin)
    domain = Domain.objects.get(name="a.example")
    mapping = "# Entra-style names work too\nCN=Admins,OU=Groups,DC=a = Admin\n\nstaff = member\n"
    response = admin.post(
        url(connection, "accounts/"),
        accounts(
            jit_enabled="",
            default_role="admin",
            role_mapping=mapping,
            mfa_trust="idp",
            domain_ids=[str(domain.pk)],
        ),
    )
    assert response["Location"] == url(connection, "certificates/")
    connection.refresh_from_db()
    assert connection.jit_enabled is False
    assert connection.default_role == "admin"
    assert connection.role_mapping == {"CN=Admins,OU=Groups,DC=a": "admin", "staff": "member"}
    assert connection.mfa_trust == "idp"
    assert list(connection.domains.all()) == [domain]
    assert set(updates(connection)[-1]["changed"]) == {
        "jit_enabled",
        "default_role",
        "role_mapping",
        "mfa_trust",
    }
    page = admin.get(url(connection, "accounts/")).content.decode()
    assert "CN=Admins,OU=Groups,DC=a = admin" in page


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"role_mapping": "engineering = owner"}, "“owner” is not a role here"),
        ({"role_mapping": "engineering"}, "Line 1: write it as"),
        ({"role_mapping": "ok = admin\n = admin"}, "Line 2: write it as"),
        ({"role_mapping": "a = admin\na = member"}, "“a” is already mapped to admin"),
        ({"role_mapping": "x" * 201 + " = admin"}, "longer than 200 characters"),
        ({"role_mapping": "\n".join(f"g{i} = member" for i in range(101))}, "Map at most 100"),
        ({"default_role": "owner"}, "Select a valid choice"),
        ({"mfa_trust": "never"}, "Select a valid choice"),
        ({"groups_attribute": "two words"}, "not a valid attribute name"),
    ],
)
def test_bad_accounts_input_is_a_form_error(admin, changes, error):
    connection = ready_saml(admin)
    before = updates(connection)
    response = admin.post(url(connection, "accounts/"), accounts(**changes))
    assert response.status_code == 400
    assert error in response.content.decode()
    connection.refresh_from_db()
    assert connection.role_mapping == {}
    assert connection.default_role == "member"
    assert updates(connection) == before


def test_only_the_orgs_own_verified_domains_can_be_chosen(admin, world):
    connection = ready_saml(admin)
    theirs = Domain.objects.get(name="b.example")
    unverified = Domain.objects.create(
        organization=world.a, name="pending.example", verification_token=Domain.new_token()
    )
    page = admin.get(url(connection, "accounts/")).content.decode()
    assert "b.example" not in page
    assert "pending.example" not in page
    for domain in (theirs, unverified):
        response = admin.post(url(connection, "accounts/"), accounts(domain_ids=[str(domain.pk)]))
        assert response.status_code == 400
        assert "Select a valid choice" in response.content.decode()
    assert [d.name for d in connection.domains.all()] == ["a.example"]


# --- Step 4: certificates -------------------------------------------------------------------------


def test_certificate_rotation_add_the_new_one_then_remove_the_old_one(admin):
    connection = ready_saml(admin)
    old = connection.certificates.get()
    response = admin.post(url(connection, "certificates/"), {"pem": second_certificate()})
    assert "was added" in followed_text(admin, response)
    assert connection.certificates.count() == 2
    assert AuditEvent.objects.filter(action="sso.certificate_added").exists()

    response = admin.post(url(connection, f"certificates/{old.pk}/remove/"))
    assert "The certificate was removed." in followed_text(admin, response)
    new = certificates.read_certificate(second_certificate()).fingerprint_sha256
    assert list(connection.certificates.values_list("fingerprint_sha256", flat=True)) == [new]
    assert AuditEvent.objects.filter(
        action="sso.certificate_removed", data__fingerprint=old.fingerprint_sha256
    ).exists()


@pytest.mark.parametrize(
    ("pem", "error"),
    [
        ("", "This field is required."),
        ("hello", "That is not a certificate"),
        (None, "That certificate expired on"),
    ],
)
def test_a_bad_certificate_is_a_form_error(admin, pem, error):
    connection = ready_saml(admin)
    response = admin.post(
        url(connection, "certificates/"), {"pem": expired_certificate() if pem is None else pem}
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert connection.certificates.count() == 1


def test_the_only_certificate_of_an_active_connection_stays(admin):
    connection = ready_saml(admin)
    assert admin.post(url(connection, "activate/")).status_code == 302
    only = connection.certificates.get()
    response = admin.post(url(connection, f"certificates/{only.pk}/remove/"))
    assert response["Location"] == url(connection, "certificates/")
    assert "only certificate: add the new one before removing it" in followed_text(admin, response)
    assert connection.certificates.filter(pk=only.pk).exists()


def test_expiring_certificates_and_metadata_errors_are_shown(admin, world):
    connection = ready_saml(admin)
    soon = IdPCertificate.objects.filter(connection=connection)
    soon.update(not_after=timezone.now() + dt.timedelta(days=10, hours=1))
    Connection.objects.filter(pk=connection.pk).update(
        metadata_url="https://idp.example.net/metadata",
        metadata_error="Could not fetch it: ConnectTimeout.",
    )
    listing = admin.get("/orgs/acme/sso/").content.decode()
    assert "data-certificate-warning" in listing
    assert "(10 days): add its successor now." in listing
    assert "data-metadata-error" in listing
    assert "ConnectTimeout" in listing
    page = admin.get(url(connection, "certificates/")).content.decode()
    assert "10 days left" in page


def test_oidc_connections_have_no_certificate_step(admin):
    connection = create(admin, "oidc", "Entra ID")
    assert admin.get(url(connection, "certificates/")).status_code == 404
    assert b'data-step="certificates"' not in admin.get(url(connection)).content


# --- Step 2, OIDC ---------------------------------------------------------------------------------

SECRET = "s3cr3t-client-value-that-must-never-show"


def oidc_settings(discovery_url: str, **changes: str) -> dict:
    return {
        "name": "Entra ID",
        "discovery_url": discovery_url,
        "client_id": "gatehouse-client",
        "client_secret": SECRET,
        "id_token_algorithm": "RS256",
        "scopes": "openid email profile",
        "token_auth_method": "client_secret_basic",
        **changes,
    }


def test_oidc_setup_stores_the_secret_and_never_shows_it(admin, documents):
    connection = create(admin, "oidc", "Entra ID")
    setup = admin.get(url(connection, "setup/")).content.decode()
    callback = f"http://{HOST}/accounts/oidc/{connection.slug}/login/callback/"
    assert f'data-sp-value="redirect_uri">{callback}<' in setup

    discovery = documents.discovery()
    response = admin.post(url(connection, "idp/"), oidc_settings(discovery))
    assert response["Location"] == url(connection, "accounts/")
    connection.refresh_from_db()
    assert connection.issuer == documents.base + "/tenant"
    assert connection.client_id == "gatehouse-client"
    assert connection.client_secret == SECRET
    assert SECRET not in connection.client_secret_encrypted
    assert "client_secret" in updates(connection)[-1]["changed"]

    for path in ("idp/", "", "setup/", "accounts/"):
        page = admin.get(url(connection, path))
        assert page.status_code == 200
        assert SECRET.encode() not in page.content
    page = admin.get(url(connection, "idp/")).content.decode()
    assert "Stored — leave blank to keep" in page
    assert 'name="client_secret" autocomplete="off"' in page or 'type="password"' in page
    assert not any(SECRET in str(e.data) for e in AuditEvent.objects.all())

    # Blank keeps the stored secret.
    response = admin.post(url(connection, "idp/"), oidc_settings(discovery, client_secret=""))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.client_secret == SECRET
    assert "client_secret" not in updates(connection)[-1]["changed"]


def test_oidc_settings_need_a_secret_and_a_good_discovery_document(admin, documents):
    connection = create(admin, "oidc", "Entra ID")
    discovery = documents.discovery()
    wrong_issuer = documents.serve(
        "/other/.well-known/openid-configuration",
        {"issuer": "https://elsewhere.example", "authorization_endpoint": "x"},
    )
    for data, error in (
        (oidc_settings(discovery, client_secret=""), "This field is required."),
        (oidc_settings(wrong_issuer), "names the issuer"),
        (oidc_settings(documents.base + "/missing"), "Could not read the discovery document"),
        (oidc_settings(discovery, scopes="email profile"), "must include openid"),
        (oidc_settings(discovery, id_token_algorithm="HS256"), "Select a valid choice"),
        (
            oidc_settings(discovery, id_token_algorithm="ES256"),
            "does not sign ID tokens with ES256",
        ),
    ):
        response = admin.post(url(connection, "idp/"), data)
        assert response.status_code == 400, error
        assert error in response.content.decode(), error
        assert SECRET.encode() not in response.content  # not even echoed back into the form
    connection.refresh_from_db()
    assert connection.client_id == ""
    assert not connection.has_client_secret


# --- Test, turn on and off, delete ----------------------------------------------------------------


def test_turning_on_is_refused_while_settings_are_missing(admin):
    connection = create(admin)
    hub = admin.get(url(connection)).content.decode()
    assert 'id="sso-missing"' in hub
    assert "A current IdP signing certificate" in hub
    assert 'id="test-unavailable"' in hub

    response = admin.post(url(connection, "activate/"))
    assert response["Location"] == url(connection)
    assert "Before turning it on, add" in followed_text(admin, response)
    connection.refresh_from_db()
    assert connection.status == "draft"


def test_turn_on_turn_off_and_delete(admin, world):
    connection = ready_saml(admin)
    assert "is on" in followed_text(admin, admin.post(url(connection, "activate/")))
    connection.refresh_from_db()
    assert connection.status == "active"
    assert b'data-status="active"' in admin.get("/orgs/acme/sso/").content

    # Not while it is on.
    confirm = admin.get(url(connection, "delete/"))
    assert b'id="delete-active"' in confirm.content
    assert b'id="delete-form"' not in confirm.content
    response = admin.post(url(connection, "delete/"))
    assert "Turn the connection off before deleting it." in followed_text(admin, response)
    assert Connection.objects.filter(pk=connection.pk).exists()

    assert "is off" in followed_text(admin, admin.post(url(connection, "disable/")))
    connection.refresh_from_db()
    assert connection.status == "disabled"
    assert b'id="delete-form"' in admin.get(url(connection, "delete/")).content
    response = admin.post(url(connection, "delete/"))
    assert response["Location"] == "/orgs/acme/sso/"
    assert not Connection.objects.filter(pk=connection.pk).exists()
    actions = list(
        AuditEvent.objects.filter(organization_id=world.a.pk, action__startswith="sso.connection_")
        .order_by("occurred_at")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == [
        "sso.connection_activated",
        "sso.connection_disabled",
        "sso.connection_deleted",
    ]


def test_test_connection_starts_a_real_saml_login_marked_as_a_test(admin):
    connection = ready_saml(admin)
    response = admin.post(url(connection, "test/"))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == IDP_SSO_URL
    query = parse_qs(location.query)
    assert query["SAMLRequest"]
    assert query["Signature"]
    assert admin.session[TEST_SESSION_KEY]["slug"] == connection.slug
    connection.refresh_from_db()
    assert connection.status == "draft"  # testing turns nothing on


def test_test_connection_starts_a_real_oidc_login(admin, documents):
    connection = create(admin, "oidc", "Entra ID")
    admin.post(url(connection, "idp/"), oidc_settings(documents.discovery()))
    response = admin.post(url(connection, "test/"))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        documents.base + "/tenant/authorize"
    )
    query = parse_qs(location.query)
    assert query["client_id"] == ["gatehouse-client"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"]
    assert admin.session[TEST_SESSION_KEY]["slug"] == connection.slug


def test_test_connection_needs_the_idp_settings_first(admin):
    connection = create(admin)
    response = admin.post(url(connection, "test/"))
    assert response["Location"] == url(connection)
    assert "Before testing, add" in followed_text(admin, response)
    assert TEST_SESSION_KEY not in admin.session


def test_the_wizard_steps_link_to_each_other(admin):
    connection = ready_saml(admin)
    hub = admin.get(url(connection)).content.decode()
    for step in ("setup/", "idp/", "accounts/", "certificates/"):
        assert f'href="{url(connection, step)}"' in hub
    assert 'data-step="idp"' in hub
    assert "sso-steps__item--done" in hub
    assert 'id="test-form"' in hub
    assert 'id="activate-form"' in hub
    assert 'aria-current="step"' in admin.get(url(connection, "accounts/")).content.decode()


def test_unknown_connections_and_certificates_are_404(admin, world):
    connection = ready_saml(admin)
    assert admin.get("/orgs/acme/sso/999999/").status_code == 404
    assert admin.post(url(connection, "certificates/999999/remove/")).status_code == 404
    assert connection.certificates.count() == 1


def test_the_test_button_runs_a_real_login_at_a_real_idp_and_shows_the_diagnostic(
    admin, world, saml_idp
):
    """End to end with samlify on loopback: set up from the IdP's own metadata in the portal,
    press Test connection, sign in at the IdP, read the diagnostic; nobody is signed in."""
    from accounts.models import User
    from tests.sso.conftest import saml_post

    connection = create(admin)
    assert upload(admin, connection, saml_idp.metadata()).status_code == 302
    sp_metadata = admin.get(f"/accounts/saml/{connection.slug}/metadata/")
    assert sp_metadata.status_code == 200
    saml_idp.register_sp(sp_metadata.content)

    start = admin.post(url(connection, "test/"))
    assert start.status_code == 302
    result = saml_post(admin, saml_idp.answer(start["Location"], user="ada@a.example"))

    assert result.status_code == 200, result.content[:1000]
    page = result.content.decode()
    assert 'id="sso-test-passed"' in page
    assert "ada@a.example" in page
    assert 'href="/orgs/acme/sso/"' in page
    assert int(admin.session["_auth_user_id"]) == world.a_admin.pk
    assert not User.objects.filter(email="ada@a.example").exists()
    assert TEST_SESSION_KEY not in admin.session
    assert AuditEvent.objects.filter(
        action="sso.connection_tested", data__check="passed", organization_id=world.a.pk
    ).exists()


def test_gatehouse_rotates_its_own_key_without_an_outage(admin):
    connection = create(admin)
    old_cert = connection.sp_certificate
    page = admin.get(url(connection, "certificates/")).content.decode()
    assert 'id="sp-key-current"' in page
    assert 'id="sp-key-next"' not in page

    admin.post(url(connection, "sp-key/start/"))
    connection.refresh_from_db()
    assert connection.sp_next_certificate
    assert connection.sp_certificate == old_cert
    assert "PRIVATE KEY" not in connection.sp_next_private_key_encrypted
    # The metadata offers both certificates while the IdP catches up.
    metadata = admin.get(f"/accounts/saml/{connection.slug}/metadata/").content.decode()
    for pem in (old_cert, connection.sp_next_certificate):
        body = "".join(pem.strip().splitlines()[1:-1])
        assert body in metadata
    assert admin.post(url(connection, "sp-key/start/")).status_code == 302  # refused, shown
    connection.refresh_from_db()
    next_cert = connection.sp_next_certificate

    admin.post(url(connection, "sp-key/finish/"))
    connection.refresh_from_db()
    assert connection.sp_certificate == next_cert
    assert not connection.sp_next_certificate
    assert connection.sp_private_key.startswith("-----BEGIN PRIVATE KEY-----")
    metadata = admin.get(f"/accounts/saml/{connection.slug}/metadata/").content.decode()
    assert "".join(old_cert.strip().splitlines()[1:-1]) not in metadata
    actions = list(
        AuditEvent.objects.filter(action__startswith="sso.sp_key").values_list("action", flat=True)
    )
    assert sorted(actions) == ["sso.sp_key_rotated", "sso.sp_key_rotation_started"]


def test_a_key_rotation_can_be_cancelled_and_unknown_steps_are_404(admin):
    connection = create(admin)
    admin.post(url(connection, "sp-key/start/"))
    admin.post(url(connection, "sp-key/cancel/"))
    connection.refresh_from_db()
    assert not connection.sp_next_certificate
    assert not connection.sp_next_private_key_encrypted
    assert admin.post(url(connection, "sp-key/explode/")).status_code == 404
