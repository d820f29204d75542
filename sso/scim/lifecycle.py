"""A linked person turned off and on again by the directory.

Turning off ends the membership by the path the portal's removal takes
(``organizations.services.members.end_membership``: access and the org's tokens end in the
transaction). Then, once that commits and still in the directory's request, the cleanup the
Celery job would do runs here (``deprovision_now``), so the person's sessions stop working
before the directory hears back, even with the broker down; the queued job stays as the
backstop. When the organization owns the person's identity (their login address lies in the
directory's domains), every session and app token of theirs ends too, as when support blocks
an account. Owners are never turned off by a directory.

Turning on brings the membership back with the role the groups map to.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from accounts import extensions
from accounts.models import User
from accounts.services import end_sessions
from accounts.user_sessions import UserSession
from audit.actions import Action
from audit.services import record
from organizations.models import Membership, Role
from organizations.services.members import (
    SessionStoreDown,
    deprovision_now,
    end_membership,
    join,
    lock_members,
)
from sso.admission import email_in_domains
from sso.scim.actor import DirectoryActor
from sso.scim.linking import directory_domains
from sso.scim.models import ScimUser
from sso.scim.roles import mapped_role

# Why a turn-off was not carried out: ``scim.user_not_admitted``'s "reason".
OWNER_KEPT = "owner"
# The provider's record of why the tokens ended.
TOKENS_REASON = "scim_deactivated"


def deactivate(scim_user: ScimUser, *, actor: DirectoryActor, announce: bool) -> None:
    """End the linked person's membership (if it is still active) and their sessions after the
    commit. Safe to repeat: a repeat ends nothing twice but runs the session step again (in
    case the session store failed last time). ``announce``: the record has just turned off
    (or is being deleted while on), so the audit log hears of it."""
    user = scim_user.user
    assert user is not None
    directory = scim_user.directory
    org = directory.organization
    lock_members(org)
    membership = (
        Membership.objects.for_org(org)
        .select_for_update()
        .select_related("organization", "user")
        .filter(user=user)
        .first()
    )
    if membership is not None and membership.is_active and membership.role == Role.OWNER:
        if announce:
            record(
                Action.SCIM_USER_NOT_ADMITTED,
                actor=actor,
                organization=org,
                target=user,
                data={"reason": OWNER_KEPT, "attempted": "deactivate"},
            )
        return
    ended = membership is not None and membership.is_active
    if ended:
        assert membership is not None
        withdrawn = end_membership(membership, by=actor)
        record(
            Action.ORG_MEMBER_REMOVED,
            actor=actor,
            organization=org,
            target=user,
            data={"role": membership.role, "invitations_withdrawn": withdrawn},
        )
    everything = owns_identity(scim_user, user)
    if everything:
        # In this transaction, as blocking does: they stop working with the membership.
        extensions.hooks.end_app_tokens(user=user, reason=TOKENS_REASON, actor=actor)
    if announce:
        record(
            Action.SCIM_USER_DEACTIVATED,
            actor=actor,
            organization=org,
            target=user,
            data={"membership_ended": ended, "all_sessions": everything},
        )
    # Not robust: if the session store fails, the caller hears of it (and answers 503).
    transaction.on_commit(
        partial(
            end_sessions_now,
            membership_id=membership.pk if membership is not None else None,
            user_id=user.pk,
            everything=everything,
        )
    )


def owns_identity(scim_user: ScimUser, user: User) -> bool:
    """Whether the organization owns the account itself, not just its membership: its login
    address lies in the directory's domains. Staff accounts are never the org's to end."""
    if user.is_staff or user.is_superuser:
        return False
    return email_in_domains(user.email, directory_domains(scim_user.directory))


def end_sessions_now(*, membership_id: int | None, user_id: int, everything: bool) -> None:
    """After the commit: the deprovisioning cleanup at once (the organization leaves the
    person's sessions), and, when the organization owns the account, every session ends.
    Raises ``organizations.services.members.SessionStoreDown`` if the session store fails."""
    if membership_id is not None:
        deprovision_now(membership_id)
    if everything:
        try:
            end_sessions(list(UserSession.objects.filter(user_id=user_id)))
        except Exception as exc:  # the store is down: a repeated deactivation runs this again
            raise SessionStoreDown(str(exc)) from exc


def reactivate(scim_user: ScimUser, *, actor: DirectoryActor) -> None:
    """Bring the linked person's membership back with the role their groups map to."""
    user = scim_user.user
    assert user is not None
    org = scim_user.directory.organization
    lock_members(org)
    was_active = Membership.objects.for_org(org).active().filter(user=user).exists()
    membership = join(
        org=org,
        user=user,
        role=mapped_role(scim_user),
        source=Membership.Source.SCIM,
        actor=actor,
    )
    record(
        Action.SCIM_USER_REACTIVATED,
        actor=actor,
        organization=org,
        target=user,
        data={"membership_restored": not was_active, "role": membership.role},
    )
