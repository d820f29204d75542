"""A directory's writes, as the SCIM protocol layer makes them: rows of ``ScimUser``,
``ScimGroup`` and ``ScimGroupMember`` changed in one transaction, then the accounts layer
(``sso.scim.accounts``) called in that same transaction with the directory as the actor.

The tests of the accounts layer drive it through these, without HTTP, so that what they
prove is the contract the protocol layer relies on.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from organizations.models import Domain, Organization
from organizations.services.members import lock_members
from sso.scim import accounts
from sso.scim.actor import DirectoryActor
from sso.scim.documents import user_name_key
from sso.scim.models import Directory, ScimGroup, ScimGroupMember, ScimUser


def directory_for(org: Organization, *domains: Domain, **fields: object) -> Directory:
    """``org``'s directory, on, allowed ``domains``."""
    directory = Directory.objects.create(organization=org, status=Directory.Status.ACTIVE, **fields)
    directory.domains.add(*domains)
    return directory


def verified_domain(org: Organization, name: str) -> Domain:
    return Domain.objects.create(
        organization=org, name=name, verification_token=f"t-{name}", verified_at=timezone.now()
    )


def _actor(directory: Directory) -> DirectoryActor:
    return DirectoryActor(directory)


def provision(
    directory: Directory,
    user_name: str,
    *,
    work_email: str = "",
    external_id: str | None = None,
    active: bool = True,
    display_name: str = "",
) -> ScimUser:
    """POST /Users."""
    with transaction.atomic():
        lock_members(directory.organization)
        record = ScimUser.objects.create(
            directory=directory,
            organization=directory.organization,
            user_name=user_name,
            user_name_key=user_name_key(user_name),
            work_email=work_email.lower(),
            external_id=external_id,
            active=active,
            display_name=display_name,
        )
        accounts.sync_user(record, previous_active=None, created=True, actor=_actor(directory))
    return record


def update(record: ScimUser, **changes: object) -> ScimUser:
    """PUT or PATCH /Users/{id}: ``changes`` to the record's columns (``active`` among them)."""
    with transaction.atomic():
        lock_members(record.directory.organization)
        fresh = ScimUser.objects.select_for_update().select_related("directory").get(pk=record.pk)
        previous = fresh.active
        for name, value in changes.items():
            setattr(fresh, name, value)
        fresh.version += 1
        fresh.save()
        accounts.sync_user(
            fresh, previous_active=previous, created=False, actor=_actor(fresh.directory)
        )
    return fresh


def deactivate(record: ScimUser) -> ScimUser:
    return update(record, active=False)


def reactivate(record: ScimUser) -> ScimUser:
    return update(record, active=True)


def delete(record: ScimUser) -> None:
    """DELETE /Users/{id}."""
    with transaction.atomic():
        lock_members(record.directory.organization)
        fresh = ScimUser.objects.select_related("directory").get(pk=record.pk)
        accounts.before_user_deleted(fresh, actor=_actor(fresh.directory))
        fresh.delete()


def group(
    directory: Directory,
    name: str,
    *,
    role: str | None = None,
    members: Iterable[ScimUser] = (),
) -> ScimGroup:
    """POST /Groups."""
    with transaction.atomic():
        lock_members(directory.organization)
        made = ScimGroup.objects.create(
            directory=directory,
            organization=directory.organization,
            display_name=name,
            display_name_key=user_name_key(name),
            role=role,
        )
        ids = [m.pk for m in members]
        ScimGroupMember.objects.bulk_create(
            [ScimGroupMember(group=made, scim_user_id=pk) for pk in ids]
        )
        accounts.sync_roles(directory, ids, actor=_actor(directory))
    return made


def set_members(made: ScimGroup, members: Iterable[ScimUser]) -> None:
    """PATCH /Groups/{id} (members replaced): the affected records' roles are recomputed."""
    wanted = {m.pk for m in members}
    with transaction.atomic():
        lock_members(made.directory.organization)
        current = set(
            ScimGroupMember.objects.filter(group=made).values_list("scim_user_id", flat=True)
        )
        ScimGroupMember.objects.filter(group=made, scim_user_id__in=current - wanted).delete()
        ScimGroupMember.objects.bulk_create(
            [ScimGroupMember(group=made, scim_user_id=pk) for pk in wanted - current]
        )
        accounts.sync_roles(made.directory, current ^ wanted, actor=_actor(made.directory))


def set_role(made: ScimGroup, role: str | None) -> None:
    """The portal maps the group to another role: every member's role is recomputed."""
    with transaction.atomic():
        lock_members(made.directory.organization)
        ScimGroup.objects.filter(pk=made.pk).update(role=role)
        members = ScimGroupMember.objects.filter(group=made).values_list("scim_user_id", flat=True)
        accounts.sync_roles(made.directory, list(members), actor=_actor(made.directory))


def delete_group(made: ScimGroup) -> None:
    """DELETE /Groups/{id}."""
    with transaction.atomic():
        lock_members(made.directory.organization)
        members = list(
            ScimGroupMember.objects.filter(group=made).values_list("scim_user_id", flat=True)
        )
        made.delete()
        accounts.sync_roles(made.directory, members, actor=_actor(made.directory))
