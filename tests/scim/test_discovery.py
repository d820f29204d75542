"""The discovery endpoints (RFC 7644 §4) publish what scim2-models says about Gatehouse's
resources, and everything else under /scim/ answers in SCIM's error format."""

from __future__ import annotations

import pytest

from tests.scim.payloads import ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA, assert_error


def test_service_provider_config_says_what_is_supported(scim):
    response = scim.client.get("ServiceProviderConfig")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json; charset=utf-8"
    config = response.json()
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["changePassword"] == {"supported": False}
    assert config["etag"] == {"supported": True}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert config["meta"]["location"] == "http://testserver/scim/v2/ServiceProviderConfig"


def test_schemas_are_the_models_own_descriptions(scim):
    body = scim.client.get("Schemas").json()
    ids = [schema["id"] for schema in body["Resources"]]
    assert ids == [USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA]
    assert body["totalResults"] == 3
    user = body["Resources"][0]
    names = {attribute["name"] for attribute in user["attributes"]}
    assert {"userName", "emails", "active", "password"} <= names
    password = next(a for a in user["attributes"] if a["name"] == "password")
    assert password["returned"] == "never"


def test_one_schema_by_its_urn_in_any_case(scim):
    response = scim.client.get(f"Schemas/{GROUP_SCHEMA.upper()}")
    assert response.status_code == 200
    assert response.json()["id"] == GROUP_SCHEMA


def test_resource_types_name_the_endpoints_and_the_enterprise_extension(scim):
    body = scim.client.get("ResourceTypes").json()
    by_name = {item["name"]: item for item in body["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert by_name["Group"]["endpoint"] == "/Groups"
    assert scim.client.get("ResourceTypes/Group").json()["schema"] == GROUP_SCHEMA


@pytest.mark.parametrize("path", ["Schemas/urn:nope", "ResourceTypes/Pet", "Pets", "v3/Users"])
def test_unknown_paths_are_scim_404s(scim, path):
    assert_error(scim.client.get(path), 404)


def test_paths_outside_v2_are_scim_404s_too(scim):
    assert_error(scim.client.get("/scim/v1/Users"), 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_discovery_endpoints_only_answer_get(scim, method):
    response = scim.client.send(method, "ServiceProviderConfig", {})
    assert_error(response, 405)
    assert response["Allow"] == "GET"


def test_collection_refuses_methods_it_lacks(scim):
    response = scim.client.delete("Users")
    assert_error(response, 405)
    assert response["Allow"] == "GET, POST"


@pytest.mark.parametrize("path", ["Bulk", ".search"])
def test_bulk_and_root_search_are_not_implemented(scim, path):
    assert_error(scim.client.post(path, {"schemas": []}), 501)


def test_scim_404_from_the_full_stack_handler(rf):
    """The site's 404 handler answers in SCIM's format under /scim/ as well (for a request
    that reached the full stack rather than the SCIM middleware)."""
    from config.api_framework import page_not_found

    response = page_not_found(rf.get("/scim/v2/anything"))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/scim+json"
    assert b"urn:ietf:params:scim:api:messages:2.0:Error" in response.content
