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

from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse

from audit.actions import Action
from config.refusals import Refusal, refusal_page
from organizations.models import LoginMethod, Membership, Organization, Role
from sso.models import Connection, connection_of

# allauth's authentication record methods, as the organization policy names them.
_METHODS = {
    "password": LoginMethod.PASSWORD,
    "password_reset": LoginMethod.PASSWORD,
    "code": LoginMethod.CODE,
    "passkey": LoginMethod.PASSKEY,
}


def login_method(request: HttpRequest, user: Any, signal_kwargs: dict) -> str | None:
    if signal_kwargs.get("sociallogin") is not None:
        return LoginMethod.SSO
    from accounts.mfa.allauth_glue import authentication_records

    records = authentication_records(request, user)
    return _METHODS.get(str(records[-1].get("method"))) if records else None


def governing_memberships(user: Any) -> list[Membership]:
    """Active, non-owner memberships in organizations that vouch for this person: their address
    is in one of the organization's verified domains, or they came in through its SSO (so that
    changing one's address to a personal one does not escape "SSO only")."""
    from allauth.socialaccount.models import SocialAccount

    if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
        return []  # Gatehouse's own staff answer to its admin policy, not a customer's
    members = Membership.objects.active().filter(user=user).exclude(role=Role.OWNER)
    if not members.exists():
        return []  # most sign-ins: one cheap indexed query, no joins
    domain = (getattr(user, "email", "") or "").rpartition("@")[2].lower()
    in_domain = Q(
        organization__domains__name=domain, organization__domains__verified_at__isnull=False
    )
    # Joined through SSO or by domain: bound even after changing to a personal address.
    through_sso = Q(source__in=[Membership.Source.SSO, Membership.Source.DOMAIN]) | Exists(
        Connection.objects.filter(
            organization=OuterRef("organization"),
            slug__in=SocialAccount.objects.filter(user=user).values("provider"),
        )
    )
    return list(
        members.filter((in_domain if domain else Q(pk__in=[])) | through_sso)
        .select_related("organization__policy")
        .distinct()
    )


def _refusal(org: Organization, sso_only: bool, method: str | None) -> dict:
    return {"org": org, "sso_only": sso_only, "method": method}


def check(request: HttpRequest, user: Any, signal_kwargs: dict) -> dict | None:
    """The rule this login breaks, if any: {"org", "sso_only", "method"}."""
    memberships = governing_memberships(user)
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
