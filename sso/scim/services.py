"""The write path for what a directory sends: its users, its groups and their members.

Each function is a ``@service``: one transaction that writes the ``ScimUser``/``ScimGroup``
rows, keeps the directory's counters, records the audit event with the directory as actor,
and then hands over to ``sso.scim.accounts`` (accounts and memberships) in that same
transaction, so a refused change leaves nothing behind. The protocol layer (``sso.scim.views``)
has parsed and validated the payload with scim2-models; what is checked here needs the stored
state: the row exists in this directory, ``If-Match``, uniqueness, and that group members name
users of this directory.

Audit data names attributes and counts, never their values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import F
from django.utils import timezone
from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PatchOp,
    PreconditionFailedException,
    UniquenessException,
)

from audit.actions import Action
from audit.services import record
from config.refusals import service
from organizations.services.members import lock_members
from sso.scim import accounts, documents
from sso.scim.actor import DirectoryActor
from sso.scim.models import Directory, ScimGroup, ScimGroupMember, ScimUser

# --- Shared checks -------------------------------------------------------------------------------


def check_if_match(if_match: str | None, version: int) -> None:
    """``If-Match`` (RFC 7644 §3.14): the write goes ahead only if the caller saw the current
    version. Weak and strong forms of the tag compare equal; ``*`` matches any version."""
    if if_match is None:
        return
    current = documents.etag(version)
    for tag in (part.strip() for part in if_match.split(",")):
        if tag == "*" or tag.removeprefix("W/") == current.removeprefix("W/"):
            return
    raise PreconditionFailedException(detail="The resource has changed since that version.")


def _begin(directory: Directory) -> None:
    """Every write starts with the organization's member lock, before any row of its own:
    one order for every writer (these services, the accounts layer beneath them, the SCIM
    tab, the portal's member changes), so two writes never wait on each other in a circle.
    It also serialises one organization's directory writes, which the accounts layer needs
    (two records never race for one account)."""
    lock_members(directory.organization)


def _locked(queryset: Any, public_id: uuid.UUID) -> Any:
    row = queryset.select_for_update().filter(public_id=public_id).first()
    if row is None:
        raise NotFoundException(detail="No such resource.")
    return row


def _save(row: ScimUser | ScimGroup, columns: dict[str, Any]) -> None:
    for name, value in columns.items():
        setattr(row, name, value)
    row.version += 1
    row.updated_at = timezone.now()
    row.save()


def _audit(action: Action, actor: DirectoryActor, target: Any, **data: Any) -> None:
    record(
        action,
        actor=actor,
        organization=actor.directory.organization_id,
        target=target,
        data=data,
    )


# --- Users ---------------------------------------------------------------------------------------


def _unique_user(directory: Directory, columns: dict[str, Any], pk: int | None) -> None:
    others = ScimUser.objects.for_directory(directory)
    if pk is not None:
        others = others.exclude(pk=pk)
    if others.filter(user_name_key=columns["user_name_key"]).exists():
        raise UniquenessException(detail="Another user of this directory has that userName.")
    external_id = columns["external_id"]
    if external_id is not None and others.filter(external_id=external_id).exists():
        raise UniquenessException(detail="Another user of this directory has that externalId.")


@service
def provision_user(*, directory: Directory, resource: Any, actor: DirectoryActor) -> ScimUser:
    """POST /Users: a new record of the directory (and, if admitted, an account)."""
    _begin(directory)
    columns = documents.columns_of_user(resource)
    _unique_user(directory, columns, None)
    row = ScimUser.objects.create(
        directory=directory, organization_id=directory.organization_id, **columns
    )
    Directory.objects.filter(pk=directory.pk).update(user_count=F("user_count") + 1)
    _audit(
        Action.SCIM_USER_PROVISIONED,
        actor,
        row,
        attributes=documents.changed_attributes({}, row.document),
        active=row.active,
    )
    accounts.sync_user(row, previous_active=None, created=True, actor=actor)
    return row


def _update_user(row: ScimUser, resource: Any, actor: DirectoryActor) -> ScimUser:
    columns = documents.columns_of_user(resource)
    if resource.active is None:
        # "active" sent as null, or removed: the resource no longer states it, and the person
        # stays as they were. Only an explicit true brings a deactivated person back.
        columns["active"] = row.active
    changed = documents.changed_attributes(row.document, columns["document"])
    if not changed:
        if not row.active:
            # A deactivation sent again (after a 503): finish the sign-out that failed.
            accounts.sync_user(row, previous_active=False, created=False, actor=actor)
        return row
    _unique_user(row.directory, columns, row.pk)
    previous_active = row.active
    _save(row, columns)
    _audit(Action.SCIM_USER_UPDATED, actor, row, attributes=changed, active=row.active)
    accounts.sync_user(row, previous_active=previous_active, created=False, actor=actor)
    return row


def _user_for_write(directory: Directory, public_id: uuid.UUID, if_match: str | None) -> ScimUser:
    row: ScimUser = _locked(ScimUser.objects.for_directory(directory), public_id)
    row.directory = directory
    check_if_match(if_match, row.version)
    return row


@service
def replace_user(
    *,
    directory: Directory,
    public_id: uuid.UUID,
    resource: Any,
    active_sent: bool,
    if_match: str | None,
    actor: DirectoryActor,
) -> ScimUser:
    """PUT /Users/{id}. A PUT without ``active`` keeps the stored value (Okta's integrations
    send whole users without it) unless the directory says its PUTs mean "inactive" then
    (trap T13: the model cannot tell an absent ``active`` from null, so the view says)."""
    _begin(directory)
    row = _user_for_write(directory, public_id, if_match)
    stored = documents.user_resource(row)
    resource.replace(stored)
    if not active_sent:
        resource.active = False if directory.put_without_active_deactivates else stored.active
    return _update_user(row, resource, actor)


@service
def patch_user(
    *,
    directory: Directory,
    public_id: uuid.UUID,
    patch: PatchOp[Any],
    if_match: str | None,
    actor: DirectoryActor,
) -> ScimUser:
    """PATCH /Users/{id}: the operations applied to the stored resource, all or nothing."""
    _begin(directory)
    row = _user_for_write(directory, public_id, if_match)
    resource = documents.user_resource(row)
    patch.patch(resource)
    return _update_user(row, resource, actor)


@service
def delete_user(
    *, directory: Directory, public_id: uuid.UUID, if_match: str | None, actor: DirectoryActor
) -> None:
    """DELETE /Users/{id}: the membership ends as for a deactivation, the record goes (and
    with it its group memberships); the account, if any, stays."""
    _begin(directory)
    row = _user_for_write(directory, public_id, if_match)
    accounts.before_user_deleted(row, actor=actor)
    groups = ScimGroup.objects.select_for_update().filter(memberships__scim_user=row)
    for group in groups:
        _drop_members_from_document(group, {str(row.public_id)})
    _audit(Action.SCIM_USER_DELETED, actor, row, groups=len(groups))
    row.delete()
    Directory.objects.filter(pk=directory.pk).update(user_count=F("user_count") - 1)


# --- Groups --------------------------------------------------------------------------------------


def _unique_group(directory: Directory, columns: dict[str, Any], pk: int | None) -> None:
    others = ScimGroup.objects.for_directory(directory)
    if pk is not None:
        others = others.exclude(pk=pk)
    if others.filter(display_name_key=columns["display_name_key"]).exists():
        raise UniquenessException(detail="Another group of this directory has that displayName.")
    external_id = columns["external_id"]
    if external_id is not None and others.filter(external_id=external_id).exists():
        raise UniquenessException(detail="Another group of this directory has that externalId.")


def _members_of(directory: Directory, resource: Any) -> dict[uuid.UUID, int]:
    """The directory's users a group resource names: public id -> row id. A value naming no
    user of this directory (another directory's included) is ``invalidValue``: Gatehouse
    does not keep members it cannot resolve."""
    wanted = documents.member_ids(resource)
    found = dict(
        ScimUser.objects.for_directory(directory)
        .filter(public_id__in=wanted)
        .values_list("public_id", "pk")
    )
    if len(found) != len(wanted):
        raise InvalidValueException(detail="A member value names no user of this directory.")
    return found


def _set_members(group: ScimGroup, members: dict[uuid.UUID, int]) -> tuple[set[int], set[int]]:
    """Make the group's member rows those of ``members``; the row ids added and removed."""
    current = set(
        ScimGroupMember.objects.filter(group=group).values_list("scim_user_id", flat=True)
    )
    wanted = set(members.values())
    added, removed = wanted - current, current - wanted
    if removed:
        ScimGroupMember.objects.filter(group=group, scim_user_id__in=removed).delete()
    ScimGroupMember.objects.bulk_create(
        [ScimGroupMember(group=group, scim_user_id=pk) for pk in sorted(added)]
    )
    return added, removed


def _drop_members_from_document(group: ScimGroup, values: set[str]) -> None:
    kept = [m for m in group.document.get("members") or [] if m.get("value") not in values]
    document = dict(group.document)
    if kept:
        document["members"] = kept
    else:
        document.pop("members", None)
    _save(group, {"document": document})


def _members_changed(
    group: ScimGroup, added: set[int], removed: set[int], actor: DirectoryActor
) -> None:
    if not added and not removed:
        return
    _audit(Action.SCIM_GROUP_MEMBERS_CHANGED, actor, group, added=len(added), removed=len(removed))
    accounts.sync_roles(actor.directory, sorted(added | removed), actor=actor)


@service
def create_group(*, directory: Directory, resource: Any, actor: DirectoryActor) -> ScimGroup:
    """POST /Groups."""
    _begin(directory)
    columns = documents.columns_of_group(resource)
    _unique_group(directory, columns, None)
    members = _members_of(directory, resource)
    row = ScimGroup.objects.create(
        directory=directory, organization_id=directory.organization_id, **columns
    )
    Directory.objects.filter(pk=directory.pk).update(group_count=F("group_count") + 1)
    added, _ = _set_members(row, members)
    _audit(Action.SCIM_GROUP_CREATED, actor, row, members=len(added))
    if added:
        accounts.sync_roles(directory, sorted(added), actor=actor)
    return row


def _update_group(row: ScimGroup, resource: Any, actor: DirectoryActor) -> ScimGroup:
    columns = documents.columns_of_group(resource)
    changed = documents.changed_attributes(row.document, columns["document"])
    if not changed:
        return row
    _unique_group(row.directory, columns, row.pk)
    members = _members_of(row.directory, resource)
    _save(row, columns)
    others = [name for name in changed if name != "members"]
    if others:
        _audit(Action.SCIM_GROUP_UPDATED, actor, row, attributes=others)
    added, removed = _set_members(row, members)
    _members_changed(row, added, removed, actor)
    return row


def _group_for_write(directory: Directory, public_id: uuid.UUID, if_match: str | None) -> ScimGroup:
    row: ScimGroup = _locked(ScimGroup.objects.for_directory(directory), public_id)
    row.directory = directory
    check_if_match(if_match, row.version)
    return row


@service
def replace_group(
    *,
    directory: Directory,
    public_id: uuid.UUID,
    resource: Any,
    if_match: str | None,
    actor: DirectoryActor,
) -> ScimGroup:
    """PUT /Groups/{id}: the whole group, members included."""
    _begin(directory)
    row = _group_for_write(directory, public_id, if_match)
    resource.replace(documents.group_resource(row))
    return _update_group(row, resource, actor)


@service
def patch_group(
    *,
    directory: Directory,
    public_id: uuid.UUID,
    patch: PatchOp[Any],
    if_match: str | None,
    actor: DirectoryActor,
) -> ScimGroup:
    """PATCH /Groups/{id}: renames and member changes in any of the directories' forms."""
    _begin(directory)
    row = _group_for_write(directory, public_id, if_match)
    resource = documents.group_resource(row)
    patch.patch(resource)
    return _update_group(row, resource, actor)


@service
def delete_group(
    *, directory: Directory, public_id: uuid.UUID, if_match: str | None, actor: DirectoryActor
) -> None:
    """DELETE /Groups/{id}: the group goes; its former members' roles are recomputed."""
    _begin(directory)
    row = _group_for_write(directory, public_id, if_match)
    former: Iterable[int] = list(
        ScimGroupMember.objects.filter(group=row).values_list("scim_user_id", flat=True)
    )
    _audit(Action.SCIM_GROUP_DELETED, actor, row, members=len(list(former)))
    row.delete()
    Directory.objects.filter(pk=directory.pk).update(group_count=F("group_count") - 1)
    if former:
        accounts.sync_roles(directory, sorted(former), actor=actor)
