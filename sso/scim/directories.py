"""An organization's SCIM directory as its admins manage it from the portal's SCIM tab: turn it
on, choose its domains and default role, pause and resume it, turn it off, issue and revoke its
tokens, and map its groups to roles.

Each call is a ``@service``: the acting membership's permission is checked first
(``Perm.MANAGE_SCIM``), the directory is fetched for this organization and locked, and the
change and its audit event (the admin as actor) commit together. A token is returned once, by
the call that made it; only its keyed digest is stored (``sso.scim.tokens``).

What each state means to a directory calling ``/scim/v2/``: ``active`` is served; ``paused``
gets 503 with Retry-After (the directory retries later, nothing is lost); ``off`` gets 401, as
every token of a directory that is off is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from audit.actions import Action
from audit.services import record
from config.refusals import NotFound, Refusal, service
from organizations.models import Domain, Membership, Organization
from organizations.permissions import Perm
from organizations.services import require
from organizations.services.members import lock_members
from sso.scim import accounts, tokens
from sso.scim.actor import DirectoryActor
from sso.scim.models import (
    MAPPABLE_ROLES,
    Directory,
    DirectoryToken,
    ScimGroup,
    ScimGroupMember,
)

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
# Tokens that may work at once: enough for rotations with a week's overlap, not an unbounded
# pile of forgotten credentials.
MAX_USABLE_TOKENS = 5
MAPPABLE = tuple(value for value, _ in MAPPABLE_ROLES)


@dataclass(frozen=True)
class IssuedToken:
    """A token row and the token itself (``gh_scim_<prefix>_<secret>``): shown once, never
    stored, never logged."""

    row: DirectoryToken
    token: str


@dataclass(frozen=True)
class TurnedOn:
    directory: Directory
    # The first token, when the directory had none that still works; None otherwise (its
    # existing tokens work again).
    issued: IssuedToken | None


# --- Reading -----------------------------------------------------------------------------------


def directory_of(org: Organization) -> Directory | None:
    """The organization's directory, if it was ever turned on."""
    return Directory.objects.for_org(org).first()


def usable_tokens(directory: Directory) -> Any:
    now = timezone.now()
    return DirectoryToken.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        directory=directory,
        revoked_at__isnull=True,
    )


# --- What every service shares -----------------------------------------------------------------


def _locked(org: Organization) -> Directory:
    """This organization's directory, locked until the transaction ends (404 otherwise).
    The organization's member lock comes first, as in every SCIM write (``services._begin``)."""
    lock_members(org)
    directory = Directory.objects.for_org(org).select_for_update().first()
    if directory is None:
        raise NotFound("SCIM is not set up for this organization.")
    return directory


def _audit(
    action: Action, actor: Membership, directory: Directory, target: Any = None, **data: Any
) -> None:
    record(
        action,
        actor=actor.user,
        organization=directory.organization_id,
        target=target if target is not None else directory,
        data={"directory": str(directory.public_id), **data},
    )


def _issue(directory: Directory, actor: Membership) -> IssuedToken:
    if usable_tokens(directory).count() >= MAX_USABLE_TOKENS:
        raise Refusal(
            f"This directory already has {MAX_USABLE_TOKENS} working tokens. Revoke the ones "
            "no longer in use first."
        )
    row, token = tokens.new_token(directory, created_by=actor.user)
    return IssuedToken(row=row, token=token)


def _verified_domains(org: Organization, domain_ids: list[Any]) -> list[Domain]:
    try:
        ids = {int(i) for i in domain_ids}
    except (TypeError, ValueError):
        raise Refusal("Choose domains from the list.") from None
    domains = list(Domain.objects.for_org(org).filter(pk__in=ids, verified_at__isnull=False))
    if len(domains) != len(ids):
        raise Refusal("Only this organization's verified domains can be chosen.")
    return domains


# --- The directory's state ---------------------------------------------------------------------


@service
def turn_on(*, actor: Membership, org: Organization) -> TurnedOn:
    """Create the directory if there is none (serving every verified domain, new people as
    members) and switch it on. Its first token comes back once, when it has no working token;
    a directory turned on again keeps the tokens it had. A paused or active directory is left
    as it is."""
    require(actor, org, Perm.MANAGE_SCIM, "scim.turn_on")
    directory = Directory.objects.for_org(org).select_for_update().first()
    created = directory is None
    if directory is None:
        directory = Directory.objects.create(
            organization=org, status=Directory.Status.ACTIVE, created_by=actor.user
        )
        directory.domains.set(Domain.objects.for_org(org).filter(verified_at__isnull=False))
    elif directory.status != Directory.Status.OFF:
        return TurnedOn(directory=directory, issued=None)
    else:
        directory.status = Directory.Status.ACTIVE
        directory.paused_at = None
        directory.save(update_fields=["status", "paused_at"])
    issued = None if usable_tokens(directory).exists() else _issue(directory, actor)
    _audit(Action.SCIM_DIRECTORY_ENABLED, actor, directory, created=created)
    if issued is not None:
        _audit(Action.SCIM_TOKEN_CREATED, actor, directory, issued.row, prefix=issued.row.prefix)
    return TurnedOn(directory=directory, issued=issued)


@service
def pause(*, actor: Membership, org: Organization) -> Directory:
    """The directory's calls get 503 (it retries later) until it is resumed."""
    require(actor, org, Perm.MANAGE_SCIM, "scim.pause")
    directory = _locked(org)
    if directory.status == Directory.Status.OFF:
        raise Refusal("SCIM is off: turn it on first.")
    if directory.status == Directory.Status.ACTIVE:
        directory.status = Directory.Status.PAUSED
        directory.paused_at = timezone.now()
        directory.save(update_fields=["status", "paused_at"])
        _audit(Action.SCIM_DIRECTORY_PAUSED, actor, directory)
    return directory


@service
def resume(*, actor: Membership, org: Organization) -> Directory:
    require(actor, org, Perm.MANAGE_SCIM, "scim.resume")
    directory = _locked(org)
    if directory.status == Directory.Status.OFF:
        raise Refusal("SCIM is off: turn it on first.")
    if directory.status == Directory.Status.PAUSED:
        paused_for = timezone.now() - directory.paused_at if directory.paused_at else None
        directory.status = Directory.Status.ACTIVE
        directory.paused_at = None
        directory.save(update_fields=["status", "paused_at"])
        _audit(
            Action.SCIM_DIRECTORY_RESUMED,
            actor,
            directory,
            paused_seconds=int(paused_for.total_seconds()) if paused_for else None,
        )
    return directory


@service
def turn_off(*, actor: Membership, org: Organization) -> Directory:
    """Every token is refused from now on. Users, groups and memberships stay as they are."""
    require(actor, org, Perm.MANAGE_SCIM, "scim.turn_off")
    directory = _locked(org)
    if directory.status != Directory.Status.OFF:
        directory.status = Directory.Status.OFF
        directory.paused_at = None
        directory.save(update_fields=["status", "paused_at"])
        _audit(Action.SCIM_DIRECTORY_DISABLED, actor, directory)
    return directory


@service
def update_settings(
    *,
    actor: Membership,
    org: Organization,
    domain_ids: list[Any],
    default_role: str,
    put_without_active_deactivates: bool,
) -> Directory:
    """Which verified domains the directory may give accounts to, the role of people in no
    mapped group, and how a PUT without ``active`` is read (Okta's App Integration Wizard).
    A new default role is applied to the directory's linked members at once."""
    require(actor, org, Perm.MANAGE_SCIM, "scim.update_settings")
    directory = _locked(org)
    if default_role not in MAPPABLE:
        raise Refusal("People get the member or admin role.")
    domains = _verified_domains(org, domain_ids)
    before = {
        "domains": sorted(directory.domains.values_list("name", flat=True)),
        "default_role": directory.default_role,
        "put_without_active_deactivates": directory.put_without_active_deactivates,
    }
    directory.default_role = default_role
    directory.put_without_active_deactivates = bool(put_without_active_deactivates)
    directory.save(update_fields=["default_role", "put_without_active_deactivates"])
    directory.domains.set(domains)
    after = {
        "domains": sorted(d.name for d in domains),
        "default_role": directory.default_role,
        "put_without_active_deactivates": directory.put_without_active_deactivates,
    }
    changed = sorted(k for k in after if before[k] != after[k])
    if changed:
        _audit(Action.SCIM_DIRECTORY_UPDATED, actor, directory, changed=changed)
    if "default_role" in changed:
        linked = directory.users.filter(user__isnull=False).values_list("pk", flat=True)
        accounts.sync_roles(directory, list(linked), actor=DirectoryActor(directory))
    return directory


# --- Tokens ------------------------------------------------------------------------------------


@service
def issue_token(
    *, actor: Membership, org: Organization, overlap: timedelta = DEFAULT_OVERLAP
) -> IssuedToken:
    """A new token, returned once. Tokens that worked until now keep working for ``overlap``
    (0 to 7 days), long enough to paste the new one into the directory; then they expire."""
    require(actor, org, Perm.MANAGE_SCIM, "scim.issue_token")
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise Refusal("The old token keeps working for 0 to 7 days.")
    directory = _locked(org)
    ends = timezone.now() + overlap
    replaced = list(
        usable_tokens(directory).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=ends))
    )
    DirectoryToken.objects.filter(pk__in=[t.pk for t in replaced]).update(expires_at=ends)
    issued = _issue(directory, actor)
    if replaced:
        _audit(
            Action.SCIM_TOKEN_ROTATED,
            actor,
            directory,
            issued.row,
            prefix=issued.row.prefix,
            replaced=sorted(t.prefix for t in replaced),
            overlap_hours=round(overlap.total_seconds() / 3600, 2),
        )
    else:
        _audit(Action.SCIM_TOKEN_CREATED, actor, directory, issued.row, prefix=issued.row.prefix)
    return issued


@service
def revoke_token(*, actor: Membership, org: Organization, token_id: Any) -> DirectoryToken:
    """The token stops working now."""
    require(actor, org, Perm.MANAGE_SCIM, "scim.revoke_token")
    directory = _locked(org)
    try:
        row = DirectoryToken.objects.select_for_update().get(directory=directory, pk=int(token_id))
    except (DirectoryToken.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such token.") from None
    if row.revoked_at is None:
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        _audit(Action.SCIM_TOKEN_REVOKED, actor, directory, row, prefix=row.prefix)
    return row


# --- Groups ------------------------------------------------------------------------------------


@service
def set_group_role(
    *, actor: Membership, org: Organization, group_id: Any, role: str | None
) -> ScimGroup:
    """The role a directory group gives its members (None: the group gives none). Each linked
    member's role is recomputed at once: the strongest over their groups, else the default."""
    require(actor, org, Perm.MANAGE_SCIM, "scim.set_group_role")
    directory = _locked(org)
    role = role or None
    if role is not None and role not in MAPPABLE:
        raise Refusal("A group gives the member or admin role, or none.")
    try:
        group = ScimGroup.objects.for_directory(directory).select_for_update().get(pk=int(group_id))
    except (ScimGroup.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such group.") from None
    if group.role == role:
        return group
    previous = group.role
    group.role = role
    group.save(update_fields=["role"])
    _audit(
        Action.SCIM_GROUP_ROLE_SET,
        actor,
        directory,
        group,
        group=str(group.public_id),
        before=previous,
        after=role,
    )
    members = ScimGroupMember.objects.filter(group=group).values_list("scim_user_id", flat=True)
    accounts.sync_roles(directory, list(members), actor=DirectoryActor(directory))
    return group
