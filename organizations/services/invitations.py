"""Sending invitations: invite, resend with a fresh link, revoke, and withdrawing the open
invitations of someone who may no longer send them.

Accepting one is in ``organizations.services.acceptance``.

The sender is a member or an app (``permissions.Actor``). An app's invitation names the app
(``invited_by_client``) instead of a person, and an app invites no owner while the
organization has one (``permissions.may_invite_as``).
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.services import outside_a_request
from audit.actions import Action
from audit.services import record
from config.refusals import NotFound, Refusal, service
from organizations import permissions, quotas
from organizations.models import Invitation, Membership, Organization, Role, hash_token
from organizations.permissions import Actor, Perm
from organizations.services.guards import audit_actor, deny, not_allowed, require

RESEND_INTERVAL = timedelta(minutes=1)


def invitable_roles(membership: Membership) -> list[str]:
    """The roles ``membership`` may invite people as."""
    return [role for role in Role.values if permissions.may_invite_as(membership, role)]


def withdraw_invitations(membership: Membership, *, keep_roles: list[str]) -> int:
    """Withdraw the open invitations ``membership`` sent, except those for ``keep_roles``;
    returns how many. Runs in the caller's transaction."""
    return (
        Invitation.objects.for_org(membership.organization)
        .filter(invited_by_id=membership.user_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .exclude(role__in=keep_roles)
        .update(revoked_at=timezone.now())
    )


def has_owner(org: Organization) -> bool:
    return Membership.objects.for_org(org).active().filter(role=Role.OWNER).exists()


def may_send(actor: Actor, org: Organization, role: str) -> bool:
    """Whether ``actor`` may invite into ``org`` (or resend, or revoke) for ``role``."""
    if not permissions.acts_in(actor, org.pk):
        return False
    owner_missing = role == Role.OWNER and permissions.is_app(actor) and not has_owner(org)
    return permissions.may_invite_as(actor, role, org_has_owner=not owner_missing)


def _normalize_email(email: str) -> str:
    email = (email or "").strip()
    adapter = get_adapter()
    try:
        return adapter.clean_email(email).lower()
    except ValidationError as exc:
        raise Refusal(" ".join(exc.messages)) from None


def invitation_link(token: str) -> str:
    """The address an invitation email links to, on Gatehouse's public URL."""
    return settings.GATEHOUSE_PUBLIC_URL + reverse("orgs:invitation-link", args=[token])


def _send_invitation(invitation: Invitation, token: str) -> None:
    """Queue the invitation email (it leaves once the transaction commits) and count it."""
    org = invitation.organization
    # Rendered as a job would render it: the link and the footer name the public address,
    # whichever host the admin's request came through.
    with outside_a_request():
        get_adapter().send_mail(
            "organizations/email/invitation",
            invitation.email,
            {
                "organization": org,
                "inviter": invitation.invited_by,
                "role": invitation.get_role_display(),
                "accept_url": invitation_link(token),
                "expires_at": invitation.expires_at,
            },
        )
    invitation.sent_at = timezone.now()
    invitation.send_count += 1
    invitation.save(update_fields=["sent_at", "send_count"])


def _refuse_if_member_or_invited(org: Organization, email: str) -> None:
    already_member = (
        Membership.objects.for_org(org)
        .active()
        .filter(
            Q(user__email__iexact=email)
            | Q(user__emailaddress__email__iexact=email, user__emailaddress__verified=True)
        )
        .exists()
    )
    if already_member:
        raise Refusal(f"{email} is already a member.", status=409)
    open_invitations = Invitation.objects.for_org(org).filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    # An expired invitation makes way for a new one.
    open_invitations.filter(expires_at__lte=timezone.now()).update(revoked_at=timezone.now())
    if open_invitations.exists():
        raise Refusal(f"{email} is already invited. Resend the invitation instead.", status=409)


@service
def invite(*, actor: Actor, org: Organization, email: str, role: str) -> Invitation:
    """Invite ``email`` into ``org`` as ``role`` and email them a link that works once."""
    return send_invitation(actor=actor, org=org, email=email, role=role)


def send_invitation(*, actor: Actor, org: Organization, email: str, role: str) -> Invitation:
    """``invite`` in the caller's transaction (creating an organization invites its owner)."""
    if role not in Role.values:
        raise Refusal("Choose owner, admin or member.")
    if not may_send(actor, org, role):
        message = not_allowed(actor, org, owner_role=role == Role.OWNER)
        raise deny(actor, org, "invite", message=message, role=role)
    email = _normalize_email(email)
    _refuse_if_member_or_invited(org, email)
    quotas.spend_invitation(actor, org)
    token = Invitation.new_token()
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organization=org,
                email=email,
                role=role,
                token_hash=hash_token(token),
                invited_by=actor.user if isinstance(actor, Membership) else None,
                invited_by_client="" if isinstance(actor, Membership) else actor.client_id,
                expires_at=timezone.now() + timedelta(days=settings.GATEHOUSE_INVITATION_DAYS),
            )
    except IntegrityError:  # the same invitation, sent twice at the same moment
        raise Refusal(
            f"{email} is already invited. Resend the invitation instead.", status=409
        ) from None
    _send_invitation(invitation, token)
    record(
        Action.ORG_INVITATION_SENT,
        actor=audit_actor(actor),
        organization=org,
        target=invitation,
        data={"email": email, "role": role},
    )
    return invitation


def _open_invitation(org: Organization, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.for_org(org)
        .select_for_update()
        .filter(pk=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is None:
        raise NotFound("That invitation does not exist or is no longer open.")
    return invitation


@service
def resend_invitation(*, actor: Actor, org: Organization, invitation_id: int) -> Invitation:
    """Send an open invitation again with a fresh link and expiry; the old link stops working.
    At most once a minute."""
    require(actor, org, Perm.MANAGE_INVITATIONS, "resend invitation")
    invitation = _open_invitation(org, invitation_id)
    if not may_send(actor, org, invitation.role):
        message = not_allowed(actor, org, owner_role=invitation.role == Role.OWNER)
        raise deny(actor, org, "resend invitation", message=message, invitation=invitation.pk)
    since_sent = timezone.now() - invitation.sent_at if invitation.sent_at else None
    if since_sent is not None and since_sent < RESEND_INTERVAL:
        raise Refusal(
            "It was sent a moment ago. Wait a minute before sending it again.",
            status=429,
            retry_after=max(1, int((RESEND_INTERVAL - since_sent).total_seconds())),
        )
    quotas.spend_invitation(actor, org)
    token = Invitation.new_token()
    invitation.token_hash = hash_token(token)
    invitation.expires_at = timezone.now() + timedelta(days=settings.GATEHOUSE_INVITATION_DAYS)
    invitation.save(update_fields=["token_hash", "expires_at"])
    _send_invitation(invitation, token)
    record(
        Action.ORG_INVITATION_RESENT,
        actor=audit_actor(actor),
        organization=org,
        target=invitation,
        data={"email": invitation.email},
    )
    return invitation


@service
def revoke_invitation(*, actor: Actor, org: Organization, invitation_id: int) -> Invitation:
    """Withdraw an open invitation; its link stops working."""
    require(actor, org, Perm.MANAGE_INVITATIONS, "revoke invitation")
    invitation = _open_invitation(org, invitation_id)
    if not may_send(actor, org, invitation.role):
        message = not_allowed(actor, org, owner_role=invitation.role == Role.OWNER)
        raise deny(actor, org, "revoke invitation", message=message, invitation=invitation.pk)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record(
        Action.ORG_INVITATION_REVOKED,
        actor=audit_actor(actor),
        organization=org,
        target=invitation,
        data={"email": invitation.email},
    )
    return invitation
