"""Clients that register themselves by URL (client ID metadata documents, as MCP agents do):
the operator's policy, Gatehouse's rules for such clients, and the SSRF defences of the fetch.

The documents are served over real TLS by a server on loopback, with a certificate the test
trusts. Loopback is the only host a test can reach, and the fetcher refuses every non-public
address, so the tests that must get a document through let loopback count as public; the
tests of the defences do not. A registered agent then appears on the person's consent screen
and connected apps as what it is: an agent that registered itself, which nobody vetted.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from oauth2_provider import cimd as dot_cimd

from audit.models import AuditEvent
from consent.models import ConsentEvent
from provider.models import ApiAccess, Application, Authorization
from tests.provider.flows import WEB_CALLBACK, Attempt, authorize, code_from, redeem, refresh

TOKEN = "/o/token/"


def _certificate(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class Documents:
    """Paths the loopback server answers, each (status, headers, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.base = ""
        self.hits: list[str] = []

    def url(self, path: str) -> str:
        return self.base + path

    def serve_metadata(self, path: str, **metadata) -> str:
        client_id = self.url(path)
        document = {"client_id": client_id, **metadata}
        self.routes[path] = (
            200,
            {"Content-Type": "application/json"},
            json.dumps(document).encode(),
        )
        return client_id


@pytest.fixture
def documents(tmp_path, monkeypatch) -> Iterator[Documents]:
    cert, key = _certificate(tmp_path)
    docs = Documents()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            docs.hits.append(self.path)
            status, headers, body = docs.routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    docs.base = f"https://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the fetcher's default TLS context trusts it
    yield docs
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback_counts_as_public(monkeypatch):
    monkeypatch.setattr(dot_cimd, "_ip_is_public", lambda ip: ip_address(ip).is_loopback)


@pytest.fixture
def policy(settings):
    def set_policy(value: str, hosts: list[str] | None = None) -> None:
        settings.GATEHOUSE_OAUTH_CIMD_POLICY = value
        settings.GATEHOUSE_OAUTH_CIMD_ALLOWED_HOSTS = hosts or []
        settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": value != "off"}

    return set_policy


def present(client, client_id: str):
    """A token request by the client: enough for Gatehouse to look the client up (and, for a
    URL it has not seen, fetch its document). It has no code, so it fails either way."""
    return client.post(
        TOKEN,
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": "x",
            "code_verifier": "y" * 43,
        },
    )


def test_agent_registers_as_a_public_app_that_must_ask_for_consent(
    client, documents, loopback_counts_as_public, policy, invoices_api, settings
):
    policy("open")
    settings.GATEHOUSE_OAUTH_CIMD_APIS = [invoices_api.identifier]
    client_id = documents.serve_metadata(
        "/agent.json",
        client_name="Research agent",
        redirect_uris=["http://127.0.0.1:33418/callback"],
        token_endpoint_auth_method="none",
    )
    present(client, client_id)
    app = Application.objects.get(client_id=client_id)
    assert app.kind == "native"
    assert app.client_type == "public"
    assert app.name == "Research agent"
    assert not app.first_party
    assert not app.skip_authorization
    assert app.organization is None
    assert "openid" in app.allowed_scopes
    access = ApiAccess.objects.get(application=app)
    assert access.api == invoices_api
    event = AuditEvent.objects.get(action="oauth.client_registered")
    assert event.data["client_id"] == client_id


def test_policy_off_fetches_nothing(client, documents, loopback_counts_as_public, policy):
    policy("off")
    client_id = documents.serve_metadata("/agent.json", redirect_uris=["https://a.example/cb"])
    assert present(client, client_id).status_code == 401
    assert documents.hits == []
    assert not Application.objects.exists()


def test_allowlist_refuses_other_hosts_before_fetching(
    client, documents, loopback_counts_as_public, policy
):
    policy("allowlist", hosts=["agents.example.com"])
    client_id = documents.serve_metadata("/agent.json", redirect_uris=["https://a.example/cb"])
    present(client, client_id)
    assert documents.hits == []
    assert not Application.objects.exists()
    policy("allowlist", hosts=["localhost"])
    present(client, client_id)
    assert documents.hits == ["/agent.json"]
    assert Application.objects.filter(client_id=client_id).exists()


def test_a_private_address_is_never_fetched(client, documents, policy):
    policy("open")  # loopback stays non-public here
    client_id = documents.serve_metadata("/agent.json", redirect_uris=["https://a.example/cb"])
    present(client, client_id)
    assert documents.hits == []
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    "route",
    [
        (302, {"Location": "https://localhost/elsewhere.json"}, b""),
        (200, {"Content-Type": "application/json"}, b"{" + b" " * 20000 + b"}"),
        (200, {"Content-Type": "text/html"}, b"<html></html>"),
    ],
    ids=["redirect", "oversize", "not-json"],
)
def test_bad_responses_register_nothing(
    client, documents, loopback_counts_as_public, policy, route
):
    policy("open")
    documents.routes["/agent.json"] = route
    present(client, documents.url("/agent.json"))
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    "metadata",
    [
        {"redirect_uris": ["http://agents.example.com/cb"]},  # plain http off loopback
        {"redirect_uris": ["https://a.example/cb"], "client_secret": "chosen"},
        {
            "redirect_uris": ["https://a.example/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        {"redirect_uris": []},
    ],
    ids=["http-redirect", "secret", "confidential", "no-redirects"],
)
def test_documents_breaking_the_rules_register_nothing(
    client, documents, loopback_counts_as_public, policy, metadata
):
    policy("open")
    client_id = documents.serve_metadata("/agent.json", **metadata)
    present(client, client_id)
    assert documents.hits == ["/agent.json"]
    assert not Application.objects.exists()


def test_document_naming_another_client_id_registers_nothing(
    client, documents, loopback_counts_as_public, policy
):
    policy("open")
    documents.routes["/agent.json"] = (
        200,
        {"Content-Type": "application/json"},
        json.dumps(
            {
                "client_id": "https://victim.example/agent.json",
                "redirect_uris": ["https://a.example/cb"],
            }
        ).encode(),
    )
    present(client, documents.url("/agent.json"))
    assert not Application.objects.exists()


# --- An agent among the person's connected apps (issue 15, item 11) ---------------------------

AGENT_CALLBACK = "http://127.0.0.1:33418/callback"


@pytest.fixture
def agent(client, documents, loopback_counts_as_public, policy, signing_keys) -> Application:
    policy("open")
    client_id = documents.serve_metadata(
        "/agent.json",
        client_name="Research agent",
        redirect_uris=[AGENT_CALLBACK],
        token_endpoint_auth_method="none",
    )
    present(client, client_id)
    return Application.objects.get(client_id=client_id)


def test_an_agents_consent_screen_says_it_registered_itself_and_is_not_vetted(
    logged_in_client, agent, webapp
):
    agent_page = authorize(
        logged_in_client, Attempt(client_id=agent.client_id, redirect_uri=AGENT_CALLBACK)
    )
    vetted_page = authorize(
        logged_in_client, Attempt(client_id=webapp.client_id, redirect_uri=WEB_CALLBACK)
    )

    assert agent_page.status_code == 200
    html = agent_page.content.decode()
    assert 'id="consent-agent"' in html
    assert "AI agent" in html
    assert "registered itself" in html
    assert "from <strong>localhost</strong>" in html
    assert "has not checked who runs it" in html
    assert 'id="consent-agent"' not in vetted_page.content.decode()


def test_an_agent_is_listed_as_an_agent_and_removing_it_ends_its_tokens(
    logged_in_client, user, agent
):
    attempt = Attempt(
        client_id=agent.client_id, redirect_uri=AGENT_CALLBACK, scope="openid offline_access"
    )
    code = code_from(logged_in_client.post(attempt.url(), {"decision": "allow"}), attempt)
    tokens = redeem(logged_in_client, attempt, code).json()
    assert "refresh_token" in tokens, tokens

    page = logged_in_client.get("/account/apps/").content.decode()
    assert "Research agent" in page
    assert '<span class="badge badge--warning">Agent</span>' in page
    assert "Registered itself from localhost" in page
    [granted] = ConsentEvent.objects.filter(user=user, method="oauth_consent")
    assert granted.details["agent"] is True

    authorization = Authorization.objects.get(user=user, application=agent)
    bearer = f"Bearer {tokens['access_token']}"
    assert logged_in_client.get("/o/userinfo/", HTTP_AUTHORIZATION=bearer).status_code == 200
    response = logged_in_client.post(f"/account/apps/{authorization.pk}/remove/")

    assert response.status_code == 302
    assert "Research agent" not in logged_in_client.get("/account/apps/").content.decode()
    assert logged_in_client.get("/o/userinfo/", HTTP_AUTHORIZATION=bearer).status_code == 401
    answer = refresh(logged_in_client, agent.client_id, tokens["refresh_token"])
    assert answer.json()["error"] == "invalid_grant"
    withdrawal = ConsentEvent.objects.get(user=user, decision="withdrawn")
    assert withdrawal.details["client_id"] == agent.client_id
    assert withdrawal.details["ended_by"] == "person"
