"""What Gatehouse's SCIM service is, described once with scim2-models: the resource models it
serves, the policy it reads directories' payloads under, and the three discovery endpoints
(RFC 7644 §4) built from that description. No schema JSON is written by hand: ``/Schemas``
is what the models say about themselves, so a change to a model changes what is published.
"""

from __future__ import annotations

from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    External,
    Filter,
    Group,
    ListResponse,
    Meta,
    NotFoundException,
    Patch,
    Reference,
    ResourceType,
    Schema,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

# The resource types Gatehouse serves: users with the enterprise extension, and groups.
UserResource = User[EnterpriseUser]
GroupResource = Group

MAX_RESULTS = 200
DOCUMENTATION = "https://gatehouse.dev/docs/scim"

# How much Gatehouse tolerates from the directories it knows (docs/scim.md §2): Entra's member
# removal by a value array, and its "Replace emails[type eq "work"].value" on a user with no
# work address yet. Attributes no schema declares stay refused (unknown=forbid), so a typo or
# an unsupported extension is an error, never silently dropped.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.forbid,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

CONFIG = ServiceProviderConfig(
    documentation_uri=Reference[External](DOCUMENTATION),
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    # Passwords are never taken from a directory: people sign in through the org's SSO.
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=True),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="Bearer token",
            description="The directory's token from the organization's SCIM tab.",
            primary=True,
        )
    ],
)

PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group],
    resource_types=[ResourceType.from_resource(UserResource), ResourceType.from_resource(Group)],
    config=CONFIG,
    policy=POLICY,
)


def _with_meta(obj: Any, base_url: str, resource_type: str, path: str) -> Any:
    return obj.model_copy(
        update={"meta": Meta(resource_type=resource_type, location=f"{base_url}{path}")}
    )


def _dump(obj: Any) -> dict[str, Any]:
    return obj.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _listed(model: type[Any], items: list[Any]) -> dict[str, Any]:
    response = ListResponse[model](  # type: ignore[valid-type]
        total_results=len(items), start_index=1, items_per_page=len(items), resources=items
    )
    return response.model_dump(scim_ctx=Context.SEARCH_RESPONSE)


def service_provider_config(base_url: str) -> dict[str, Any]:
    return _dump(_with_meta(CONFIG, base_url, "ServiceProviderConfig", "ServiceProviderConfig"))


def _schema(schema: Schema, base_url: str) -> Schema:
    return _with_meta(schema, base_url, "Schema", f"Schemas/{schema.id}")  # type: ignore[no-any-return]


def _resource_type(resource_type: ResourceType, base_url: str) -> ResourceType:
    return _with_meta(  # type: ignore[no-any-return]
        resource_type, base_url, "ResourceType", f"ResourceTypes/{resource_type.id}"
    )


def schemas(base_url: str) -> dict[str, Any]:
    return _listed(Schema, [_schema(schema, base_url) for schema in PROVIDER.schemas])


def schema(base_url: str, urn: str) -> dict[str, Any]:
    for candidate in PROVIDER.schemas:
        if str(candidate.id).casefold() == urn.casefold():
            return _dump(_schema(candidate, base_url))
    raise NotFoundException(detail=f"No schema {urn}.")


def resource_types(base_url: str) -> dict[str, Any]:
    return _listed(
        ResourceType, [_resource_type(item, base_url) for item in PROVIDER.resource_types]
    )


def resource_type(base_url: str, name: str) -> dict[str, Any]:
    for candidate in PROVIDER.resource_types:
        if str(candidate.id).casefold() == name.casefold():
            return _dump(_resource_type(candidate, base_url))
    raise NotFoundException(detail=f"No resource type {name}.")
