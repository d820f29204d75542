"""What a directory's records mean for Gatehouse accounts and memberships.

The protocol layer (``sso.scim.services``) writes ``ScimUser``/``ScimGroup`` rows and then calls
these functions in the same transaction; they decide, with the same rules as SSO's just-in-time
accounts, whether a record becomes (or stays) an account with a membership, and carry out
deactivation, reactivation and role mapping.

The contract (the protocol layer relies on exactly this):

- ``sync_user(scim_user, *, previous_active, created, actor)``: after a user record was created
  or changed (``previous_active`` is None on creation). Admits/links an active record, ends the
  membership of one that became inactive, brings back one that became active again. May set
  ``scim_user.user`` and ``scim_user.link_state`` (and saves those two fields itself). Work
  that must follow the commit (ending sessions synchronously) is registered with
  ``transaction.on_commit``.
- ``before_user_deleted(scim_user, *, actor)``: the record is about to be deleted (DELETE
  /Users/{id}): the membership ends as for a deactivation; the account stays.
- ``sync_roles(directory, scim_user_ids, *, actor)``: group memberships (or a group's mapped
  role) changed for these records: recompute each linked member's role.

``actor`` is a ``DirectoryActor`` (``sso.scim.actor``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sso.scim.actor import DirectoryActor
from sso.scim.models import Directory, ScimUser


def sync_user(
    scim_user: ScimUser, *, previous_active: bool | None, created: bool, actor: DirectoryActor
) -> None:
    """See the module docstring. (To be filled in: admission, linking, deprovisioning.)"""


def before_user_deleted(scim_user: ScimUser, *, actor: DirectoryActor) -> None:
    """See the module docstring."""


def sync_roles(
    directory: Directory, scim_user_ids: Iterable[int], *, actor: DirectoryActor
) -> None:
    """See the module docstring."""
