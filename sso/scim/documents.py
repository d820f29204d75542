"""Between stored rows and SCIM resources.

A ``ScimUser``/``ScimGroup`` keeps the resource as the directory sent it (``document``: the
validated resource without ``id``, ``meta`` or ``password``), so a GET returns what was
written, as Entra asks and scim2-tester checks attribute by attribute. The few attributes
Gatehouse queries on are copied into indexed columns (``columns_of_user``/``columns_of_group``),
``userName`` and a group's ``displayName`` through the policy's comparison key (NFC, lower
case), which is what makes them unique per directory.
"""

from __future__ import annotations

import uuid
from typing import Any

from scim2_models import (
    Context,
    InvalidValueException,
    Meta,
    Path,
    User,
)

from sso.scim.discovery import POLICY, GroupResource, UserResource
from sso.scim.models import ScimGroup, ScimUser

_USER_NAME = Path[UserResource]("userName").resolve()
_GROUP_NAME = Path[GroupResource]("displayName").resolve()


def etag(version: int) -> str:
    return f'W/"{version}"'


def comparison_key(binding: Any, value: str) -> str:
    """The form a value is compared and kept unique in (``ScimPolicy.comparison_key``)."""
    try:
        return POLICY.comparison_key(binding, value)
    except ValueError:
        raise InvalidValueException(detail="The value cannot be compared.") from None


def user_name_key(value: str) -> str:
    return comparison_key(_USER_NAME, value)


def group_name_key(value: str) -> str:
    return comparison_key(_GROUP_NAME, value)


def parse_id(value: str) -> uuid.UUID | None:
    """A SCIM id as Gatehouse issues them (a UUID), or None for anything else."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def stored_document(resource: Any) -> dict[str, Any]:
    """What is kept of a resource: everything a client may write, never a password (Okta
    sends one; Gatehouse takes no passwords from a directory, trap T3)."""
    if isinstance(resource, User):
        resource.password = None
    document: dict[str, Any] = resource.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    return document


def _work_email(resource: Any) -> str:
    for email in resource.emails or []:
        if email.type is not None and str(email.type.value).lower() == "work" and email.value:
            return str(email.value).lower()
    return ""


# What the indexed columns hold (sso.scim.models); a longer value is the caller's error.
MAX_NAME_LENGTH = 255


def _name(value: str | None, attribute: str) -> str:
    if not value or not value.strip():
        raise InvalidValueException(detail=f"{attribute} must not be empty.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidValueException(detail=f"{attribute} is longer than {MAX_NAME_LENGTH}.")
    return value


def _external_id(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_NAME_LENGTH:
        raise InvalidValueException(detail=f"externalId is longer than {MAX_NAME_LENGTH}.")
    return value


def columns_of_user(resource: Any) -> dict[str, Any]:
    user_name = _name(resource.user_name, "userName")
    return {
        "user_name": user_name,
        "user_name_key": user_name_key(user_name),
        "external_id": _external_id(resource.external_id),
        "work_email": _work_email(resource),
        "display_name": (resource.display_name or "")[:255],
        "active": resource.active is not False,
        "document": stored_document(resource),
    }


def columns_of_group(resource: Any) -> dict[str, Any]:
    display_name = _name(resource.display_name, "displayName")
    return {
        "display_name": display_name,
        "display_name_key": group_name_key(display_name),
        "external_id": _external_id(resource.external_id),
        "document": stored_document(resource),
    }


def _meta(row: ScimUser | ScimGroup, base_url: str, kind: str) -> Meta:
    return Meta(
        resource_type=kind,
        created=row.created_at,
        last_modified=row.updated_at,
        location=f"{base_url}{kind}s/{row.public_id}",
        version=etag(row.version),
    )


def user_resource(row: ScimUser, base_url: str = "") -> Any:
    """The stored user as a resource (validated again from its document)."""
    resource = UserResource.model_validate(row.document)
    resource.id = str(row.public_id)
    resource.meta = _meta(row, base_url, "User")
    return resource


def group_resource(row: ScimGroup, base_url: str = "") -> Any:
    resource = GroupResource.model_validate(row.document)
    resource.id = str(row.public_id)
    resource.meta = _meta(row, base_url, "Group")
    return resource


def member_ids(resource: Any) -> list[uuid.UUID]:
    """The user ids a group resource names as members, each once. A member that is not a
    user of this service (another group, a made-up id) is the caller's error."""
    ids: list[uuid.UUID] = []
    for member in resource.members or []:
        if member.type is not None and str(member.type).lower() != "user":
            raise InvalidValueException(detail="Groups hold users only.")
        parsed = parse_id(member.value or "")
        if parsed is None:
            raise InvalidValueException(detail="A member value names no user of this directory.")
        if parsed not in ids:
            ids.append(parsed)
    return ids


def changed_attributes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The names of the top-level attributes whose values differ (for the audit log, which
    names attributes and never their values)."""
    names = (set(before) | set(after)) - {"schemas"}
    return sorted(name for name in names if before.get(name) != after.get(name))
