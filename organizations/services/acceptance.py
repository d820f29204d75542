"""Accepting an invitation: by a signed-in person whose verified address it was sent to, or by
a new person who creates their account from the link.

Every refusal of a link goes on record (``org.invitation_refused``) with its reason.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts import extensions
from accounts.models import User, address_is
from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from organizations.models import Invitation, Membership, Organization, hash_token
from organizations.permissions import Actor
from organizations.services.invitations import may_send
from organizations.services.members import join

MESSAGES = {
    "unknown": "This invitation link is not valid.",
    "accepted": "This invitation has already been used.",
    "revoked": "This invitation was withdrawn.",
    "expired": "This invitation has expired. Ask for a new one.",
    "other_user": "This invitation was sent to another email address. Sign out and open "
    "the link again, or sign in as the person it was sent to.",
}


def find_invitation(token: str) -> Invitation | None:
    """The invitation a link's token belongs to, in whatever state it is."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )


def _refuse(invitation: Invitation | None, user: User | None, reason: str) -> Refusal:
    return Refusal(
        MESSAGES[reason],
        status=404 if reason == "unknown" else 400,
        action=Action.ORG_INVITATION_REFUSED,
        actor=user,
        organization=invitation.organization if invitation else None,
        target=invitation,
        details={"reason": reason},
    )


def _user_has_email(user: User, email: str) -> bool:
    """The invitation's address is one of the user's *verified* addresses."""
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def _open_invitation(token: str, user: User | None) -> Invitation:
    invitation = find_invitation(token)
    if invitation is None:
        raise _refuse(None, user, "unknown")
    if invitation.state != "open":
        raise _refuse(invitation, user, invitation.state)
    if user is not None and user.is_authenticated and not _user_has_email(user, invitation.email):
        raise _refuse(invitation, user, "other_user")
    return invitation


@service
def check_invitation(token: str, user: User | None = None) -> Invitation:
    """The open invitation of ``token``, if ``user`` (or a new person, when None) may accept
    it; otherwise a refusal that goes on record."""
    return _open_invitation(token, user)


def _accept(token: str, user: User) -> Membership:
    invitation = _open_invitation(token, user)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != "open":  # lost a race with another acceptance or a revocation
        raise _refuse(invitation, user, invitation.state)
    if not _sender_may_still_invite(invitation):
        # The person who sent it has left, or may no longer grant this role; or the app that
        # sent it was turned off or lost the permission.
        raise _refuse(invitation, user, "revoked")
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    membership = join(
        org=invitation.organization,
        user=user,
        role=invitation.role,
        source=Membership.Source.INVITATION,
        actor=user,
    )
    record(
        Action.ORG_INVITATION_ACCEPTED,
        actor=user,
        organization=invitation.organization,
        target=invitation,
        data={"email": invitation.email, "role": invitation.role},
    )
    return membership


def _sender_may_still_invite(invitation: Invitation) -> bool:
    org = invitation.organization
    inviter: Actor | None
    if invitation.invited_by_client:
        # An app may invite an owner only while the organization has none: two such
        # invitations accepted at once are taken one after the other.
        Organization.objects.select_for_update().filter(pk=org.pk).values_list("pk").get()
        inviter = extensions.hooks.invitation_app(
            client_id=invitation.invited_by_client, organization=org
        )
    elif invitation.invited_by_id:
        inviter = (
            Membership.objects.for_org(org).active().filter(user=invitation.invited_by).first()
        )
    else:
        inviter = None
    return inviter is not None and may_send(inviter, org, invitation.role)


@service
def accept_invitation(*, token: str, user: User) -> Membership:
    """``user`` joins the invitation's organization with its role. The link works once, and
    only while the person who sent it may still grant that role."""
    return _accept(token, user)


def _new_account_refusal(invitation: Invitation) -> Refusal | None:
    """Why the organization does not let a new account join by password, if it does not."""
    # The organization may decide how its domain's members sign in from the first session on.
    broken = extensions.hooks.new_account_refusal(
        invitation.organization, invitation.email, invitation.role
    )
    if broken is None:
        return None
    org = invitation.organization
    return Refusal(
        f"{org.name} signs its members in with single sign-on: continue with SSO to accept."
        if broken["sso_only"]
        else f"{org.name} does not allow sign-in by password: accept with a method it allows.",
        status=403,
        action=Action.LOGIN_SSO_REQUIRED if broken["sso_only"] else Action.LOGIN_METHOD_NOT_ALLOWED,
        actor_text=invitation.email,
        organization=org,
        target=invitation,
        details={"method": broken["method"], "via": "invitation"},
    )


@service
def sign_up_from_invitation(*, token: str, password: str) -> tuple[User, Membership]:
    """A new person accepts: the account is created with the invited address, verified by the
    link itself (only the mailbox's owner could open it)."""
    invitation = _open_invitation(token, None)
    if User.objects.filter(address_is(invitation.email)).exists() or (
        EmailAddress.objects.filter(address_is(invitation.email)).exists()
    ):
        raise Refusal("An account with this address exists already: sign in to accept.")
    refusal = _new_account_refusal(invitation)
    if refusal is not None:
        raise refusal
    user = User.objects.create_user(email=invitation.email, password=password)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    record(
        Action.USER_SIGNED_UP,
        actor=user,
        target=user,
        organization=invitation.organization,
        data={"via": "invitation"},
    )
    return user, _accept(token, user)
