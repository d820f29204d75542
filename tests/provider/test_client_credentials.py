"""Client credentials (RFC 6749 4.4) for M2M apps: HMAC-checked secrets, one API per token
(RFC 8707), permissions capped by what the app was given, tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from jwcrypto import jwk, jwt

from audit.models import AuditEvent
from organizations.models import Organization
from provider import keys
from provider.models import AccessToken
from provider.services.applications import create_application, rotate_client_secret
from tests.conftest import require
from tests.provider.conftest import as_client

TOKEN = "/o/token/"


def grant(client, backend, **body):
    body.setdefault("grant_type", "client_credentials")
    return client.post(TOKEN, body, HTTP_AUTHORIZATION=backend.basic())


def test_backend_gets_a_jwt_for_the_api_it_names(client, backend, invoices_api):
    response = grant(client, backend, resource=invoices_api.identifier, scope="invoices:read")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "invoices:read"
    assert body["expires_in"] == invoices_api.access_token_lifetime
    assert "refresh_token" not in body

    token = jwt.JWT(jwt=body["access_token"], key=keys.public_keyset(), algs=["RS256"])
    header = token.token.jose_header
    assert header["typ"] == "at+jwt"
    claims = json.loads(token.claims)
    assert claims["aud"] == invoices_api.identifier
    assert claims["sub"] == backend.client_id
    assert claims["client_id"] == backend.client_id
    assert claims["scope"] == "invoices:read"


def test_the_database_keeps_only_the_tokens_checksum(client, backend, invoices_api):
    body = grant(client, backend, resource=invoices_api.identifier).json()
    row = AccessToken.objects.get()
    assert row.token == ""
    assert row.token_checksum == hashlib.sha256(body["access_token"].encode()).hexdigest()
    assert row.api == invoices_api
    assert row.resource == [invoices_api.identifier]


def test_a_permission_the_app_was_not_given_is_refused(client, backend, invoices_api):
    response = grant(client, backend, resource=invoices_api.identifier, scope="invoices:write")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert not AccessToken.objects.exists()


def test_an_api_the_app_has_no_access_to_is_an_invalid_target(client, backend):
    response = grant(client, backend, resource="https://elsewhere.example.com/")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert not AccessToken.objects.exists()


def test_two_apis_in_one_request_are_refused(client, backend, invoices_api, reports_api):
    response = client.post(
        TOKEN,
        f"grant_type=client_credentials&resource={invoices_api.identifier}"
        f"&resource={reports_api.identifier}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=backend.basic(),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_another_apis_permission_is_refused_for_this_api(client, backend, invoices_api):
    response = grant(client, backend, resource=invoices_api.identifier, scope="reports:read")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_opaque_api_gets_an_opaque_token(client, backend, reports_api):
    body = grant(client, backend, resource=reports_api.identifier).json()
    assert body["access_token"].count(".") == 0
    assert body["scope"] == "reports:read"


@pytest.mark.parametrize("secret", ["", "wrong", None])
def test_wrong_or_missing_secret_is_invalid_client(client, backend, invoices_api, secret):
    backend.secret = secret
    response = grant(client, backend, resource=invoices_api.identifier)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


def test_secret_in_body_works_but_not_with_basic_as_well(client, backend, invoices_api):
    ok = client.post(
        TOKEN,
        {
            "grant_type": "client_credentials",
            "client_id": backend.client_id,
            "client_secret": backend.secret,
            "resource": invoices_api.identifier,
        },
    )
    assert ok.status_code == 200
    both = client.post(
        TOKEN,
        {"grant_type": "client_credentials", "client_secret": backend.secret},
        HTTP_AUTHORIZATION=backend.basic(),
    )
    assert both.status_code == 401


def test_secret_is_stored_as_a_keyed_digest_only(backend):
    app = backend.application
    app.refresh_from_db()
    assert backend.secret not in (app.client_secret, app.secret_digest)
    assert len(app.secret_digest) == 64
    assert not app.hash_client_secret


def test_rotation_keeps_the_old_secret_during_the_overlap_only(client, backend, invoices_api):
    old = backend.secret
    new = rotate_client_secret(actor=None, application=backend.application)
    backend.secret = new
    assert grant(client, backend, resource=invoices_api.identifier).status_code == 200
    backend.secret = old
    assert grant(client, backend, resource=invoices_api.identifier).status_code == 200

    newest = rotate_client_secret(actor=None, application=backend.application, overlap=timedelta(0))
    for stale in (old, new):
        backend.secret = stale
        assert grant(client, backend, resource=invoices_api.identifier).status_code == 401
    backend.secret = newest
    assert grant(client, backend, resource=invoices_api.identifier).status_code == 200
    rotations = AuditEvent.objects.filter(action="oauth.client_secret_rotated")
    assert rotations.count() == 2
    assert newest not in str(list(rotations.values_list("data", flat=True)))


def test_issuance_is_audited_without_the_token(client, backend, invoices_api):
    body = grant(client, backend, resource=invoices_api.identifier).json()
    event = AuditEvent.objects.get(action="oauth.token_issued")
    assert event.data["client_id"] == backend.client_id
    assert event.data["api"] == invoices_api.identifier
    assert body["access_token"] not in str(event.data)


def test_token_does_not_verify_under_another_key_with_the_same_kid(client, backend, invoices_api):
    body = grant(client, backend, resource=invoices_api.identifier).json()
    kid = jwt.JWT(jwt=body["access_token"]).token.jose_header["kid"]
    stranger = jwk.JWKSet()
    stranger.add(jwk.JWK.generate(kty="RSA", size=2048, kid=kid))
    with pytest.raises(jwt.JWTMissingKey):  # no key in the set verifies it
        jwt.JWT(jwt=body["access_token"], key=stranger, algs=["RS256"])


def test_token_requests_are_limited_per_client(client, backend, invoices_api, settings):
    settings.GATEHOUSE_OAUTH_TOKEN_REQUESTS_PER_MINUTE = 3
    statuses = [
        grant(client, backend, resource=invoices_api.identifier).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    refused = grant(client, backend, resource=invoices_api.identifier)
    assert refused.json()["error"] == "slow_down"
    assert int(refused["Retry-After"]) > 0
    assert AccessToken.objects.count() == 3


def test_an_org_bound_backends_token_names_its_organization(client, invoices_api):
    org = Organization.objects.create(name="Acme", slug="acme")
    bound = create_application(
        actor=None,
        name="Acme sync",
        kind="m2m",
        organization=org,
        apis={invoices_api: ["invoices:read"]},
    )
    backend = as_client(bound)
    body = grant(client, backend, resource=invoices_api.identifier).json()
    claims = json.loads(jwt.JWT(jwt=body["access_token"], key=keys.public_keyset()).claims)
    assert claims["org_id"] == str(org.public_id)
    assert claims["org_slug"] == "acme"
    row = AccessToken.objects.get()
    assert row.organization == org
    event = AuditEvent.objects.get(action="oauth.token_issued")
    assert event.organization_id == org.pk


# The client (its HMAC-checked secret); its API access with the APIs; the token and its audit
# event, written together in one statement (accounts.login_writes).
CLIENT_CREDENTIALS_STATEMENTS = 3


def test_a_grant_sends_three_statements_one_of_them_a_write(client, backend, invoices_api):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    grant(client, backend, resource=invoices_api.identifier)  # the first request's one-off reads
    issued = AuditEvent.objects.filter(action="oauth.token_issued").count()

    with CaptureQueriesContext(connection) as sent:
        response = grant(client, backend, resource=invoices_api.identifier)

    assert response.status_code == 200, response.content
    sql = [query["sql"] for query in sent.captured_queries]
    assert len(sql) == CLIENT_CREDENTIALS_STATEMENTS, "\n".join(s[:160] for s in sql)
    writes = [s for s in sql if not s.startswith("SELECT")]
    assert len(writes) == 1, writes
    assert "INSERT" in writes[0]
    assert '"audit_auditevent"' in writes[0]
    stored = hashlib.sha256(response.json()["access_token"].encode()).hexdigest()
    assert AccessToken.objects.filter(
        token_checksum=stored, application=backend.application
    ).exists()
    assert AuditEvent.objects.filter(action="oauth.token_issued").count() == issued + 1
