"""The write path for organizations: every change to an organization, its members,
invitations, domains and policy.

Each function takes the acting membership (or user) and the organization explicitly, checks
permission through ``organizations.permissions``, runs in one transaction with its audit event
(organization set), and defers email and Celery jobs with ``transaction.on_commit``. Refusals
raise ``Refusal`` (config/refusals.py), audited when they carry an audit action.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, TypeVar

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Lower, StrIndex, Substr
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import NotFound, Refusal, service
from organizations import permissions, quotas
from organizations.models import (
    RESERVED_SLUGS,
    Domain,
    Invitation,
    LoginMethod,
    Membership,
    Organization,
    OrganizationPolicy,
    Role,
    hash_token,
)
from organizations.permissions import Perm

T = TypeVar("T")
ACTIVE_ORG_SESSION_KEY = "gatehouse_active_org"
RESEND_INTERVAL = timedelta(minutes=1)


def _deny(
    actor: Membership | User | None,
    org: Organization,
    what: str,
    *,
    message: str = "You are not allowed to do that in this organization.",
    status: int = 403,
    **data: Any,
) -> Refusal:
    """A refusal that goes on record (``org.access_denied``) once its transaction is undone."""
    user = actor.user if isinstance(actor, Membership) else actor
    return Refusal(
        message,
        status=status,
        action=Action.ORG_ACCESS_DENIED,
        actor=user,
        organization=org,
        details={"attempted": what, **data},
    )


def require(actor: Membership | None, org: Organization, perm: Perm, what: str) -> Membership:
    if actor is None or actor.organization_id != org.pk or not permissions.allowed(actor, perm):
        raise _deny(actor, org, what)
    return actor


# --- Organizations --------------------------------------------------------------------------


def _clean_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    field = Organization._meta.get_field("slug")
    try:
        field.run_validators(slug)
    except ValidationError as exc:
        raise Refusal(" ".join(exc.messages)) from None
    if not slug:
        raise Refusal("Give the organization an address.")
    if slug in RESERVED_SLUGS:  # taken by Gatehouse's own pages
        raise Refusal("That address is reserved. Choose another.", status=409)
    return slug


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Refusal("Give the organization a name.")
    if len(name) > 120:
        raise Refusal("Keep the name under 120 characters.")
    return name


@service
def create_organization(*, actor: User, name: str, slug: str) -> Organization:
    name, slug = _clean_name(name), _clean_slug(slug)
    if Organization.objects.filter(slug=slug).exists():
        raise Refusal("That address is taken. Choose another.", status=409)
    quotas.spend_organization_creation(actor)
    try:
        with transaction.atomic():
            org = Organization.objects.create(name=name, slug=slug)
    except IntegrityError:
        raise Refusal("That address is taken. Choose another.", status=409) from None
    OrganizationPolicy.objects.create(organization=org)
    membership = Membership.objects.create(
        organization=org, user=actor, role=Role.OWNER, source=Membership.Source.CREATED
    )
    record(Action.ORG_CREATED, actor=actor, organization=org, target=org, data={"slug": slug})
    record(
        Action.ORG_MEMBER_JOINED,
        actor=actor,
        organization=org,
        target=actor,
        data={"role": membership.role, "source": membership.source},
    )
    return org


@service
def update_organization(
    *, actor: Membership, org: Organization, name: str, logo_url: str, brand_colour: str
) -> Organization:
    require(actor, org, Perm.MANAGE_SETTINGS, "update settings")
    org.name = _clean_name(name)
    org.logo_url = (logo_url or "").strip()
    org.brand_colour = (brand_colour or "").strip()
    if org.logo_url and not org.logo_url.startswith("https://"):
        raise Refusal("The logo must be an https:// address.")
    try:
        org.full_clean(exclude=["slug"])
    except ValidationError as exc:
        raise Refusal(" ".join(exc.messages)) from None
    changed = [f for f in ("name", "logo_url", "brand_colour")]
    org.save(update_fields=changed)
    record(
        Action.ORG_UPDATED,
        actor=actor.user,
        organization=org,
        target=org,
        data={"name": org.name, "logo_url": org.logo_url, "brand_colour": org.brand_colour},
    )
    return org


@service
def update_policy(*, actor: Membership, org: Organization, **changes: Any) -> OrganizationPolicy:
    require(actor, org, Perm.MANAGE_POLICY, "update policy")
    policy = OrganizationPolicy.objects.select_for_update().get(organization=org)
    allowed_fields = {
        "require_mfa",
        "allowed_login_methods",
        "sso_only",
        "session_lifetime_minutes",
        "auto_join_verified_domains",
        "default_role",
    }
    unknown = set(changes) - allowed_fields
    if unknown:
        raise Refusal(f"Unknown policy settings: {', '.join(sorted(unknown))}.")
    methods = changes.get("allowed_login_methods")
    if methods is not None:
        valid = {m.value for m in LoginMethod}
        if not isinstance(methods, list) or not methods or not set(methods) <= valid:
            raise Refusal("Choose at least one of: password, code, passkey, sso.")
        changes["allowed_login_methods"] = sorted(set(methods))
    lifetime = changes.get("session_lifetime_minutes")
    if lifetime is not None and not (5 <= int(lifetime) <= 60 * 24 * 90):
        raise Refusal("A session lifetime is between 5 minutes and 90 days.")
    if changes.get("default_role") not in (None, Role.MEMBER, Role.ADMIN):
        raise Refusal("New members join as members or admins.")
    before = {name: getattr(policy, name) for name in changes}
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.save()
    diff = {k: v for k, v in changes.items() if before[k] != v}
    if diff:
        record(Action.ORG_POLICY_UPDATED, actor=actor.user, organization=org, data=diff)
    return policy


# --- Members ------------------------------------------------------------------------------------


def _owners(org: Organization) -> int:
    return Membership.objects.for_org(org).active().filter(role=Role.OWNER).count()


def _lock(org: Organization, actor: Membership | None = None) -> Membership | None:
    """Serialise changes to an organization's members: two owners demoting each other, or
    leaving, at the same moment must not leave it without one. Returns the actor's membership
    as it is now, under the lock (their role may have just changed)."""
    Organization.objects.select_for_update().filter(pk=org.pk).first()
    if actor is None:
        return None
    current = Membership.objects.for_org(org).active().filter(pk=actor.pk).first()
    if current is None:
        raise NotFound("You are no longer a member of this organization.")
    return current


def _last_owner(actor: Membership | User, org: Organization, what: str, message: str) -> Refusal:
    return _deny(actor, org, what, message=message, status=409, reason="last owner")


def _locked_member(org: Organization, member_id: int) -> Membership:
    target = (
        Membership.objects.for_org(org)
        .active()
        .select_for_update()
        .select_related("user")
        .filter(pk=member_id)
        .first()
    )
    if target is None:
        raise NotFound("That member does not exist.")
    return target


@service
def change_role(*, actor: Membership, org: Organization, member_id: int, role: str) -> Membership:
    if role not in Role.values:
        raise Refusal("Choose owner, admin or member.")
    actor = _lock(org, actor) or actor
    target = _locked_member(org, member_id)
    if not permissions.may_change_member(actor, target, role):
        raise _deny(actor, org, "change role", member=target.pk, role=role)
    if target.role == role:
        return target
    if target.role == Role.OWNER and _owners(org) == 1:
        raise _last_owner(
            actor,
            org,
            "change role",
            "An organization needs an owner: make someone else owner first.",
        )
    previous = target.role
    target.role = role
    target.save(update_fields=["role"])
    # Invitations they sent for roles they may no longer hand out stop working.
    _withdraw_invitations(target, keep_roles=_invitable_roles(target))
    record(
        Action.ORG_MEMBER_ROLE_CHANGED,
        actor=actor.user,
        organization=org,
        target=target.user,
        data={"from": previous, "to": role},
    )
    return target


def _invitable_roles(membership: Membership) -> list[str]:
    return [role for role in Role.values if permissions.may_invite_as(membership, role)]


def _withdraw_invitations(membership: Membership, *, keep_roles: list[str]) -> int:
    return (
        Invitation.objects.for_org(membership.organization)
        .filter(invited_by_id=membership.user_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .exclude(role__in=keep_roles)
        .update(revoked_at=timezone.now())
    )


def _end_membership(target: Membership) -> int:
    """End a membership now; returns how many of their open invitations were withdrawn."""
    from organizations.tasks import deprovision_membership

    target.status = Membership.Status.REMOVED
    target.ended_at = timezone.now()
    target.deprovisioned_at = None
    target.save(update_fields=["status", "ended_at", "deprovisioned_at"])
    withdrawn = _withdraw_invitations(target, keep_roles=[])
    # Access ends now (every org page and API call checks for an active membership); the
    # cleanup of what was granted through the organization runs in the background, and runs
    # again from the beat schedule if the broker was down.
    transaction.on_commit(lambda: _queue(deprovision_membership, target.pk), robust=True)
    return withdrawn


def _queue(task: Any, *args: Any) -> None:
    try:
        task.delay(*args)
    except Exception:
        import logging

        logging.getLogger(__name__).warning("could not queue %s; the sweep will retry", task.name)


@service
def remove_member(*, actor: Membership, org: Organization, member_id: int) -> Membership:
    actor = _lock(org, actor) or actor
    target = _locked_member(org, member_id)
    if not permissions.may_change_member(actor, target):
        raise _deny(actor, org, "remove member", member=target.pk)
    if target.role == Role.OWNER and _owners(org) == 1:
        raise _last_owner(actor, org, "remove member", "The last owner cannot be removed.")
    withdrawn = _end_membership(target)
    record(
        Action.ORG_MEMBER_REMOVED,
        actor=actor.user,
        organization=org,
        target=target.user,
        data={"role": target.role, "invitations_withdrawn": withdrawn},
    )
    return target


@service
def leave(*, membership: Membership) -> Membership:
    org = membership.organization
    _lock(org)
    target = _locked_member(org, membership.pk)
    if target.role == Role.OWNER and _owners(org) == 1:
        raise _last_owner(
            target, org, "leave", "You are the last owner: transfer ownership before leaving."
        )
    withdrawn = _end_membership(target)
    record(
        Action.ORG_MEMBER_LEFT,
        actor=target.user,
        organization=org,
        target=target.user,
        data={"role": target.role, "invitations_withdrawn": withdrawn},
    )
    return target


@service
def transfer_ownership(*, actor: Membership, org: Organization, member_id: int) -> Membership:
    actor = _lock(org, actor) or actor
    require(actor, org, Perm.TRANSFER_OWNERSHIP, "transfer ownership")
    target = _locked_member(org, member_id)
    if target.pk == actor.pk:
        raise Refusal("You already own this organization.")
    Membership.objects.filter(pk=target.pk).update(role=Role.OWNER)
    Membership.objects.filter(pk=actor.pk).update(role=Role.ADMIN)
    target.role, actor.role = Role.OWNER, Role.ADMIN
    record(
        Action.ORG_OWNERSHIP_TRANSFERRED,
        actor=actor.user,
        organization=org,
        target=target.user,
        data={"previous_owner_now": Role.ADMIN.value},
    )
    return target


def _join(
    *, org: Organization, user: User, role: str, source: str, actor: User | None
) -> Membership:
    membership, created = Membership.objects.select_for_update().get_or_create(
        organization=org, user=user, defaults={"role": role, "source": source}
    )
    if not created:
        if membership.is_active:
            return membership
        membership.status = Membership.Status.ACTIVE
        membership.role = role
        membership.source = source
        membership.ended_at = None
        membership.save(update_fields=["status", "role", "source", "ended_at"])
    record(
        Action.ORG_MEMBER_JOINED,
        actor=actor or user,
        organization=org,
        target=user,
        data={"role": role, "source": source},
    )
    return membership


def _apply_session_lifetime(request: HttpRequest, user: User, org: Organization) -> None:
    """A session working in an organization with a session lifetime ends that long after the
    user signed in (or now, if the session has no record of it)."""
    from accounts.mfa.allauth_glue import authentication_records
    from organizations.middleware import SESSION_DEADLINE_KEY

    minutes = (
        OrganizationPolicy.objects.filter(organization=org)
        .values_list("session_lifetime_minutes", flat=True)
        .first()
    )
    if not minutes:
        request.session.pop(SESSION_DEADLINE_KEY, None)
        return
    records = authentication_records(request, user)
    started = (
        records[0]["at"] if records and isinstance(records[0].get("at"), int | float) else None
    )
    started = started or time.time()
    request.session[SESSION_DEADLINE_KEY] = started + minutes * 60


def switch_active_org(*, request: HttpRequest, user: User, org: Organization | None) -> None:
    if org is None:
        request.session.pop(ACTIVE_ORG_SESSION_KEY, None)
        return
    if not Membership.objects.for_org(org).active().filter(user=user).exists():
        raise NotFound("That organization does not exist.")
    request.session[ACTIVE_ORG_SESSION_KEY] = org.pk
    _apply_session_lifetime(request, user, org)
    with transaction.atomic():
        record(Action.ORG_SWITCHED, actor=user, organization=org, target=org)


@transaction.atomic
def record_probe(*, user: Any, org: Organization, attempted: str) -> None:
    """Someone who is not a member asked for this organization's pages or API."""
    record(
        Action.ORG_ACCESS_DENIED,
        actor=user,
        organization=org,
        outcome=Outcome.FAILURE,
        data={"attempted": attempted[:300], "reason": "not a member"},
    )


@transaction.atomic
def finish_deprovisioning(*, membership_id: int, sessions_cleared: int) -> bool:
    """Mark a removed membership cleaned up, once. False if it changed meanwhile (rejoined)
    or was already done."""
    locked = (
        Membership.objects.select_for_update()
        .select_related("organization", "user")
        .filter(pk=membership_id)
        .first()
    )
    if locked is None or locked.is_active or locked.deprovisioned_at is not None:
        return False
    locked.deprovisioned_at = timezone.now()
    locked.save(update_fields=["deprovisioned_at"])
    record(
        Action.ORG_MEMBER_DEPROVISIONED,
        actor=None,
        actor_text="deprovisioning job",
        organization=locked.organization,
        target=locked.user,
        data={"sessions_cleared": sessions_cleared},
    )
    return True


# --- Invitations --------------------------------------------------------------------------------


def _normalize_email(email: str) -> str:
    email = (email or "").strip()
    adapter = get_adapter()
    try:
        return adapter.clean_email(email).lower()
    except ValidationError as exc:
        raise Refusal(" ".join(exc.messages)) from None


def _invitation_link(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("orgs:invitation-link", args=[token]))


def _send_invitation(request: HttpRequest, invitation: Invitation, token: str) -> None:
    org = invitation.organization
    get_adapter(request).send_mail(
        "organizations/email/invitation",
        invitation.email,
        {
            "organization": org,
            "inviter": invitation.invited_by,
            "role": invitation.get_role_display(),
            "accept_url": _invitation_link(request, token),
            "expires_at": invitation.expires_at,
        },
    )
    invitation.sent_at = timezone.now()
    invitation.send_count += 1
    invitation.save(update_fields=["sent_at", "send_count"])


@service
def invite(
    *, request: HttpRequest, actor: Membership, org: Organization, email: str, role: str
) -> Invitation:
    if role not in Role.values:
        raise Refusal("Choose owner, admin or member.")
    if not permissions.may_invite_as(actor, role):
        raise _deny(actor, org, "invite", role=role)
    email = _normalize_email(email)
    if (
        Membership.objects.for_org(org)
        .active()
        .filter(
            Q(user__email__iexact=email)
            | Q(user__emailaddress__email__iexact=email, user__emailaddress__verified=True)
        )
        .exists()
    ):
        raise Refusal(f"{email} is already a member.", status=409)
    open_invitations = Invitation.objects.for_org(org).filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    # An expired invitation makes way for a new one.
    open_invitations.filter(expires_at__lte=timezone.now()).update(revoked_at=timezone.now())
    if open_invitations.exists():
        raise Refusal(f"{email} is already invited. Resend the invitation instead.", status=409)
    quotas.spend_invitation(actor, org)
    token = Invitation.new_token()
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organization=org,
                email=email,
                role=role,
                token_hash=hash_token(token),
                invited_by=actor.user,
                expires_at=timezone.now() + timedelta(days=settings.GATEHOUSE_INVITATION_DAYS),
            )
    except IntegrityError:  # the same invitation, sent twice at the same moment
        raise Refusal(
            f"{email} is already invited. Resend the invitation instead.", status=409
        ) from None
    _send_invitation(request, invitation, token)
    record(
        Action.ORG_INVITATION_SENT,
        actor=actor.user,
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
def resend_invitation(
    *, request: HttpRequest, actor: Membership, org: Organization, invitation_id: int
) -> Invitation:
    require(actor, org, Perm.MANAGE_INVITATIONS, "resend invitation")
    invitation = _open_invitation(org, invitation_id)
    if not permissions.may_invite_as(actor, invitation.role):
        raise _deny(actor, org, "resend invitation", invitation=invitation.pk)
    since_sent = timezone.now() - invitation.sent_at if invitation.sent_at else None
    if since_sent is not None and since_sent < RESEND_INTERVAL:
        raise Refusal(
            "It was sent a moment ago. Wait a minute before sending it again.",
            status=429,
            retry_after=max(1, int((RESEND_INTERVAL - since_sent).total_seconds())),
        )
    quotas.spend_invitation(actor, org)
    # A fresh link (the old one stops working) and a fresh expiry.
    token = Invitation.new_token()
    invitation.token_hash = hash_token(token)
    invitation.expires_at = timezone.now() + timedelta(days=settings.GATEHOUSE_INVITATION_DAYS)
    invitation.save(update_fields=["token_hash", "expires_at"])
    _send_invitation(request, invitation, token)
    record(
        Action.ORG_INVITATION_RESENT,
        actor=actor.user,
        organization=org,
        target=invitation,
        data={"email": invitation.email},
    )
    return invitation


@service
def revoke_invitation(*, actor: Membership, org: Organization, invitation_id: int) -> Invitation:
    require(actor, org, Perm.MANAGE_INVITATIONS, "revoke invitation")
    invitation = _open_invitation(org, invitation_id)
    if not permissions.may_invite_as(actor, invitation.role):
        raise _deny(actor, org, "revoke invitation", invitation=invitation.pk)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record(
        Action.ORG_INVITATION_REVOKED,
        actor=actor.user,
        organization=org,
        target=invitation,
        data={"email": invitation.email},
    )
    return invitation


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
    org = invitation.organization if invitation else None
    messages = {
        "unknown": "This invitation link is not valid.",
        "accepted": "This invitation has already been used.",
        "revoked": "This invitation was withdrawn.",
        "expired": "This invitation has expired. Ask for a new one.",
        "other_user": "This invitation was sent to another email address. Sign out and open "
        "the link again, or sign in as the person it was sent to.",
    }
    return Refusal(
        messages[reason],
        status=404 if reason == "unknown" else 400,
        action=Action.ORG_INVITATION_REFUSED,
        actor=user,
        organization=org,
        target=invitation,
        details={"reason": reason},
    )


@service
def check_invitation(token: str, user: User | None = None) -> Invitation:
    invitation = find_invitation(token)
    if invitation is None:
        raise _refuse(None, user, "unknown")
    if invitation.state != "open":
        raise _refuse(invitation, user, invitation.state)
    if user is not None and user.is_authenticated and not _user_has_email(user, invitation.email):
        raise _refuse(invitation, user, "other_user")
    return invitation


def _user_has_email(user: User, email: str) -> bool:
    """The invitation's address is one of the user's *verified* addresses."""
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


@service
def accept_invitation(*, token: str, user: User) -> Membership:
    invitation = check_invitation(token, user)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != "open":  # lost a race with another acceptance or a revocation
        raise _refuse(invitation, user, invitation.state)
    inviter = (
        Membership.objects.for_org(invitation.organization)
        .active()
        .filter(user=invitation.invited_by)
        .first()
        if invitation.invited_by_id
        else None
    )
    if inviter is None or not permissions.may_invite_as(inviter, invitation.role):
        # The person who sent it has left, or may no longer grant this role.
        raise _refuse(invitation, user, "revoked")
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    membership = _join(
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


@service
def sign_up_from_invitation(*, token: str, password: str) -> tuple[User, Membership]:
    """A new person accepts: the account is created with the invited address, verified by the
    link itself (only the mailbox's owner could open it)."""
    from sso.enforcement import new_account_refusal

    invitation = check_invitation(token)
    if User.objects.filter(email__iexact=invitation.email).exists() or (
        EmailAddress.objects.filter(email__iexact=invitation.email).exists()
    ):
        raise Refusal("An account with this address exists already: sign in to accept.")
    broken = new_account_refusal(invitation.organization, invitation.email, invitation.role)
    if broken is not None:
        org = invitation.organization
        raise Refusal(
            f"{org.name} signs its members in with single sign-on: continue with SSO to accept."
            if broken["sso_only"]
            else f"{org.name} does not allow sign-in by password: accept with a method it allows.",
            status=403,
            action=(
                Action.LOGIN_SSO_REQUIRED if broken["sso_only"] else Action.LOGIN_METHOD_NOT_ALLOWED
            ),
            actor_text=invitation.email,
            organization=org,
            target=invitation,
            details={"method": broken["method"], "via": "invitation"},
        )
    user = User.objects.create_user(email=invitation.email, password=password)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    record(
        Action.USER_SIGNED_UP,
        actor=user,
        target=user,
        organization=invitation.organization,
        data={"via": "invitation"},
    )
    return user, accept_invitation(token=token, user=user)


# --- Domains -------------------------------------------------------------------------------------


def _clean_domain(name: str) -> str:
    name = (name or "").strip().lower().rstrip(".")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refusal("That is not a domain name.") from None
    try:
        Domain._meta.get_field("name").run_validators(name)
    except ValidationError:
        raise Refusal("That is not a domain name, e.g. example.com.") from None
    return name


@service
def add_domain(*, actor: Membership, org: Organization, name: str) -> Domain:
    require(actor, org, Perm.MANAGE_DOMAINS, "add domain")
    name = _clean_domain(name)
    if Domain.objects.for_org(org).filter(name=name).exists():
        raise Refusal(f"{name} is already listed.", status=409)
    if Domain.objects.filter(name=name, verified_at__isnull=False).exists():
        raise Refusal(f"{name} is verified by another organization.", status=409)
    try:
        with transaction.atomic():
            domain = Domain.objects.create(
                organization=org, name=name, verification_token=Domain.new_token()
            )
    except IntegrityError:  # added twice at the same moment
        raise Refusal(f"{name} is already listed.", status=409) from None
    record(Action.ORG_DOMAIN_ADDED, actor=actor.user, organization=org, target=domain)
    return domain


@service
def remove_domain(*, actor: Membership, org: Organization, domain_id: int) -> None:
    require(actor, org, Perm.MANAGE_DOMAINS, "remove domain")
    domain = Domain.objects.for_org(org).filter(pk=domain_id).first()
    if domain is None:
        raise NotFound("That domain does not exist.")
    record(
        Action.ORG_DOMAIN_REMOVED,
        actor=actor.user,
        organization=org,
        data={"domain": domain.name, "was_verified": domain.is_verified},
    )
    domain.delete()


@service
def verify_domain(*, actor: Membership | None, org: Organization, domain_id: int) -> Domain:
    """Look the TXT record up and record the result. ``actor`` None is the beat job's
    re-check. A record that is gone un-verifies the domain: it stops counting at once."""
    from organizations import dns

    if actor is not None:
        require(actor, org, Perm.MANAGE_DOMAINS, "verify domain")
    domain = Domain.objects.for_org(org).filter(pk=domain_id).first()
    if domain is None:
        raise NotFound("That domain does not exist.")
    found, detail = dns.has_txt_record(domain.record_name, domain.record_value)
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    domain.last_checked_at = timezone.now()
    domain.last_check_result = detail[:200]
    user = actor.user if actor else None
    if found and not domain.is_verified:
        claimed = Domain.objects.filter(name=domain.name, verified_at__isnull=False).exists()
        if not claimed:
            domain.verified_at = timezone.now()
            try:
                with transaction.atomic():
                    domain.save(
                        update_fields=["verified_at", "last_checked_at", "last_check_result"]
                    )
            except IntegrityError:  # another organization verified it at the same moment
                domain.verified_at = None
                claimed = True
        if claimed:
            found = False
            domain.last_check_result = "verified by another organization"
        else:
            record(Action.ORG_DOMAIN_VERIFIED, actor=user, organization=org, target=domain)
            return domain
    if not found and domain.is_verified:
        domain.verified_at = None
        record(
            Action.ORG_DOMAIN_LOST,
            actor=user,
            organization=org,
            target=domain,
            outcome=Outcome.FAILURE,
            data={"detail": domain.last_check_result},
        )
    elif not found:
        record(
            Action.ORG_DOMAIN_CHECK_FAILED,
            actor=user,
            organization=org,
            target=domain,
            outcome=Outcome.FAILURE,
            data={"detail": domain.last_check_result},
        )
    domain.save(update_fields=["verified_at", "last_checked_at", "last_check_result"])
    return domain


# It is called at every login, inside the login's transaction: no savepoint (two round trips
# for nothing); it never refuses anything, so there is nothing to roll back on its own.
@transaction.atomic(savepoint=False)
def auto_join_by_domain(*, user: User, emails: list[str] | None = None) -> list[Membership]:
    """Join the organizations that verified the domain of one of the user's *verified*
    addresses (``emails``, or all of them) and turned auto-join on. Unverified addresses never
    count, and someone once removed is not brought back. One query when nothing matches."""
    if emails is not None:
        # The common case at login: no organization auto-joins that domain. One cheap query.
        domains = [email.rsplit("@", 1)[-1].lower() for email in emails if "@" in email]
        if not Domain.objects.filter(
            name__in=domains,
            verified_at__isnull=False,
            organization__policy__auto_join_verified_domains=True,
        ).exists():
            return []
    addresses = EmailAddress.objects.filter(user=user, verified=True)
    if emails is not None:
        matching = Q(pk__in=[])
        for email in emails:
            matching |= Q(email__iexact=email)
        addresses = addresses.filter(matching)
    orgs = (
        Organization.objects.filter(
            domains__verified_at__isnull=False,
            policy__auto_join_verified_domains=True,
        )
        .annotate(
            matches=Exists(
                addresses.annotate(
                    domain=Lower(Substr("email", StrIndex("email", Value("@")) + 1))
                ).filter(domain=OuterRef("domains__name"))
            )
        )
        .filter(matches=True)
        .exclude(memberships__user=user)
        .select_related("policy")
        .distinct()
    )
    return [
        _join(
            org=org,
            user=user,
            role=org.policy.default_role,
            source=Membership.Source.DOMAIN,
            actor=user,
        )
        for org in orgs
    ]
