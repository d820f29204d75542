"""docs/resource-servers.md's examples, run as written against a live Gatehouse: the Python one
(PyJWT) and the Node one (jose). Each accepts Gatehouse's access token for its API and refuses
a token for another API, an ID-token-typed JWT signed by the same key, an expired token and a
tampered one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from django.conf import settings
from django.test import Client
from jwcrypto import jwt as jose_jwt

from provider import keys
from provider.services.keys import activate_next_key, publish_next_key
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "resource-servers.md"
RS_DIR = Path(__file__).resolve().parent / "rs"

pytestmark = pytest.mark.django_db(transaction=True)


def code_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, f"no {language} block in {DOC}"
    return str(blocks[0])


def issue(backend, api) -> str:
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "resource": api.identifier},
        HTTP_AUTHORIZATION=backend.basic(),
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


def forged(api, **changes: Any) -> str:
    """A token signed by Gatehouse's own active key, with ``changes`` to its header or claims:
    what only a bug in the verifier would accept."""
    key = keys.active_key(api.signing_alg)
    now = int(time.time())
    header = {"alg": key.alg, "kid": key.kid, "typ": changes.pop("typ", "at+jwt")}
    claims = {
        "iss": settings.GATEHOUSE_PUBLIC_URL,
        "aud": api.identifier,
        "sub": "someone",
        "client_id": "someone",
        "iat": now,
        "exp": now + 300,
        "scope": "invoices:read",
    } | changes
    token = jose_jwt.JWT(header=header, claims=claims)
    token.make_signed_token(key.private)
    return str(token.serialize())


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(pyjwt.utils.base64url_decode(payload))
    claims["scope"] = "invoices:read invoices:write"
    payload = pyjwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{payload}.{signature}"


@pytest.fixture
def python_verifier(live_server, invoices_api) -> dict[str, Any]:
    """The documented Python example, executed, pointed at the live server's JWKS."""
    namespace: dict[str, Any] = {}
    exec(compile(code_block("python"), str(DOC), "exec"), namespace)  # noqa: S102 - our own doc
    namespace["ISSUER"] = settings.GATEHOUSE_PUBLIC_URL
    namespace["AUDIENCE"] = invoices_api.identifier
    # As documented, except that the test does not wait PyJWT's 30 s between fetches for an
    # unknown kid (the rotation test activates a key at once; Gatehouse waits an hour).
    namespace["jwks"] = pyjwt.PyJWKClient(
        live_server.url + "/o/.well-known/jwks.json",
        cache_jwk_set=True,
        lifespan=3600,
        cooldown_duration=0,
    )
    return namespace


def test_the_python_example_accepts_a_token_for_its_api(python_verifier, backend, invoices_api):
    claims = python_verifier["verify_access_token"](issue(backend, invoices_api))
    assert claims["aud"] == invoices_api.identifier
    assert claims["sub"] == backend.client_id
    python_verifier["require_permission"](claims, "invoices:read")
    with pytest.raises(PermissionError):
        python_verifier["require_permission"](claims, "invoices:write")


def test_the_python_example_refuses_what_it_must(
    python_verifier, backend, invoices_api, reports_api, signing_keys
):
    from provider.services.apis import create_api
    from provider.services.applications import allow_api

    other = create_api(
        actor=None, identifier="https://other.example.com/", name="Other", scopes={"x:read": "x"}
    )
    allow_api(actor=None, application=backend.application, api=other, scopes=["x:read"])
    verify = python_verifier["verify_access_token"]
    good = issue(backend, invoices_api)
    refused = {
        "another API's token": (issue(backend, other), pyjwt.InvalidAudienceError),
        "an ID-token-typed JWT": (forged(invoices_api, typ="JWT"), pyjwt.InvalidTokenError),
        "an expired token": (
            forged(invoices_api, exp=int(time.time()) - 60),
            pyjwt.ExpiredSignatureError,
        ),
        "another issuer": (
            forged(invoices_api, iss="https://evil.example"),
            pyjwt.InvalidIssuerError,
        ),
        "a tampered token": (tampered(good), pyjwt.InvalidSignatureError),
    }
    for what, (token, error) in refused.items():
        try:
            verify(token)
        except error:
            continue
        pytest.fail(f"the example accepted {what}")


def test_the_python_example_follows_a_key_rotation(python_verifier, backend, invoices_api):
    before = issue(backend, invoices_api)
    python_verifier["verify_access_token"](before)  # the key set is cached now
    publish_next_key(actor=None, alg=invoices_api.signing_alg)
    activate_next_key(actor=None, alg=invoices_api.signing_alg, force=True)
    after = issue(backend, invoices_api)
    assert pyjwt.get_unverified_header(after)["kid"] != pyjwt.get_unverified_header(before)["kid"]
    python_verifier["verify_access_token"](after)  # an unknown kid: fetched again
    python_verifier["verify_access_token"](before)  # the old key is retiring, still published


def node_verify(live_server, api, token: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        ["node", "verify.mjs", token],
        cwd=RS_DIR,
        env={
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "GATEHOUSE_ISSUER": settings.GATEHOUSE_PUBLIC_URL,
            "API_IDENTIFIER": api.identifier,
            "GATEHOUSE_JWKS": live_server.url + "/o/.well-known/jwks.json",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, json.loads(result.stdout or "{}")


def test_the_node_example_is_the_documented_one():
    assert (RS_DIR / "verify.mjs").read_text() == code_block("js")


def test_the_node_example_accepts_its_apis_token_and_refuses_the_rest(
    live_server, backend, invoices_api, reports_api
):
    require(
        shutil.which("node") is not None and (RS_DIR / "node_modules" / "jose").is_dir(),
        f"node and the npm package jose: run `npm ci` in {RS_DIR}",
    )
    status, claims = node_verify(live_server, invoices_api, issue(backend, invoices_api))
    assert status == 0, claims
    assert claims["aud"] == invoices_api.identifier
    assert claims["client_id"] == backend.client_id

    good = issue(backend, invoices_api)
    refused = {
        "ERR_JWT_CLAIM_VALIDATION_FAILED": [forged(invoices_api, aud="https://other.example/")],
        "ERR_JWT_EXPIRED": [forged(invoices_api, exp=int(time.time()) - 60)],
        "ERR_JWS_SIGNATURE_VERIFICATION_FAILED": [tampered(good)],
    }
    for code, tokens in refused.items():
        for token in tokens:
            status, answer = node_verify(live_server, invoices_api, token)
            assert status == 1
            assert answer["error"] == code, answer
    status, answer = node_verify(live_server, invoices_api, forged(invoices_api, typ="JWT"))
    assert status == 1
    assert "typ" in answer["message"], answer
