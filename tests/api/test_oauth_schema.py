"""The OpenAPI document describes the OAuth 2 scheme backends use (client credentials at
/o/token/, every permission of the management API) and, on each operation, the permissions
its token needs; operations that take no token list the session only."""

from __future__ import annotations

import json

from django.test import Client

from provider.management_api import PERMISSIONS


def schema(db) -> dict:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content[:300]
    return json.loads(response.content)


def test_the_oauth2_scheme_lists_the_client_credentials_flow_and_every_permission(db):
    scheme = schema(db)["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/o/token/"
    assert flow["scopes"] == PERMISSIONS


def test_each_operation_names_the_permissions_its_method_needs(db):
    paths = schema(db)["paths"]

    def needs(path: str, method: str) -> list[list[str]]:
        return [r["oauth2"] for r in paths[path][method]["security"] if "oauth2" in r]

    assert needs("/api/v1/users/", "get") == [["users:read"]]
    assert needs("/api/v1/users/", "post") == [["users:write"]]
    assert needs("/api/v1/users/{user_id}/factors/reset/", "post") == [["users:write"]]
    assert needs("/api/v1/organizations/", "get") == [["organizations:read"]]
    assert needs("/api/v1/users/{user_id}/consents/", "get") == [["consent:read"]]
    assert needs("/api/v1/applications/", "post") == [["clients:write"]]
    # A person's own endpoints take sessions only.
    assert needs("/api/v1/me/consents/", "get") == []
    # Every scope an operation asks for is one the scheme defines.
    for path, operations in paths.items():
        for method, operation in operations.items():
            for requirement in operation.get("security", []):
                assert set(requirement.get("oauth2", [])) <= set(PERMISSIONS), (path, method)


def test_every_organization_write_names_organizations_write(db):
    paths = schema(db)["paths"]
    writes = [
        (path, method, operation)
        for path, operations in paths.items()
        if path.startswith("/api/v1/organizations/")
        for method, operation in operations.items()
        if method in ("post", "patch", "put", "delete")
    ]
    # Checking the audit log against a checkpoint is a POST that only reads.
    (verify,) = [op for path, method, op in writes if path.endswith("/audit/verify")]
    assert [r["oauth2"] for r in verify["security"] if "oauth2" in r] == [["audit:read"]]
    writes = [w for w in writes if not w[0].endswith("/audit/verify")]
    assert len(writes) == 11
    for path, method, operation in writes:
        tokens = [r["oauth2"] for r in operation["security"] if "oauth2" in r]
        assert tokens == [["organizations:write"]], (path, method)
    # How an app names the first owner of an organization it creates.
    request = schema(db)["components"]["schemas"]["OrganizationRequest"]
    assert "owner_email" in request["properties"]
    assert "owner_email" not in request["required"]
