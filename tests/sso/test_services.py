"""The SSO write path: secrets at rest, who may change connections, what must be set before a
connection is turned on, and the URLs Gatehouse refuses to fetch."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import connection as db

from accounts.models import User
from audit.models import AuditEvent
from config import encryption
from config.refusals import Refusal
from organizations.models import Membership
from sso import fetch, services
from sso.models import Connection
from tests.factories import UserFactory
from tests.sso.builders import HOST, org_with_domain, request, saml_connection


@pytest.fixture(autouse=True)
def _sso_host(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]


def stored(connection: Connection, column: str) -> str:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM sso_connection WHERE id = %s", [connection.pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_the_sp_private_key_is_encrypted_at_rest_and_usable():
    org, owner = org_with_domain()
    conn = saml_connection(org, owner)
    raw = stored(conn, "sp_private_key_encrypted")
    assert "PRIVATE KEY" not in raw
    assert conn.sp_private_key.startswith("-----BEGIN PRIVATE KEY-----")
    assert conn.sp_certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert conn.sp_entity_id == f"https://{HOST}/accounts/saml/{conn.slug}/metadata/"


def test_a_secret_written_with_a_retired_key_is_reported_not_garbled(settings):
    token = encryption.encrypt("s3cret")
    assert encryption.decrypt(token) == "s3cret"
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    encryption._fernet.cache_clear()
    try:
        with pytest.raises(encryption.SecretUnreadable):
            encryption.decrypt(token)
    finally:
        encryption._fernet.cache_clear()


def test_key_rotation_keeps_old_secrets_readable(settings):
    from cryptography.fernet import Fernet

    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    encryption._fernet.cache_clear()
    try:
        token = encryption.encrypt("client-secret")
        settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
        encryption._fernet.cache_clear()
        assert encryption.decrypt(token) == "client-secret"
        rotated = encryption.reencrypt(token)
        settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
        encryption._fernet.cache_clear()
        assert encryption.decrypt(rotated) == "client-secret"
    finally:
        encryption._fernet.cache_clear()


def test_members_and_other_orgs_admins_cannot_touch_connections():
    org, owner = org_with_domain("acme", "acme.test")
    other, other_owner = org_with_domain("bolt", "bolt.test")
    plain = UserFactory(email="m@acme.test")
    member = Membership.objects.create(organization=org, user=plain, role="member", source="admin")
    conn = saml_connection(org, owner)
    with pytest.raises(Refusal) as refused:
        services.create_connection(
            actor=member,
            org=org,
            site_url=request().build_absolute_uri("/"),
            protocol="saml",
            name="x",
        )
    assert refused.value.status == 403
    with pytest.raises(Refusal):
        services.disable(actor=other_owner, org=org, connection_id=conn.pk)
    # Acting on one's own org with another org's connection id finds nothing.
    with pytest.raises(Refusal) as missing:
        services.disable(actor=other_owner, org=other, connection_id=conn.pk)
    assert missing.value.status == 404
    conn.refresh_from_db()
    assert conn.is_active
    denied = AuditEvent.objects.filter(action="org.access_denied")
    assert denied.count() == 2
    assert Connection.objects.count() == 1


def test_a_connection_is_turned_on_only_when_complete():
    org, owner = org_with_domain()
    conn = services.create_connection(
        actor=owner,
        org=org,
        site_url=request().build_absolute_uri("/"),
        protocol="saml",
        name="Okta",
    )
    with pytest.raises(Refusal, match="entity ID and sign-on URL"):
        services.activate(actor=owner, org=org, connection_id=conn.pk)
    conn.refresh_from_db()
    assert conn.status == "draft"
    oidc = services.create_connection(
        actor=owner,
        org=org,
        site_url=request().build_absolute_uri("/"),
        protocol="oidc",
        name="Entra",
    )
    with pytest.raises(Refusal, match="client secret"):
        services.activate(actor=owner, org=org, connection_id=oidc.pk)


def test_removing_the_only_certificate_of_an_active_connection_is_refused():
    org, owner = org_with_domain()
    conn = saml_connection(org, owner)
    cert = conn.certificates.get()
    with pytest.raises(Refusal, match="only certificate"):
        services.remove_certificate(
            actor=owner, org=org, connection_id=conn.pk, certificate_id=cert.pk
        )
    assert conn.certificates.count() == 1


def test_deleting_a_connection_removes_its_identities_but_not_the_accounts():
    org, owner = org_with_domain()
    conn = saml_connection(org, owner)
    person = UserFactory(email="ada@acme.test")
    SocialAccount.objects.create(user=person, provider=conn.slug, uid="ada")
    with pytest.raises(Refusal, match="off before deleting"):
        services.delete_connection(actor=owner, org=org, connection_id=conn.pk)
    services.disable(actor=owner, org=org, connection_id=conn.pk)
    services.delete_connection(actor=owner, org=org, connection_id=conn.pk)
    assert not SocialAccount.objects.filter(provider=conn.slug).exists()
    assert User.objects.filter(pk=person.pk, is_active=True).exists()  # the account stays
    event = AuditEvent.objects.get(action="sso.connection_deleted")
    assert event.data["identities_removed"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/.well-known/openid-configuration",
        "https://127.0.0.1/.well-known/openid-configuration",
        "https://10.0.0.5/metadata",
        "https://[::1]/metadata",
        "https://169.254.169.254/latest/meta-data",
        "https://user:pw@idp.example.com/",
        "ftp://idp.example.com/",
    ],
)
def test_urls_on_the_servers_own_network_or_without_tls_are_not_fetched(url, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
    with pytest.raises(fetch.FetchError):
        fetch.fetch(url, accept="*/*")


class DiscoveryServer:
    def __init__(self) -> None:
        self.doc: dict = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(owner.doc).encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def discovery(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    server = DiscoveryServer()
    server.doc = {
        "issuer": server.issuer,
        "authorization_endpoint": server.issuer + "/auth",
        "token_endpoint": server.issuer + "/token",
        "jwks_uri": server.issuer + "/jwks",
        "userinfo_endpoint": server.issuer + "/me",
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    yield server
    server.server.shutdown()
    server.server.server_close()


def oidc(org, owner, discovery, **overrides):
    conn = services.create_connection(
        actor=owner,
        org=org,
        site_url=request().build_absolute_uri("/"),
        protocol="oidc",
        name="Entra",
    )
    values = {
        "name": "Entra",
        "discovery_url": discovery.issuer,
        "client_id": "gatehouse",
        "client_secret": "very-secret-value",
        **overrides,
    }
    return services.update_oidc(actor=owner, org=org, connection_id=conn.pk, **values)


def test_an_oidc_connection_stores_the_issuer_and_an_encrypted_secret(discovery):
    org, owner = org_with_domain()
    conn = oidc(org, owner, discovery)
    assert conn.issuer == discovery.issuer
    assert conn.discovery_url == discovery.issuer + "/.well-known/openid-configuration"
    assert "very-secret-value" not in stored(conn, "client_secret_encrypted")
    assert conn.client_secret == "very-secret-value"
    # Saving again without a secret keeps the stored one.
    conn = services.update_oidc(
        actor=owner,
        org=org,
        connection_id=conn.pk,
        name="Entra ID",
        discovery_url=discovery.issuer,
        client_id="gatehouse",
        client_secret="",
    )
    assert conn.client_secret == "very-secret-value"
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("occurred_at")
    assert "very-secret-value" not in json.dumps(event.data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"issuer": "https://someone-else.test"}, "names the issuer"),
        ({"code_challenge_methods_supported": ["plain"]}, "PKCE"),
        ({"id_token_signing_alg_values_supported": ["HS256"]}, "RS256"),
        ({"token_endpoint": None}, "token_endpoint"),
    ],
)
def test_a_discovery_document_gatehouse_cannot_trust_is_refused(discovery, change, message):
    org, owner = org_with_domain()
    discovery.doc.update(change)
    discovery.doc = {k: v for k, v in discovery.doc.items() if v is not None}
    with pytest.raises(Refusal, match=message):
        oidc(org, owner, discovery)
    conn = Connection.objects.get()
    assert conn.issuer == ""
    assert not conn.has_client_secret


def test_the_discovery_document_is_read_outside_any_transaction(discovery, monkeypatch):
    from config.refusals import inside_a_write

    reads: list[bool] = []
    real_fetch = fetch.fetch

    def watched(url, **kwargs):
        reads.append(inside_a_write())
        return real_fetch(url, **kwargs)

    monkeypatch.setattr(fetch, "fetch", watched)
    org, owner = org_with_domain()

    conn = oidc(org, owner, discovery)

    assert conn.issuer == discovery.issuer
    assert reads == [False]


def test_hmac_id_token_algorithms_cannot_be_chosen(discovery):
    org, owner = org_with_domain()
    with pytest.raises(Refusal, match="asymmetric"):
        oidc(org, owner, discovery, id_token_algorithm="HS256")


def test_reencrypt_secrets_moves_every_secret_to_the_newest_key(settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    encryption._fernet.cache_clear()
    try:
        org, owner = org_with_domain()
        conn = saml_connection(org, owner)
        key = conn.sp_private_key
        settings.FIELD_ENCRYPTION_KEYS = [new, old]
        encryption._fernet.cache_clear()
        call_command("reencrypt_secrets", stdout=__import__("io").StringIO())
        settings.FIELD_ENCRYPTION_KEYS = [new]
        encryption._fernet.cache_clear()
        conn.refresh_from_db()
        assert conn.sp_private_key == key
    finally:
        encryption._fernet.cache_clear()


def test_the_transport_vets_the_name_again_at_every_call(settings, monkeypatch):
    """DNS rebinding: the name passed the URL check, then resolved to a private address. Every
    call resolves and vets again (config.outbound), so nothing is sent; allauth's session is
    the same transport."""
    import ipaddress

    import requests

    from config import outbound

    server = DiscoveryServer()
    answers = [ipaddress.ip_address("127.0.0.1")]
    monkeypatch.setattr(outbound, "resolve", lambda host, port: list(answers))
    url = server.issuer.replace("127.0.0.1", "idp.rebind.test")
    try:
        settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True  # loopback: the "public" answer
        assert fetch.check_url(url) == url
        assert fetch.public_session().get(url, timeout=5).status_code == 200
        answers[:] = [ipaddress.ip_address("10.0.0.5")]
        with pytest.raises(requests.ConnectionError, match="private or local address"):
            fetch.public_session().get(url, timeout=5)
        from sso.adapter import SocialAccountAdapter

        with pytest.raises(requests.ConnectionError, match="private or local address"):
            SocialAccountAdapter().get_requests_session().get(url)
    finally:
        server.server.shutdown()
        server.server.server_close()
