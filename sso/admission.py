"""Who an SSO login through an organization's connection signs in, and whether it may: the
rules, as decisions that write nothing.

``admit`` runs once the IdP's answer has passed every protocol check. It decides whose account
this is and whether it may come in, or refuses with the name of the rule (a check of
``sso.checks``). The adapter's hooks then carry the decision out inside allauth's login
(``sso.services.logins``: link, create, map the role).

The rules:
- An identity is (connection, subject): allauth's SocialAccount(provider=connection.slug,
  uid=subject). Once known, it logs in as its account, whatever address it asserts today.
- A new identity that the organization's SCIM directory already linked to an account (its
  subject or address is a directory user's userName or externalId) signs in to that account.
- Otherwise a new identity needs an address inside the organization's verified domains; others
  are refused. An account whose address is verified is linked. An account registered with the
  address but never verified is not merged into: it loses its password and sessions, and its
  address is released for the new account (the pre-account-takeover defence).
- The role comes from the IdP's groups at every login (owners are never demoted by it).
  A membership that an admin removed is not brought back by signing in: that login is refused,
  and so is one the directory turned off.

The address rules (``claim_address``, ``verified_names``, ``privileged_in``, ``releasable``) take
an organization and a set of domains, not a connection: SCIM admission (``sso.scim``) applies
the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User, address_is
from organizations.models import Domain, Invitation, Membership, Organization, Role
from sso import enforcement
from sso.checks import Check, refused
from sso.models import Connection, IdentityConfirmation, MFATrust, connection_of
from sso.scim import directory_links

ROLE_STRENGTH = {Role.MEMBER.value: 0, Role.ADMIN.value: 1}
# OIDC "amr" values (RFC 8176) that mean more than one factor was used at the IdP.
MFA_AMR = frozenset({"mfa", "otp", "hwk", "swk", "fpt", "face", "iris", "retina", "sc", "sms"})
# SAML AuthnContextClassRef values that common IdPs send after multi-factor authentication.
MFA_AUTHN_CONTEXTS = frozenset(
    {
        "http://schemas.microsoft.com/claims/multipleauthn",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor",
        "https://refeds.org/profile/mfa",
        "http://id.elegnamnden.se/loa/1.0/loa3",
    }
)
ADMISSION_ATTR = "gatehouse_admission"
PRIVILEGED = (
    "This account has privileges that single sign-on cannot take over. Sign in with its "
    "password or passkey."
)


@dataclass
class Admission:
    kind: str  # "existing", "link", "release" (then create), "create"
    role: str
    email: str | None = None
    user: User | None = None
    # What the decision read, for the login's writes to use rather than read again: the
    # identity ("existing", with its account) and the account's membership in the organization.
    account: SocialAccount | None = None
    membership: Membership | None = None


# --- What the IdP said --------------------------------------------------------------------------


def verified_domains(connection: Connection) -> frozenset[str]:
    """The verified domains this connection serves: the only addresses it is trusted for (a
    subsidiary's IdP connected for subsidiary.test says nothing about acme.test). Read once per
    connection object (a login asks for each address the IdP sent, and again when admitting)."""
    cached = getattr(connection, "_verified_domains", None)
    if cached is None:
        cached = verified_names(connection.domains.all(), connection.organization)
        connection._verified_domains = cached  # type: ignore[attr-defined]
    return cached


def verified_names(domains: QuerySet[Domain], org: Organization) -> frozenset[str]:
    """The names of ``domains`` that ``org`` has verified: what an IdP or a directory chosen
    for some of the org's domains is trusted for (unverified or foreign ones never count)."""
    return frozenset(
        domains.filter(organization=org, verified_at__isnull=False).values_list("name", flat=True)
    )


def email_in_domains(email: str, domains: frozenset[str]) -> bool:
    return email.rpartition("@")[2].lower() in domains


def asserted_email(connection: Connection, sociallogin: Any) -> str | None:
    """The IdP's address for this person, if it lies inside the org's verified domains."""
    domains = verified_domains(connection)
    for address in sociallogin.email_addresses:
        if address.email and email_in_domains(address.email, domains):
            return str(address.email).lower()
    return None


def claims_of(connection: Connection, sociallogin: Any) -> dict:
    """What the IdP asserted: OIDC claims (the ID token's over userinfo's), SAML attributes."""
    data = sociallogin.account.extra_data or {}
    if connection.is_oidc:
        return {**(data.get("userinfo") or {}), **(data.get("id_token") or {})}
    return dict(data)  # SAML: {attribute name: [values]}


def groups_of(connection: Connection, sociallogin: Any) -> list[str]:
    if not connection.groups_attribute:
        return []
    value = claims_of(connection, sociallogin).get(connection.groups_attribute)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def mapped_role(connection: Connection, sociallogin: Any) -> str:
    """The strongest role any of the person's groups maps to; the default role otherwise."""
    mapping = connection.role_mapping or {}
    roles = [
        mapping[g] for g in groups_of(connection, sociallogin) if mapping.get(g) in ROLE_STRENGTH
    ]
    if not roles:
        return connection.default_role
    return max(roles, key=ROLE_STRENGTH.__getitem__)


def idp_reported_mfa(connection: Connection, sociallogin: Any, details: dict | None = None) -> bool:
    if connection.is_oidc:
        amr = claims_of(connection, sociallogin).get("amr") or []
        return isinstance(amr, list) and bool(MFA_AMR & {str(v) for v in amr})
    contexts = set((details or {}).get("authn_contexts") or [])
    return bool(MFA_AUTHN_CONTEXTS & contexts)


# --- The decision -------------------------------------------------------------------------------


def admit(request: HttpRequest, connection: Connection, sociallogin: Any) -> Admission:
    """Decide what this login does, or refuse it (a ``Refusal`` naming the rule). Reads only."""
    role = mapped_role(connection, sociallogin)
    account = (
        SocialAccount.objects.filter(provider=connection.slug, uid=sociallogin.account.uid)
        .select_related("user")
        .first()
    )
    memberships: list[Membership] = []
    if account is not None:
        # Read once: whether the account is the organization's owner, whether it was removed
        # from it, and other organizations' sign-in rules (_check_account) are all in them.
        memberships = memberships_of(account.user)
        membership = _in_organization(connection, memberships)
        if privileged(account.user, membership):
            # Linked while it was an ordinary account, privileged since (an ownership transfer,
            # made staff): the IdP may not sign it in now.
            raise refused(Check.PRIVILEGED_ACCOUNT, connection, PRIVILEGED)
        admission = Admission(
            "existing", role, user=account.user, account=account, membership=membership
        )
    else:
        admission = _admit_new_identity(connection, sociallogin, role)
    # The account this login would sign in to. (For "release", admission.user is the
    # never-verified account that loses the address: its state says nothing about this person.)
    if admission.kind in ("existing", "link") and admission.user is not None:
        if account is None:
            memberships = memberships_of(admission.user)
            admission.membership = _in_organization(connection, memberships)
        _check_account(request, connection, sociallogin, admission, memberships)
        sociallogin.gatehouse_policy_checked = True  # pre_login need not ask again
    setattr(sociallogin, ADMISSION_ATTR, admission)
    return admission


def _admit_new_identity(connection: Connection, sociallogin: Any, role: str) -> Admission:
    """An identity seen for the first time: link it, create its account, or refuse."""
    org_name = connection.organization.name
    email = asserted_email(connection, sociallogin)
    # The organization's own directory may already know this person (by the subject or the
    # address) and have linked their account: that account, never another organization's.
    provisioned = directory_links.account_for(
        connection.organization, subject=str(sociallogin.account.uid), email=email
    )
    # Only within the domains this connection is trusted for: a connection set up for one
    # domain never reaches, through the directory, an account in another.
    if provisioned is not None and not email_in_domains(
        provisioned.email, verified_domains(connection)
    ):
        provisioned = None
    if provisioned is not None:
        if is_privileged(provisioned, connection):
            raise refused(Check.PRIVILEGED_ACCOUNT, connection, PRIVILEGED)
        return Admission("link", role, email=email, user=provisioned)
    if email is None:
        raise refused(
            Check.EMAIL_DOMAIN,
            connection,
            f"Your identity provider did not give an email address in a verified domain of "
            f"{org_name}.",
        )
    claim = claim_address(email, connection.organization)
    if claim.kind == "privileged":
        # An org admin can point a connection at an IdP they run: linking would let them
        # sign in as the org's owner, or as staff. Those accounts are never linked.
        raise refused(Check.PRIVILEGED_ACCOUNT, connection, PRIVILEGED)
    if claim.kind == "link":
        return Admission("link", role, email=email, user=claim.user)
    if claim.kind == "conflict":
        raise refused(
            Check.ACCOUNT_CONFLICT,
            connection,
            "An account already uses this address in a way single sign-on cannot settle. "
            "Contact support.",
        )
    if not connection.jit_enabled and not invited(connection, email):
        raise refused(
            Check.JIT_DISABLED,
            connection,
            f"There is no account for you yet. Ask an admin of {org_name} to invite you.",
        )
    return Admission(claim.kind, role, email=email, user=claim.user)


@dataclass(frozen=True)
class AddressClaim:
    """Whose an address in an organization's verified domains is, and what admitting a
    person by it may do: ``link`` the account that proved it; ``release`` a never-verified
    account's hold on it, then create; ``create``; or not at all: ``privileged`` (the org's
    owner, or staff) or ``conflict`` (held in a way only support can settle)."""

    kind: str
    user: User | None = None


def claim_address(email: str, org: Organization) -> AddressClaim:
    """The rule SSO and SCIM share for an address the organization vouches for. Reads only."""
    # Whoever proved the address owns it, whether it is their login address or not.
    proven = (
        EmailAddress.objects.filter(address_is(email), verified=True).select_related("user").first()
    )
    owner = proven.user if proven else User.objects.filter(address_is(email)).first()
    if owner is not None and privileged_in(owner, org):
        return AddressClaim("privileged", owner)
    if proven is not None:
        return AddressClaim("link", owner)
    if owner is not None and not releasable(owner, email.lower()):
        return AddressClaim("conflict", owner)
    return AddressClaim("release" if owner else "create", owner)


def _check_account(
    request: HttpRequest,
    connection: Connection,
    sociallogin: Any,
    admission: Admission,
    memberships: list[Membership],
) -> None:
    """Refuse signing in to an existing account that is blocked, removed from the
    organization, or bound by another organization's sign-in rules (``memberships``: every
    membership of the account)."""
    user, membership = admission.user, admission.membership
    if getattr(user, "is_blocked", False):
        # Refused here, before linking or mapping writes anything for a blocked account.
        raise refused(
            Check.ACCOUNT_BLOCKED, connection, "This account is blocked. Contact support."
        )
    if membership is not None and not membership.is_active:
        if directory_links.deactivated_by_directory(membership):
            raise refused(
                Check.DIRECTORY_DEACTIVATED,
                connection,
                f"Your account was turned off in {connection.organization.name}'s directory. "
                "Ask its IT team to turn it back on.",
            )
        raise refused(
            Check.MEMBERSHIP_REMOVED,
            connection,
            f"Your access to {connection.organization.name} was removed by its admins.",
        )
    # Another organization's sign-in rules, decided now so a refusal writes nothing.
    broken = enforcement.check(request, user, {"sociallogin": sociallogin}, memberships)
    if broken is not None:
        raise refused(
            Check.SIGN_IN_POLICY,
            connection,
            f"{broken['org'].name} asks you to sign in another way.",
        )


def admission_of(request: HttpRequest, connection: Connection, sociallogin: Any) -> Admission:
    """The decision already made for this login, or made now."""
    admission = getattr(sociallogin, ADMISSION_ATTR, None)
    return admission if admission is not None else admit(request, connection, sociallogin)


def memberships_of(user: User) -> list[Membership]:
    """Every membership of the account, whatever its status, with its organization and that
    organization's policy: one statement for what admission asks of them."""
    return list(Membership.objects.filter(user=user).select_related("organization__policy"))


def _in_organization(connection: Connection, memberships: list[Membership]) -> Membership | None:
    return next((m for m in memberships if m.organization_id == connection.organization_id), None)


def membership_in(connection: Connection, user: User) -> Membership | None:
    """The account's membership row in the connection's organization (one per person and
    organization), whatever its status."""
    return Membership.objects.filter(organization=connection.organization, user=user).first()


def privileged(user: User, membership: Membership | None) -> bool:
    """Accounts an organization's IdP may never sign in: Gatehouse's staff, and the owners of
    the connection's own organization (``membership``: the account's row in it, if any; its
    admins can point a connection at an IdP they run). Roles in other organizations are not a
    reason: the organization is authoritative for the addresses in its verified domains, as
    their mail server already is."""
    if user.is_staff or user.is_superuser:
        return True
    return membership is not None and membership.is_active and membership.role == Role.OWNER


def is_privileged(user: User, connection: Connection) -> bool:
    """``privileged``, reading the membership."""
    return privileged_in(user, connection.organization)


def privileged_in(user: User, org: Organization) -> bool:
    """``privileged`` in ``org``, reading the account's membership there."""
    if user.is_staff or user.is_superuser:
        return True
    return privileged(user, Membership.objects.filter(organization=org, user=user).first())


def releasable(user: User, email: str) -> bool:
    """A never-verified account gives its address up to SSO only if it plainly is one: it
    holds this address unverified, has no verified address at all, and is active in no
    organization. Anything else (an account made outside allauth, with no address rows) is
    for support, not for an IdP to settle."""
    addresses = list(EmailAddress.objects.filter(user=user).values_list("email", "verified"))
    return (
        any(a.lower() == email and not v for a, v in addresses)
        and not any(v for _, v in addresses)
        and not Membership.objects.active().filter(user=user).exists()
    )


def invited(connection: Connection, email: str) -> bool:
    """An open invitation to this organization for ``email``: with just-in-time accounts off,
    an invitation is how an admin lets someone new in, and it is accepted after this sign-in."""
    return Invitation.objects.filter(
        organization=connection.organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).exists()


# --- The second factor after SSO ----------------------------------------------------------------


def trusts_idp_mfa(request: HttpRequest, login: Any) -> bool:
    """For the second-factor stage: this SSO login already had MFA that the org trusts."""
    sociallogin = (getattr(login, "signal_kwargs", None) or {}).get("sociallogin")
    if sociallogin is None:
        return False
    connection = connection_of(sociallogin)
    if connection is None or connection.mfa_trust != MFATrust.IDP:
        return False
    admission = getattr(sociallogin, ADMISSION_ATTR, None)
    if admission is not None and admission.kind != "existing":
        return False
    # Only an identity that has already completed a sign-in, the account's own second factor
    # included, may vouch for its IdP's MFA (see IdentityConfirmation).
    account_id = getattr(sociallogin.account, "pk", None)
    if (
        account_id is None
        or not IdentityConfirmation.objects.filter(account_id=account_id).exists()
    ):
        return False
    return bool((sociallogin.state or {}).get("gatehouse_idp_mfa"))
