"""What the rest of Gatehouse asks of an organization's SCIM directory about one person.

SSO asks whom a first sign-in is (the directory may already have linked that person's
account), whether a removed member was turned off by the directory, and whether the
directory's groups decide a member's role (then the IdP's groups do not, trap T7). The
organizations app tells it, through ``accounts.extensions``, that an admin removed a member
(trap T8). Every question is asked within one organization: a directory's records never
name another organization's people.
"""

from __future__ import annotations

from django.db.models import Q

from accounts.models import User
from organizations.models import Membership, Organization
from sso.scim.documents import user_name_key
from sso.scim.models import Directory, LinkState, ScimUser


def account_for(org: Organization, *, subject: str, email: str | None) -> User | None:
    """The account the organization's directory linked to the person an IdP names by
    ``subject`` (or by ``email``, an address already known to lie in the org's verified
    domains), or None. A record whose externalId is the subject comes first, then one whose
    userName is the subject, then one whose userName is the address."""
    directory = Directory.objects.for_org(org).exclude(status=Directory.Status.OFF).first()
    if directory is None or not subject:
        return None
    subject_key = user_name_key(subject)
    wanted = Q(external_id=subject) | Q(user_name_key=subject_key)
    email_key = user_name_key(email) if email else None
    if email_key:
        wanted |= Q(user_name_key=email_key)
    found = list(
        ScimUser.objects.for_directory(directory)
        .filter(wanted, link_state=LinkState.LINKED, user__isnull=False)
        .select_related("user")[:3]
    )
    for matches in (
        lambda r: r.external_id == subject,
        lambda r: r.user_name_key == subject_key,
        lambda r: email_key is not None and r.user_name_key == email_key,
    ):
        for record in found:
            if matches(record):
                return record.user
    return None


def deactivated_by_directory(membership: Membership) -> bool:
    """Whether this ended membership was ended because the organization's directory turned
    the person off (their linked record is inactive), rather than by an admin."""
    return ScimUser.objects.filter(
        organization_id=membership.organization_id,
        user_id=membership.user_id,
        link_state=LinkState.LINKED,
        active=False,
    ).exists()


def manages_role(org: Organization, user: User) -> bool:
    """Whether the organization's directory sets this member's role: it is on, maps at least
    one group to a role, and has linked the person. Then SSO leaves the role alone."""
    return ScimUser.objects.filter(
        organization=org,
        user=user,
        link_state=LinkState.LINKED,
        directory__status=Directory.Status.ACTIVE,
        directory__groups__role__isnull=False,
    ).exists()


def detach(membership: Membership) -> None:
    """An admin removed this member (``accounts.extensions.hooks.member_removed``, in their
    transaction): the directory's record of them stops managing the account, so no later
    update from the directory brings them back or changes their role."""
    ScimUser.objects.filter(
        organization_id=membership.organization_id,
        user_id=membership.user_id,
        link_state=LinkState.LINKED,
    ).update(link_state=LinkState.DETACHED)
