"""The SCIM endpoints: thin views over ``sso.scim.services``.

Each view gets the request and the authenticated ``ScimCall`` from the transport
(``sso.scim.transport``), reads and validates the payload with scim2-models under the service's
policy, calls a service, and answers with the resource dumped in the response's context (with
``attributes``/``excludedAttributes`` applied) and its ``ETag``. Users and groups share the
views; a ``Kind`` says which models, rows, filters and services each uses.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from scim2_models import (
    Context,
    ListResponse,
    NotFoundException,
    NotImplementedException,
    PatchOp,
    ResponseParameters,
)

from sso.scim import discovery, documents, filters, listing, services
from sso.scim.discovery import GroupResource, UserResource
from sso.scim.errors import scim_response
from sso.scim.models import Directory, ScimGroup, ScimUser
from sso.scim.transport import ScimCall, endpoint, read_json

# Vendor schema URNs that carry no attributes and are dropped before validation (trap T2):
# Entra ID adds this one to every group it creates.
IGNORED_SCHEMAS = frozenset(
    {"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group".casefold()}
)
_FILTER_IN_PATH = re.compile(r"\[[^\]]*\]")
# What an attribute path may hold (names, dots, a schema URN's colons); matching always
# succeeds, with what precedes the first other character.
_ATTRIBUTE_PATH = re.compile(r"[A-Za-z0-9_.:$-]*")


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[Any]
    rows: Callable[[Directory], QuerySet[Any]]
    to_resource: Callable[[Any, str], Any]
    to_q: Callable[[Any], Any]
    sorts: dict[str, str]
    schema: str
    total: Callable[[Directory], int]
    create: Callable[..., Any]
    replace: Callable[..., Any]
    patch: Callable[..., Any]
    delete: Callable[..., None]


USERS = Kind(
    name="User",
    model=UserResource,
    rows=lambda directory: ScimUser.objects.for_directory(directory),
    to_resource=documents.user_resource,
    to_q=filters.user_filter,
    sorts=listing.USER_SORTS,
    schema=filters.USER_SCHEMA,
    total=lambda directory: directory.user_count,
    create=services.provision_user,
    replace=services.replace_user,
    patch=services.patch_user,
    delete=services.delete_user,
)
GROUPS = Kind(
    name="Group",
    model=GroupResource,
    rows=lambda directory: ScimGroup.objects.for_directory(directory),
    to_resource=documents.group_resource,
    to_q=filters.group_filter,
    sorts=listing.GROUP_SORTS,
    schema=filters.GROUP_SCHEMA,
    total=lambda directory: directory.group_count,
    create=services.create_group,
    replace=services.replace_group,
    patch=services.patch_group,
    delete=services.delete_group,
)


# --- Discovery -----------------------------------------------------------------------------------


@endpoint("GET", resource_type="ServiceProviderConfig")
def service_provider_config(request: HttpRequest, call: ScimCall) -> HttpResponse:
    return scim_response(discovery.service_provider_config(call.base_url))


@endpoint("GET", resource_type="Schema")
def schemas(request: HttpRequest, call: ScimCall) -> HttpResponse:
    return scim_response(discovery.schemas(call.base_url))


@endpoint("GET", resource_type="Schema")
def schema(request: HttpRequest, call: ScimCall, urn: str) -> HttpResponse:
    return scim_response(discovery.schema(call.base_url, urn))


@endpoint("GET", resource_type="ResourceType")
def resource_types(request: HttpRequest, call: ScimCall) -> HttpResponse:
    return scim_response(discovery.resource_types(call.base_url))


@endpoint("GET", resource_type="ResourceType")
def resource_type(request: HttpRequest, call: ScimCall, name: str) -> HttpResponse:
    return scim_response(discovery.resource_type(call.base_url, name))


@endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def not_implemented(request: HttpRequest, call: ScimCall) -> HttpResponse:
    """``/Bulk`` and the root ``/.search`` (searching users and groups at once)."""
    raise NotImplementedException(detail="Not supported by Gatehouse.")


# --- Users and groups ----------------------------------------------------------------------------


def _cleaned(body: dict[str, Any]) -> dict[str, Any]:
    """A resource body without what Gatehouse drops before validation: the vendor schema
    URNs of ``IGNORED_SCHEMAS`` (T2) and a password (Okta sends one; Gatehouse takes none,
    T3)."""
    cleaned = {key: value for key, value in body.items() if key.lower() != "password"}
    if isinstance(cleaned.get("schemas"), list):
        cleaned["schemas"] = [
            s
            for s in cleaned["schemas"]
            if not (isinstance(s, str) and s.casefold() in IGNORED_SCHEMAS)
        ]
    return cleaned


def _response_parameters(kind: Kind, request: HttpRequest) -> ResponseParameters[Any]:
    query = {
        key: value
        for key, value in request.GET.items()
        if key.lower() in {"attributes", "excludedattributes"}
    }
    data = {listing.PARAMETERS[key.lower()]: value for key, value in query.items()}
    return ResponseParameters[kind.model].model_validate(data)  # type: ignore[name-defined]


def _resource_response(
    kind: Kind,
    call: ScimCall,
    row: Any,
    context: Context,
    parameters: ResponseParameters[Any] | None,
    status: int = 200,
) -> HttpResponse:
    call.resource_id = row.public_id
    resource = kind.to_resource(row, call.base_url)
    body = resource.model_dump(scim_ctx=context, response_parameters=parameters)
    response = scim_response(body, status=status)
    response["ETag"] = documents.etag(row.version)
    if status == 201:
        response["Location"] = resource.meta.location
    return response


def _list(kind: Kind, call: ScimCall, query: dict[str, Any]) -> HttpResponse:
    request = listing.search_request(kind.model, query)
    if request.filter is not None:
        call.operation += " filtered"
    page = listing.page(
        kind.rows(call.directory),
        request,
        to_q=kind.to_q,
        sorts=kind.sorts,
        schema=kind.schema,
        unfiltered_total=lambda: kind.total(call.directory),
    )
    resources = [kind.to_resource(row, call.base_url) for row in page.rows]
    response = ListResponse[kind.model](  # type: ignore[name-defined]
        total_results=page.total,
        start_index=page.start_index,
        items_per_page=len(resources),
        resources=resources,
    )
    return scim_response(
        response.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=request)
    )


def _collection(kind: Kind, request: HttpRequest, call: ScimCall) -> HttpResponse:
    if request.method == "GET":
        call.operation = "GET list"
        return _list(kind, call, dict(request.GET.items()))
    # attributes/excludedAttributes are checked before anything is written: a write is
    # never committed and then answered with an error.
    parameters = _response_parameters(kind, request)
    body = _cleaned(read_json(request))
    resource = kind.model.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    row = kind.create(directory=call.directory, resource=resource, actor=call.actor)
    return _resource_response(kind, call, row, Context.RESOURCE_CREATION_RESPONSE, parameters, 201)


def _search(kind: Kind, request: HttpRequest, call: ScimCall) -> HttpResponse:
    call.operation = "POST .search"
    body = read_json(request)
    query = {key: value for key, value in body.items() if key.lower() != "schemas"}
    return _list(kind, call, query)


def _attribute_name(path: object) -> str:
    """The attribute a PATCH path names, without its filter or anything after a character
    no attribute name has: a malformed path must not carry a value into the log."""
    bare = _FILTER_IN_PATH.sub("", str(path))
    return _ATTRIBUTE_PATH.match(bare).group().rsplit(":", 1)[-1]  # type: ignore[union-attr]


def _patch_summary(body: dict[str, Any]) -> str:
    """What a PATCH does, by operation and attribute name only ("PATCH replace active"):
    filters in paths are left out, as they hold values."""
    parts = []
    operations = body.get("Operations") or body.get("operations") or []
    for operation in operations if isinstance(operations, list) else []:
        if not isinstance(operation, dict):
            continue
        op = str(operation.get("op", "")).lower()[:10]
        path = operation.get("path")
        if isinstance(path, str):
            names = [path]
        elif isinstance(operation.get("value"), dict):
            names = list(operation["value"])
        else:
            names = []
        attributes = [_attribute_name(name) for name in names]
        parts.append(f"{op} {','.join(attributes)}".strip())
    return ("PATCH " + "; ".join(parts))[:120]


def _item(kind: Kind, request: HttpRequest, call: ScimCall, public_id: str) -> HttpResponse:
    parsed = documents.parse_id(public_id)
    if parsed is None:
        raise NotFoundException(detail="No such resource.")
    call.resource_id = parsed
    if request.method == "GET":
        return _read(kind, request, call, parsed)
    if_match = request.headers.get("If-Match")
    common = {"directory": call.directory, "public_id": parsed, "if_match": if_match}
    if request.method == "DELETE":
        kind.delete(**common, actor=call.actor)
        return scim_response(None, status=204)
    parameters = _response_parameters(kind, request)  # checked before anything is written
    body = read_json(request)
    if request.method == "PUT":
        body = _cleaned(body)
        resource = kind.model.model_validate(body, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
        extra = (
            {"active_sent": any(key.lower() == "active" for key in body)} if kind is USERS else {}
        )
        row = kind.replace(**common, resource=resource, actor=call.actor, **extra)
        context = Context.RESOURCE_REPLACEMENT_RESPONSE
    else:
        call.operation = _patch_summary(body)
        patch = PatchOp[kind.model].model_validate(  # type: ignore[name-defined]
            body, scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
        row = kind.patch(**common, patch=patch, actor=call.actor)
        context = Context.RESOURCE_PATCH_RESPONSE
    return _resource_response(kind, call, row, context, parameters)


def _read(kind: Kind, request: HttpRequest, call: ScimCall, public_id: uuid.UUID) -> HttpResponse:
    row = kind.rows(call.directory).filter(public_id=public_id).first()
    if row is None:
        raise NotFoundException(detail="No such resource.")
    current = documents.etag(row.version)
    wanted = request.headers.get("If-None-Match")
    if wanted and any(
        tag.strip() == "*" or tag.strip().removeprefix("W/") == current.removeprefix("W/")
        for tag in wanted.split(",")
    ):
        response = scim_response(None, status=304)
        response["ETag"] = current
        return response
    return _resource_response(
        kind, call, row, Context.RESOURCE_QUERY_RESPONSE, _response_parameters(kind, request)
    )


@endpoint("GET", "POST", resource_type="User")
def users(request: HttpRequest, call: ScimCall) -> HttpResponse:
    return _collection(USERS, request, call)


@endpoint("POST", resource_type="User")
def users_search(request: HttpRequest, call: ScimCall) -> HttpResponse:
    return _search(USERS, request, call)


@endpoint("GET", "PUT", "PATCH", "DELETE", resource_type="User")
def user(request: HttpRequest, call: ScimCall, public_id: str) -> HttpResponse:
    return _item(USERS, request, call, public_id)


@endpoint("GET", "POST", resource_type="Group")
def groups(request: HttpRequest, call: ScimCall) -> HttpResponse:
    return _collection(GROUPS, request, call)


@endpoint("POST", resource_type="Group")
def groups_search(request: HttpRequest, call: ScimCall) -> HttpResponse:
    return _search(GROUPS, request, call)


@endpoint("GET", "PUT", "PATCH", "DELETE", resource_type="Group")
def group(request: HttpRequest, call: ScimCall, public_id: str) -> HttpResponse:
    return _item(GROUPS, request, call, public_id)
