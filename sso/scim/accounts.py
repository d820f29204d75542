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

The rules themselves live beside this module: admission and linking (``sso.scim.linking``),
turning people off and on (``sso.scim.lifecycle``), roles from groups (``sso.scim.roles``).
A record an admin detached in the portal (``LinkState.DETACHED``) is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from sso.scim import lifecycle, linking, roles
from sso.scim.actor import DirectoryActor
from sso.scim.models import Directory, LinkState, ScimUser


def sync_user(
    scim_user: ScimUser, *, previous_active: bool | None, created: bool, actor: DirectoryActor
) -> None:
    """Carry a created or changed record over to its account (see the module docstring)."""
    if scim_user.link_state == LinkState.DETACHED:
        return
    linked = scim_user.link_state == LinkState.LINKED and scim_user.user_id is not None
    if scim_user.active:
        if not linked:
            linking.admit(scim_user, actor=actor)
        elif previous_active is False and linking.still_admissible(scim_user, actor=actor):
            lifecycle.reactivate(scim_user, actor=actor)
        return
    if linked:
        # Run again for a record that was already off: it ends nothing twice, and finishes
        # a session clean-up that failed last time.
        lifecycle.deactivate(scim_user, actor=actor, announce=previous_active is not False)


def before_user_deleted(scim_user: ScimUser, *, actor: DirectoryActor) -> None:
    """The record is about to be deleted: its person is turned off; the account stays."""
    if scim_user.link_state == LinkState.LINKED and scim_user.user_id is not None:
        lifecycle.deactivate(scim_user, actor=actor, announce=scim_user.active)


def sync_roles(
    directory: Directory, scim_user_ids: Iterable[int], *, actor: DirectoryActor
) -> None:
    """Recompute the roles of these records' linked, active members from their groups."""
    roles.sync_roles(directory, scim_user_ids, actor=actor)
