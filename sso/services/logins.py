"""The writes of an SSO sign-in: what ``sso.admission.admit`` decided, carried out inside
allauth's login by the adapter's hooks (``sso.adapter``) and the login receiver.

None of these opens a transaction of its own: they run in the login's, which the view that
completes the login owns (``sso.saml.views.FinishACSView``, ``sso.oidc.views``'s callback),
so a login's account, identity, membership and audit events commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.core import context
from allauth.socialaccount import signals
from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.utils import timezone

from accounts import extensions
from accounts.mfa import policy
from accounts.models import User, address_is
from accounts.services import end_sessions
from accounts.user_sessions import UserSession
from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import service
from organizations.models import Membership, Organization, Role
from sso.admission import ADMISSION_ATTR
from sso.checks import Check, refused
from sso.models import Connection, IdentityConfirmation, connection_of
from sso.scim import directory_links


class AdmittedLogin(SocialLogin):
    """allauth's social login for a known identity, once admission has read it: allauth's
    lookup updates the identity (its ``extra_data``, ``last_login``) and sends its signal as
    it always does, without reading the identity and its account again, and the account is
    known to exist (admission read it in this request)."""

    def _admitted_account(self) -> Any:
        admission = getattr(self, ADMISSION_ATTR, None)
        return admission.account if admission is not None else None

    def _lookup_by_socialaccount(self) -> bool:
        account = self._admitted_account()
        if account is None:
            return bool(super()._lookup_by_socialaccount())
        # allauth's lookup, step by step, except that the identity is not read again: it is
        # updated only if it is still the row admission read (same account), so an identity
        # removed or moved meanwhile (erasure, a disconnect, the connection deleted) is neither
        # written back nor signed in.
        asserted: Any = self.account  # type: ignore[has-type]  # as the IdP sent it, unsaved
        account.extra_data = asserted.extra_data
        account.last_login = timezone.now()
        still_there = SocialAccount.objects.filter(
            pk=account.pk, user_id=account.user_id, provider=account.provider, uid=account.uid
        ).update(extra_data=account.extra_data, last_login=account.last_login)
        if not still_there:
            connection = connection_of(self)
            assert connection is not None  # admission runs for Gatehouse's connections only
            raise refused(
                Check.IDENTITY_GONE,
                connection,
                "This sign-in could not finish: try signing in again.",
                status=409,
            )
        self.account = account
        self.user = account.user
        signals.social_account_updated.send(
            sender=SocialLogin, request=context.request, sociallogin=self
        )
        self._store_token()
        return True

    @property
    def is_existing(self) -> bool:
        account = self._admitted_account()
        if account is not None and self.user is account.user:
            return True
        return bool(super().is_existing)


def carry_admission(sociallogin: Any) -> None:
    """Let allauth's login use what admission read for a known identity (``AdmittedLogin``)."""
    admission = getattr(sociallogin, ADMISSION_ATTR, None)
    if admission is not None and admission.account is not None:
        sociallogin.__class__ = AdmittedLogin


def drop_unproven_claims(email: str) -> int:
    """Other accounts' never-verified rows for an address SSO is about to give to a new account
    (a pending email change, say). Left in place, allauth would take the address for taken
    and send the person to confirm it instead of creating their account."""
    return EmailAddress.objects.filter(address_is(email), verified=False).delete()[0]


def release_unverified_account(connection: Connection, user: User) -> None:
    """Someone registered this address and never proved it. They do not get the SSO identity:
    their password goes, their sessions end, the account is blocked and its address freed."""
    release_unverified_address(
        user,
        org=connection.organization,
        actor_text=f"sso:{connection.slug}",
        how=f"signed in through {connection.organization.name}'s SSO",
        data={"connection": connection.slug},
    )


def release_unverified_address(
    user: User, *, org: Organization, actor_text: str, how: str, data: dict[str, Any]
) -> None:
    """Free a never-verified account's address for the person the organization vouches for
    (an SSO sign-in, a SCIM directory: ``how``, in the block reason). In the caller's
    transaction, but the sessions end at once (the session store is not transactional)."""
    released = f"released-{user.public_id.hex}@invalid"
    EmailAddress.objects.filter(user=user).delete()
    user.set_unusable_password()
    user.email = released
    user.is_blocked = True
    user.blocked_reason = f"Never verified; its address {how}."
    user.blocked_at = timezone.now()
    user.save(update_fields=["password", "email", "is_blocked", "blocked_reason", "blocked_at"])
    ended = end_sessions(list(UserSession.objects.filter(user=user)))
    extensions.hooks.end_app_tokens(user=user, reason="blocked")
    record(
        Action.SSO_UNVERIFIED_ACCOUNT_RELEASED,
        actor=None,
        actor_text=actor_text,
        organization=org,
        target=user,
        data={**data, "sessions_ended": ended},
    )


def apply_membership(
    connection: Connection,
    user: User,
    role: str,
    *,
    created: bool,
    known: Membership | None = None,
) -> Membership:
    """The person's membership with the role their groups map to (owners keep theirs, and so
    do members whose role the organization's SCIM directory sets).
    ``known``: the membership admission read in this sign-in; when it has that role already
    (the usual sign-in), there is nothing to write, and nothing is locked."""
    if known is not None and known.role in (role, Role.OWNER):
        return known
    org = connection.organization
    membership, new = Membership.objects.select_for_update().get_or_create(
        organization=org,
        user=user,
        defaults={"role": role, "source": Membership.Source.SSO},
    )
    if new:
        record(
            Action.ORG_MEMBER_JOINED,
            actor=user,
            organization=org,
            target=user,
            data={"role": role, "source": Membership.Source.SSO, "connection": connection.slug},
        )
    elif (
        membership.role != role
        and membership.role != Role.OWNER
        # The organization's directory maps this member's role from its groups (T7).
        and not directory_links.manages_role(org, user)
    ):
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        record(
            Action.SSO_ROLE_MAPPED,
            actor=None,
            actor_text=f"sso:{connection.slug}",
            organization=org,
            target=user,
            data={"from": before, "to": role, "connection": connection.slug},
        )
    return membership


def record_link(connection: Connection, user: User) -> None:
    record(
        Action.SSO_IDENTITY_LINKED,
        actor=user,
        organization=connection.organization,
        target=user,
        data={"connection": connection.slug},
    )


def record_created(connection: Connection, user: User) -> None:
    record(
        Action.SSO_USER_CREATED,
        actor=user,
        organization=connection.organization,
        target=user,
        data={"connection": connection.slug},
    )


def record_success(connection: Connection, user: User, *, idp_mfa: bool) -> None:
    record(
        Action.SSO_LOGIN_SUCCEEDED,
        actor=user,
        organization=connection.organization,
        target=user,
        data={"connection": connection.slug, "protocol": connection.protocol, "idp_mfa": idp_mfa},
    )


def confirm_identity(sociallogin: Any, user: User) -> None:
    """Remember that this identity completed a sign-in that passed the account's own second
    factor: from now on it may vouch for its IdP's MFA (``sso.admission.trusts_idp_mfa``)."""
    account_id = getattr(sociallogin.account, "pk", None)
    # Only a sign-in that passed the account's own second factor confirms the identity: one
    # made while the account had none proves nothing about a factor added later.
    if account_id is not None and policy.has_mfa(user):
        # One INSERT ... ON CONFLICT DO NOTHING: this runs at every SSO sign-in.
        IdentityConfirmation.objects.bulk_create(
            [IdentityConfirmation(account_id=account_id)], ignore_conflicts=True
        )


@service(durable=False)
def record_sso_logout(connection: Connection, user: User) -> None:
    """Single logout from the IdP ended this person's session here."""
    record(
        Action.SSO_LOGOUT,
        actor=user,
        organization=connection.organization,
        target=user,
        data={"connection": connection.slug},
    )


@service(durable=False)
def record_test(connection: Connection, actor: Any, *, check: str, reason: str) -> None:
    """What a "Test connection" login came to: ``check`` is the failed check's name, or
    empty when every check passed."""
    record(
        Action.SSO_CONNECTION_TESTED,
        actor=actor,
        organization=connection.organization,
        target=connection,
        outcome=Outcome.FAILURE if check else Outcome.SUCCESS,
        data={"connection": connection.slug, "check": check or "passed", "reason": reason[:300]},
    )
