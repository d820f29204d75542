"""Admitting a directory's user record: whether it becomes (or links to) an account with a
membership, by the rules SSO's just-in-time accounts follow (``sso.admission.claim_address``).

In order: the record's address (its work email, else its userName if that is an address)
must lie in the directory's verified domains; the org's owners and staff are never linked; an
account that proved the address is linked, unless another record of the directory already
has it; a never-verified account's hold on the address is released; otherwise an account is
created with the address verified and no email sent (the directory speaks for its own
domains, as the org's IdP does). A linked account then joins the organization with the role
the record's groups map to.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.models import User
from audit.actions import Action
from audit.services import record
from organizations.models import Membership
from organizations.services.members import join, lock_members
from sso.admission import claim_address, email_in_domains, privileged_in, verified_names
from sso.scim.actor import DirectoryActor
from sso.scim.models import Directory, LinkState, ScimUser
from sso.scim.roles import mapped_role
from sso.services.logins import drop_unproven_claims, release_unverified_address

# Why a record was given no account: ``scim.user_not_admitted``'s "reason".
OUTSIDE_DOMAINS = "outside_domains"
PRIVILEGED = "privileged"
ADDRESS_IN_USE = "address_in_use"
LINKED_TO_ANOTHER_RECORD = "linked_to_another_record"


def directory_domains(directory: Directory) -> frozenset[str]:
    """The verified domains the directory may give accounts in."""
    return verified_names(directory.domains.all(), directory.organization)


def address_of(scim_user: ScimUser) -> str:
    """The address a record is admitted by: its work email, else its userName when that is
    a valid address (one "@", a real local part: never ``x@evil.example@acme.test``); empty
    when it has neither."""
    if scim_user.work_email:
        return scim_user.work_email.strip().lower()
    name = scim_user.user_name.strip()
    try:
        validate_email(name)
    except ValidationError:
        return ""
    return name.lower()


def admit(scim_user: ScimUser, *, actor: DirectoryActor) -> None:
    """Link an active record that has no account yet, or record why it gets none."""
    directory = scim_user.directory
    org = directory.organization
    # Two records of one directory never race for one account (unique per directory).
    lock_members(org)
    address = address_of(scim_user)
    if not address or not email_in_domains(address, directory_domains(directory)):
        not_admitted(scim_user, LinkState.OUTSIDE_DOMAINS, OUTSIDE_DOMAINS, actor=actor)
        return
    claim = claim_address(address, org)
    if claim.kind == "privileged":
        not_admitted(scim_user, LinkState.PRIVILEGED, PRIVILEGED, actor=actor)
        return
    if claim.kind == "conflict":
        not_admitted(scim_user, LinkState.CONFLICT, ADDRESS_IN_USE, actor=actor)
        return
    if claim.kind == "link":
        assert claim.user is not None
        taken = (
            ScimUser.objects.for_directory(directory)
            .filter(user=claim.user)
            .exclude(pk=scim_user.pk)
            .exists()
        )
        if taken:
            not_admitted(scim_user, LinkState.CONFLICT, LINKED_TO_ANOTHER_RECORD, actor=actor)
            return
        _link(scim_user, claim.user, account="existing", actor=actor)
        return
    if claim.kind == "release":
        assert claim.user is not None
        release_unverified_address(
            claim.user,
            org=org,
            actor_text=actor.audit_text,
            how=f"was provisioned by {org.name}'s directory",
            data={"directory": str(directory.public_id)},
        )
    user = _new_account(address, scim_user.display_name)
    if user is None:  # a concurrent sign-up or sign-in took the address meanwhile
        not_admitted(scim_user, LinkState.CONFLICT, ADDRESS_IN_USE, actor=actor)
        return
    _link(scim_user, user, account="created", actor=actor)


def still_admissible(scim_user: ScimUser, *, actor: DirectoryActor) -> bool:
    """Whether a linked record may still bring its person back (reactivation): the rules
    that admitted it hold today. An account made staff or owner since, or an address whose
    domain is no longer verified or no longer the directory's, unlinks the record instead."""
    user = scim_user.user
    assert user is not None
    directory = scim_user.directory
    if privileged_in(user, directory.organization):
        not_admitted(scim_user, LinkState.PRIVILEGED, PRIVILEGED, actor=actor)
        return False
    address = address_of(scim_user)
    if not address or not email_in_domains(address, directory_domains(directory)):
        not_admitted(scim_user, LinkState.OUTSIDE_DOMAINS, OUTSIDE_DOMAINS, actor=actor)
        return False
    return True


def not_admitted(
    scim_user: ScimUser, state: LinkState, reason: str, *, actor: DirectoryActor
) -> None:
    """Record that the record has no account, and why: audited when that changes (the
    directory sends the same record again and again)."""
    if scim_user.link_state == state and scim_user.user_id is None:
        return
    scim_user.user = None
    scim_user.link_state = state
    scim_user.save(update_fields=["user", "link_state"])
    record(
        Action.SCIM_USER_NOT_ADMITTED,
        actor=actor,
        organization=scim_user.directory.organization,
        target=scim_user,
        data={"reason": reason},
    )


def _new_account(address: str, display_name: str) -> User | None:
    """An account for ``address``, verified, with no password and no email sent (the person
    signs in through the org's SSO, or by emailed code). None if the address was taken."""
    drop_unproven_claims(address)  # other accounts' pending claims on it
    try:
        with transaction.atomic():  # a savepoint: a racing sign-up may hold the address
            user = User.objects.create_user(
                email=address, password=None, display_name=display_name.strip()[:150]
            )
            EmailAddress.objects.create(user=user, email=address, verified=True, primary=True)
    except IntegrityError:
        return None
    return user


def _link(scim_user: ScimUser, user: User, *, account: str, actor: DirectoryActor) -> None:
    """Link the record to ``user`` and make them a member with the mapped role (an ended
    membership comes back; an active one keeps its role until the groups say otherwise)."""
    scim_user.user = user
    scim_user.link_state = LinkState.LINKED
    scim_user.save(update_fields=["user", "link_state"])
    org = scim_user.directory.organization
    membership = join(
        org=org,
        user=user,
        role=mapped_role(scim_user),
        source=Membership.Source.SCIM,
        actor=actor,
    )
    record(
        Action.SCIM_USER_LINKED,
        actor=actor,
        organization=org,
        target=user,
        data={"account": account, "role": membership.role},
    )
