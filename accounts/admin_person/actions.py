"""The support actions on a person's admin page.

Each one asks for a reason, needs its own Django permissions (besides changing users), obeys
the rules the services and ``may_act_on`` already apply, and runs an existing service, which
writes the audit event with the reason in it. Nothing here writes a model itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from accounts import services
from accounts.mfa.services import recovery
from accounts.models import MFAReset, User


def may_act_on(user: User, actor: User) -> bool:
    """Support agents act on customers; staff accounts are for superusers to block or reset
    (an agent must not strip a superuser's second factor, nor lock a colleague out)."""
    return actor.is_superuser or not (user.is_staff or user.is_superuser)


# What an action does, given the person, the staff member, the reason and (for a removal)
# the membership's id; returns the message shown when it is done.
Perform = Callable[[User, User, str, int | None], str]


@dataclass(frozen=True)
class SupportAction:
    name: str  # in the action's URL
    label: str  # the button
    explanation: str  # shown above the reason
    permissions: tuple[str, ...]  # Django permissions needed besides changing the user
    perform: Perform
    applies: Callable[[User, User], bool] = may_act_on
    danger: bool = False
    per_membership: bool = False  # a button on each organization row, not in the action bar


def _block(user: User, actor: User, reason: str, _: int | None) -> str:
    services.block_user(user=user, actor=actor, reason=reason)
    return "Blocked: they cannot sign in, and every session they had has ended."


def _unblock(user: User, actor: User, reason: str, _: int | None) -> str:
    services.unblock_user(user=user, actor=actor, reason=reason)
    return "Unblocked: they can sign in again."


def _end_sessions(user: User, actor: User, reason: str, _: int | None) -> str:
    ended = services.revoke_all_sessions(user=user, actor=actor, reason=reason)
    return f"Signed out everywhere: {ended} session(s) ended, and apps' tokens with them."


def _reset_mfa(user: User, actor: User, reason: str, _: int | None) -> str:
    reset = recovery.schedule_mfa_reset(
        user=user, actor=actor, via=MFAReset.Via.SUPPORT, reason=reason
    )
    due = reset.due_at.astimezone(UTC)
    return (
        f"Every second factor will be removed on {due:%Y-%m-%d %H:%M} UTC unless the person "
        "cancels it; every verified address of theirs has been told."
    )


def _resend(user: User, actor: User, reason: str, _: int | None) -> str:
    if services.resend_verification(user=user, actor=actor, reason=reason):
        return "A new verification email is on its way."
    return "Every address is already verified: nothing was sent."


def _remove_membership(user: User, actor: User, reason: str, membership_id: int | None) -> str:
    from organizations.services import remove_member_by_staff

    membership = remove_member_by_staff(
        actor=actor, membership_id=membership_id or 0, reason=reason
    )
    return f"Removed from {membership.organization.name}: their access there has ended."


def _start_erasure(user: User, actor: User, reason: str, _: int | None) -> str:
    from consent.erasure.schedule import request_erasure
    from consent.models import DataSubjectRequest

    erasure = request_erasure(
        user=user, via=DataSubjectRequest.Via.SUPPORT, actor=actor, reason=reason
    )
    when = f"{erasure.scheduled_for:%Y-%m-%d}" if erasure.scheduled_for else "soon"
    return f"Erasure scheduled for {when}; the person has been told and may cancel it until then."


ACTIONS: dict[str, SupportAction] = {
    action.name: action
    for action in (
        SupportAction(
            name="block",
            label="Block",
            explanation="They will not be able to sign in, and every session of theirs ends now.",
            permissions=(),
            perform=_block,
            applies=lambda user, actor: not user.is_blocked and may_act_on(user, actor),
            danger=True,
        ),
        SupportAction(
            name="unblock",
            label="Unblock",
            explanation="They will be able to sign in again.",
            permissions=(),
            perform=_unblock,
            applies=lambda user, actor: user.is_blocked and may_act_on(user, actor),
        ),
        SupportAction(
            name="end-sessions",
            label="End all sessions",
            explanation="Signs them out on every device and ends the tokens apps hold for them.",
            permissions=(),
            perform=_end_sessions,
        ),
        SupportAction(
            name="reset-mfa",
            label="Reset second factors",
            explanation="Every second factor is removed after the waiting period unless the "
            "person cancels it; every verified address of theirs is told at once.",
            permissions=("accounts.add_mfareset",),
            perform=_reset_mfa,
            danger=True,
        ),
        SupportAction(
            name="resend-verification",
            label="Resend verification email",
            explanation="Sends a fresh verification link to their unverified address.",
            permissions=(),
            perform=_resend,
            applies=lambda user, actor: True,
        ),
        SupportAction(
            name="remove-membership",
            label="Remove from organization",
            explanation="Their access to the organization ends now; the last owner cannot be "
            "removed.",
            permissions=("organizations.delete_membership",),
            perform=_remove_membership,
            danger=True,
            per_membership=True,
        ),
        SupportAction(
            name="start-erasure",
            label="Start erasure",
            explanation="Schedules the deletion of the account after the grace period; the "
            "person is told and may cancel it until then.",
            permissions=("consent.add_datasubjectrequest",),
            perform=_start_erasure,
            danger=True,
        ),
    )
}


def permitted(action: SupportAction, actor: User) -> bool:
    """Whether the staff member holds the action's own permissions (changing users is checked
    by the admin, per person)."""
    return actor.has_perms(action.permissions)
