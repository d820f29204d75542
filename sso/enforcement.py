"""An organization's sign-in rules, applied at every login (``AccountAdapter.pre_login``).

They bind the organization's members whose address lies in one of its verified domains, or who
came in through its SSO: the organization vouches for them, so it decides how they sign in.
Two rules:

- "SSO only": once the organization has an active connection, those members sign in through it,
  not by password, emailed code or passkey;
- "allowed sign-in methods": any method the organization has not allowed is refused.

Owners are exempt, so a broken IdP or a careless policy never locks an organization out of its
own settings; so are Gatehouse's staff, whom no customer's IdP may sign in. The check runs
after the credential was verified: a guesser learns nothing.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

from audit.actions import Action
from config.refusals import Refusal, refusal_page
from organizations.models import Domain, LoginMethod, Membership, Organization, Role
from sso.models import Connection, connection_of

# allauth's authentication record methods, as the organization policy names them.
_METHODS = {
    "password": LoginMethod.PASSWORD,
    "password_reset": LoginMethod.PASSWORD,
    "code": LoginMethod.CODE,
    "passkey": LoginMethod.PASSKEY,
}


def login_method(request: HttpRequest, user: Any, signal_kwargs: dict) -> str | None:
    sociallogin = signal_kwargs.get("sociallogin")
    if sociallogin is not None:
        # An organization's own connection is SSO; Google, GitHub and the like are social.
        return LoginMethod.SSO if connection_of(sociallogin) is not None else LoginMethod.SOCIAL
    from accounts.mfa.allauth_glue import authentication_records

    records = authentication_records(request, user)
    return _METHODS.get(str(records[-1].get("method"))) if records else None


# Joined through SSO or by domain: bound even after changing to a personal address.
_VOUCHED_SOURCES = frozenset({Membership.Source.SSO, Membership.Source.DOMAIN})


def governing_memberships(
    user: Any, memberships: list[Membership] | None = None
) -> list[Membership]:
    """Active, non-owner memberships in organizations that vouch for this person: their address
    is in one of the organization's verified domains, or they came in through its SSO (so that
    changing one's address to a personal one does not escape "SSO only").

    Decided in steps, each needed only when the last left the question open: whether the
    person is a member anywhere (no, for most sign-ins), their memberships, and only for those
    that did not come through SSO or the domain (every SSO sign-in's), the organizations whose
    verified domain or connection vouches for them. ``memberships``: every membership of the
    person (any status, organizations and policies selected) when the caller has read them
    already, as an SSO sign-in's admission has."""
    if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
        return []  # Gatehouse's own staff answer to its admin policy, not a customer's
    if memberships is not None:
        members = [m for m in memberships if m.is_active and m.role != Role.OWNER]
    elif not getattr(user, "pk", None) or not _may_be_governed(user.pk):
        return []  # most sign-ins
    else:
        members = list(
            Membership.objects.active()
            .filter(user=user)
            .exclude(role=Role.OWNER)
            .select_related("organization__policy")
        )
    undecided = {m.organization_id for m in members if m.source not in _VOUCHED_SOURCES}
    vouching = _vouching_organizations(user, undecided) if undecided else set()
    return [m for m in members if m.source in _VOUCHED_SOURCES or m.organization_id in vouching]


def _vouching_organizations(user: Any, organization_ids: set[int]) -> set[int]:
    """Which of these organizations vouch for the person without having let them in through
    SSO or the domain: the person's address is in one of its verified domains, or they have
    signed in through one of its connections."""
    from allauth.socialaccount.models import SocialAccount

    domain = (getattr(user, "email", "") or "").rpartition("@")[2].lower()
    vouching: set[int] = set()
    if domain:
        vouching.update(
            Domain.objects.filter(
                organization_id__in=organization_ids, name=domain, verified_at__isnull=False
            ).values_list("organization_id", flat=True)
        )
    rest = organization_ids - vouching
    if rest:
        vouching.update(
            Connection.objects.filter(
                organization_id__in=rest,
                slug__in=SocialAccount.objects.filter(user=user).values("provider"),
            ).values_list("organization_id", flat=True)
        )
    return vouching


def _may_be_governed(user_id: int) -> bool:
    """Whether the person is an active member, other than an owner, of any organization. It
    runs at every login and is no for most, so it is one plain indexed statement, written out:
    the ORM spends more time building this query than the database spends answering it."""
    with connection.cursor() as cursor:
        cursor.execute(
            _may_be_governed_sql(), [user_id, Membership.Status.ACTIVE.value, Role.OWNER.value]
        )
        return cursor.fetchone() is not None


@functools.cache
def _may_be_governed_sql() -> str:
    # Only the table name from the model's own metadata goes into the text.
    table = connection.ops.quote_name(Membership._meta.db_table)
    return (
        f"SELECT 1 FROM {table} "  # noqa: S608
        "WHERE user_id = %s AND status = %s AND role <> %s LIMIT 1"
    )


def _refusal(org: Organization, sso_only: bool, method: str | None) -> dict:
    return {"org": org, "sso_only": sso_only, "method": method}


def check(
    request: HttpRequest,
    user: Any,
    signal_kwargs: dict,
    memberships: list[Membership] | None = None,
) -> dict | None:
    """The rule this login breaks, if any: {"org", "sso_only", "method"}. ``memberships``: as
    for ``governing_memberships``."""
    memberships = governing_memberships(user, memberships)
    if not memberships:
        return None
    method = login_method(request, user, signal_kwargs)
    sociallogin = signal_kwargs.get("sociallogin")
    connection = connection_of(sociallogin) if sociallogin is not None else None
    for membership in memberships:
        org = membership.organization
        policy = getattr(org, "policy", None)
        if policy is None:
            continue
        through_own_sso = connection is not None and connection.organization_id == org.pk
        if (
            policy.sso_only
            and not through_own_sso
            and Connection.objects.for_org(org).active().exists()
        ):
            return _refusal(org, True, method)
        if method is not None and method not in policy.allowed_login_methods:
            return _refusal(org, False, method)
    return None


def refuse_unless_allowed(
    request: HttpRequest, user: Any, signal_kwargs: dict
) -> HttpResponse | None:
    """The page that refuses this login (on the record) when it breaks an organization's
    sign-in rules; None to let it proceed."""
    sociallogin = signal_kwargs.get("sociallogin")
    if getattr(sociallogin, "gatehouse_policy_checked", False):
        return None  # sso.admission.admit checked this very login before writing anything
    broken = check(request, user, signal_kwargs)
    if broken is None:
        return None
    org, sso_only = broken["org"], broken["sso_only"]
    refusal = Refusal(
        f"{org.name} asks you to sign in with its single sign-on."
        if sso_only
        else f"{org.name} does not allow this way of signing in.",
        status=403,
        action=Action.LOGIN_SSO_REQUIRED if sso_only else Action.LOGIN_METHOD_NOT_ALLOWED,
        actor_text=str(user),
        organization=org,
        target=user,
        details={"method": broken["method"]},
    )
    template = "sso/sso_required.html" if sso_only else "sso/method_not_allowed.html"
    allowed = [LoginMethod(m).label for m in org.policy.allowed_login_methods]
    return refusal_page(
        request, refusal, template=template, context={"org": org, "allowed": allowed}
    )


def new_account_refusal(org: Organization, email: str, role: str) -> dict | None:
    """The rule a new account for ``email`` would break by joining ``org`` (by invitation) with
    a password: the organization vouches for addresses in its verified domains, so it decides
    how they sign in from the very first session. Owners are exempt, as at login."""
    if role == Role.OWNER:
        return None
    domain = email.rpartition("@")[2].lower()
    if not org.domains.filter(name=domain, verified_at__isnull=False).exists():
        return None
    policy = getattr(org, "policy", None)
    if policy is None:
        return None
    if policy.sso_only and Connection.objects.for_org(org).active().exists():
        return _refusal(org, True, LoginMethod.PASSWORD)
    if LoginMethod.PASSWORD not in policy.allowed_login_methods:
        return _refusal(org, False, LoginMethod.PASSWORD)
    return None


def address_change_refusal(user: Any, new_email: str) -> str | None:
    """Why ``user`` may not move to ``new_email``, if an organization's sign-in rules bind them
    and the new address lies outside its verified domains (a way out of "SSO only")."""
    domain = new_email.rpartition("@")[2].lower()
    for membership in governing_memberships(user):
        org = membership.organization
        policy = getattr(org, "policy", None)
        if policy is None:
            continue
        restrictive = policy.sso_only or set(policy.allowed_login_methods) != {
            m.value for m in LoginMethod
        }
        if not restrictive:
            continue
        domains = set(org.domains.filter(verified_at__isnull=False).values_list("name", flat=True))
        if domain not in domains:
            allowed = ", ".join(sorted(domains)) or "its verified domains"
            return (
                f"{org.name} manages how you sign in: your address must stay at {allowed}. "
                f"Ask its admins to remove you from the organization first."
            )
    return None
