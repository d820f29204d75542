"""Fixtures for the SSO tests: real IdPs on loopback, an organization with a verified domain,
and connections set up the way an org admin sets them up (through sso.services).

Tests speak to Gatehouse as ``id.gatehouse.test``: python3-saml refuses single-label hosts such
as ``testserver``, and the SP entity ID is fixed from the host when a connection is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from organizations import services as org_services
from organizations.models import Domain, Membership, Organization
from sso import services
from sso.checks import Check
from sso.models import Connection
from tests.conftest import require
from tests.factories import UserFactory
from tests.sso.forger import Forger
from tests.sso.peers import OidcIdP, SamlIdP, node_ready

HOST = "id.gatehouse.test"
BASE = f"http://{HOST}"

# The people the real OpenID provider knows (subject -> claims). Tests that change one restore it.
OIDC_ACCOUNTS: dict[str, dict] = {
    "ada-sub": {
        "email": "ada@acme.test",
        "email_verified": True,
        "name": "Ada Lovelace",
        "groups": ["engineering"],
    },
    "eve-sub": {"email": "eve@elsewhere.test", "email_verified": True, "name": "Eve"},
}


@pytest.fixture(autouse=True)
def _every_recorded_check_is_enumerated(request):
    """After each test, every check name on record (refused sign-ins, tests, logout messages)
    is one of sso.checks: what the adversarial tests provoke is named by the enumeration."""
    yield
    if not {"db", "transactional_db"} & set(request.fixturenames):
        return
    recorded = AuditEvent.objects.filter(
        action__in=["sso.login_failed", "sso.connection_tested", "sso.logout_refused"]
    ).values_list("data", flat=True)
    names = {data.get("check") for data in recorded}
    assert names - {c.code for c in Check} - {"passed"} == set()


@pytest.fixture
def sso_env(settings):
    """What the protocol tests need: the IdPs listen on http://127.0.0.1, which production
    refuses to fetch (sso.fetch), and Gatehouse answers as HOST."""
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    return settings


def browser() -> Client:
    return Client(HTTP_HOST=HOST, HTTP_USER_AGENT="pytest-browser/1.0")


@pytest.fixture
def web(sso_env) -> Client:
    """A browser at Gatehouse."""
    return browser()


# --- The identity providers -------------------------------------------------------------------


@pytest.fixture(scope="session")
def saml_idp(tmp_path_factory):
    ready, reason = node_ready()
    require(ready, reason)
    idp = SamlIdP(tmp_path_factory.mktemp("saml-idp") / "keys")
    yield idp
    idp.close()


@pytest.fixture(scope="session")
def oidc_idp():
    ready, reason = node_ready()
    require(ready, reason)
    idp = OidcIdP(OIDC_ACCOUNTS)
    yield idp
    idp.close()


@pytest.fixture(scope="session")
def _forger_server():
    forger = Forger().start()
    yield forger
    forger.stop()


@pytest.fixture
def forger(_forger_server) -> Forger:
    _forger_server.reset()
    return _forger_server


# --- Organizations ----------------------------------------------------------------------------


@dataclass
class Org:
    org: Organization
    owner: User
    admin: Membership  # the owner's membership: the actor of every service call

    def domain(self, name: str) -> Domain:
        return Domain.objects.create(
            organization=self.org,
            name=name,
            verification_token=Domain.new_token(),
            verified_at=timezone.now(),
        )


def make_org(name: str, slug: str, domain: str) -> Org:
    owner = UserFactory(email=f"owner@{slug}-owners.test")
    org = org_services.create_organization(actor=owner, name=name, slug=slug)
    result = Org(org, owner, Membership.objects.get(organization=org, user=owner))
    result.domain(domain)
    return result


@pytest.fixture
def acme_org(sso_env) -> Org:
    return make_org("Acme", "acme", "acme.test")


@pytest.fixture
def beta_org(sso_env) -> Org:
    return make_org("Beta", "beta", "beta.test")


# --- Connections, set up through the services -------------------------------------------------


def _request():
    return RequestFactory(HTTP_HOST=HOST).get("/")


def configure_accounts(org: Org, connection: Connection, **changes: Any) -> Connection:
    current = {
        "jit_enabled": connection.jit_enabled,
        "default_role": connection.default_role,
        "groups_attribute": connection.groups_attribute,
        "role_mapping": connection.role_mapping,
        "mfa_trust": connection.mfa_trust,
        "domain_ids": list(connection.domains.values_list("pk", flat=True)),
    }
    return services.update_accounts(
        actor=org.admin, org=org.org, connection_id=connection.pk, **{**current, **changes}
    )


def activate(org: Org, connection: Connection) -> Connection:
    return services.activate(actor=org.admin, org=org.org, connection_id=connection.pk)


def saml_connection(
    org: Org,
    idp: SamlIdP,
    *,
    name: str = "Okta",
    status: str = "active",
    allow_idp_initiated: bool = False,
    email_attribute: str = "",
    **accounts: Any,
) -> Connection:
    """A SAML connection set up from the IdP's metadata, with the IdP told about our SP."""
    connection = services.create_connection(
        actor=org.admin,
        org=org.org,
        site_url=_request().build_absolute_uri("/"),
        protocol="saml",
        name=name,
    )
    services.import_metadata(
        actor=org.admin, org=org.org, connection_id=connection.pk, xml=idp.metadata()
    )
    if allow_idp_initiated or email_attribute:
        connection.refresh_from_db()
        services.update_saml(
            actor=org.admin,
            org=org.org,
            connection_id=connection.pk,
            name=connection.name,
            idp_entity_id=connection.idp_entity_id,
            idp_sso_url=connection.idp_sso_url,
            idp_slo_url=connection.idp_slo_url,
            email_attribute=email_attribute,
            first_name_attribute="first_name",
            last_name_attribute="last_name",
            allow_idp_initiated=allow_idp_initiated,
        )
    if accounts:
        configure_accounts(org, connection, **accounts)
    response = browser().get(f"/accounts/saml/{connection.slug}/metadata/")
    assert response.status_code == 200, response.content[:500]
    idp.register_sp(response.content)
    if status == "active":
        activate(org, connection)
    elif status == "disabled":
        activate(org, connection)
        services.disable(actor=org.admin, org=org.org, connection_id=connection.pk)
    connection.refresh_from_db()
    return connection


def oidc_connection(
    org: Org,
    idp: OidcIdP | Forger,
    *,
    name: str = "Entra ID",
    status: str = "active",
    token_auth_method: str = "client_secret_basic",  # noqa: S107
    id_token_algorithm: str = "RS256",  # noqa: S107
    **accounts: Any,
) -> Connection:
    """An OIDC connection pointed at the IdP's discovery URL with a client of its own."""
    connection = services.create_connection(
        actor=org.admin,
        org=org.org,
        site_url=_request().build_absolute_uri("/"),
        protocol="oidc",
        name=name,
    )
    if isinstance(idp, OidcIdP):
        client_id, secret = idp.register_client(
            f"{BASE}/accounts/oidc/{connection.slug}/login/callback/", token_auth_method
        )
    else:
        client_id, secret = "forger-client", "forger-secret"
    services.update_oidc(
        actor=org.admin,
        org=org.org,
        connection_id=connection.pk,
        name=name,
        discovery_url=idp.discovery_url,
        client_id=client_id,
        client_secret=secret,
        token_auth_method=token_auth_method,
        id_token_algorithm=id_token_algorithm,
    )
    if accounts:
        configure_accounts(org, connection, **accounts)
    if status == "active":
        activate(org, connection)
    elif status == "disabled":
        activate(org, connection)
        services.disable(actor=org.admin, org=org.org, connection_id=connection.pk)
    connection.refresh_from_db()
    return connection


@pytest.fixture
def saml(acme_org, saml_idp) -> Connection:
    return saml_connection(acme_org, saml_idp)


@pytest.fixture
def oidc(acme_org, oidc_idp) -> Connection:
    return oidc_connection(acme_org, oidc_idp)


# --- Driving logins ---------------------------------------------------------------------------


def saml_start(client: Client, connection: Connection, next_url: str = "/account/") -> str:
    """Gatehouse's signed AuthnRequest, as the redirect to the IdP."""
    response = client.post(f"/accounts/saml/{connection.slug}/login/", {"next": next_url})
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def saml_post(client: Client, answer: dict, slug: str | None = None):
    """POST the IdP's answer to the ACS (as the browser would) and follow allauth's hop to
    acs/finish/; returns the finish response."""
    acs = urlsplit(answer["acs"]).path
    if slug is not None:
        acs = f"/accounts/saml/{slug}/acs/"
    data = {"SAMLResponse": answer["SAMLResponse"]}
    if answer.get("RelayState"):
        data["RelayState"] = answer["RelayState"]
    hop = client.post(acs, data)
    assert hop.status_code == 302, hop.content[:500]
    assert hop["Location"].endswith("/acs/finish/"), hop["Location"]
    return client.get(hop["Location"])


def saml_login(client: Client, idp: SamlIdP, connection: Connection, **params: str):
    return saml_post(client, idp.answer(saml_start(client, connection), **params))


def oidc_start(client: Client, connection: Connection):
    return client.post(f"/accounts/oidc/{connection.slug}/login/")


def oidc_login(
    client: Client,
    idp: OidcIdP,
    connection: Connection,
    login: str | None = "ada-sub",
    **extra: str,
):
    """A whole OIDC login: Gatehouse -> the IdP (sign in as ``login``, or cancel) -> callback.
    Returns (the start response, the callback response)."""
    start = oidc_start(client, connection)
    assert start.status_code == 302, start.content[:500]
    back = urlsplit(idp.authorize(start["Location"], login, **extra))
    assert back.netloc == HOST, back
    return start, client.get(f"{back.path}?{back.query}")


def forged_login(client: Client, forger: Forger, connection: Connection, **spoil: Any):
    import requests

    forger.spoil = spoil
    start = oidc_start(client, connection)
    assert start.status_code == 302, start.content[:500]
    location = requests.get(start["Location"], allow_redirects=False, timeout=10).headers[
        "location"
    ]
    back = urlsplit(location)
    return start, client.get(f"{back.path}?{back.query}")


# --- What a test asserts ----------------------------------------------------------------------


def session_user(client: Client) -> User | None:
    pk = client.session.get("_auth_user_id")
    return User.objects.get(pk=pk) if pk else None


def failed_checks(connection: Connection) -> list[str]:
    return [
        e.data.get("check")
        for e in AuditEvent.objects.filter(action="sso.login_failed").order_by("occurred_at")
        if e.data.get("connection") == connection.slug
    ]


def assert_refused(client: Client, response, connection: Connection, check: str | None) -> None:
    """A refusal: 4xx, no session, the named check on record (when given)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:800])
    assert session_user(client) is None
    if check is not None:
        assert failed_checks(connection)[-1:] == [check], failed_checks(connection)
