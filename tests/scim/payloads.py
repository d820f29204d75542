"""Request bodies as directories send them, for the SCIM tests."""

from __future__ import annotations

from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
ENTRA_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def user(user_name: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": user_name}
    body.update(extra)
    return body


def work_user(user_name: str, **extra: Any) -> dict[str, Any]:
    """A user with their userName as work address, as Entra and Okta usually send."""
    return user(user_name, emails=[{"value": user_name, "type": "work", "primary": True}], **extra)


def group(display_name: str, members: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": display_name}
    if members is not None:
        body["members"] = [{"value": member} for member in members]
    body.update(extra)
    return body


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def create(client: Any, body: dict[str, Any], endpoint: str = "Users") -> dict[str, Any]:
    """POST ``body`` and return the created resource (asserting the 201)."""
    response = client.post(endpoint, body)
    assert response.status_code == 201, response.content
    return response.json()


def assert_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """``response`` is a SCIM Error with this status (and scimType)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body
